-- Cache each object's described schema, so incremental runs need not describe every time.

alter table ops.sync_state add column schema json;
alter table ops.sync_state add column schema_refreshed_at timestamptz;
comment on column ops.sync_state.schema is 'The object''s fields and types as the CRM last described them (describe / EntityDefinitions).';
comment on column ops.sync_state.schema_refreshed_at is 'When the schema was last read from the CRM; read again after the source''s schema_refresh_hours, or on --full.';

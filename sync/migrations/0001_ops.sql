-- ops: the bookkeeping of kamsync runs, cursors, API use and write-back.

create schema if not exists kam;

create table ops.sync_runs (
    run_id varchar primary key,
    job varchar not null,
    source varchar,
    started_at timestamptz not null,
    finished_at timestamptz,
    status varchar not null,
    api_calls bigint not null default 0,
    rows_written bigint not null default 0,
    error varchar,
    kamsync_version varchar not null
);
comment on table ops.sync_runs is 'One row per kamsync job run (sync, analyze, writeback): when, how it ended, what it cost.';
comment on column ops.sync_runs.run_id is 'Unique id of the run; also stamped on every row the run lands (_run_id).';
comment on column ops.sync_runs.job is 'Job kind: sync, analyze or writeback.';
comment on column ops.sync_runs.source is 'Configured source the run worked on; NULL when it covered all sources.';
comment on column ops.sync_runs.started_at is 'When the run started.';
comment on column ops.sync_runs.finished_at is 'When the run ended; NULL while running or when killed.';
comment on column ops.sync_runs.status is 'running, succeeded, failed, or budget_stopped (stopped before passing the API budget).';
comment on column ops.sync_runs.api_calls is 'CRM API calls the run made.';
comment on column ops.sync_runs.rows_written is 'Rows the run landed, computed or pushed.';
comment on column ops.sync_runs.error is 'Why the run failed, in words; NULL on success.';
comment on column ops.sync_runs.kamsync_version is 'kamsync version that ran the job.';

create table ops.sync_run_objects (
    run_id varchar not null,
    source varchar not null,
    object varchar not null,
    method varchar,
    started_at timestamptz not null,
    finished_at timestamptz,
    status varchar not null,
    pages bigint not null default 0,
    rows_upserted bigint not null default 0,
    rows_deleted bigint not null default 0,
    api_calls bigint not null default 0,
    error varchar,
    primary key (run_id, source, object)
);
comment on table ops.sync_run_objects is 'One row per object a sync run read: method, pages, rows, API calls and outcome.';
comment on column ops.sync_run_objects.run_id is 'The run (ops.sync_runs.run_id).';
comment on column ops.sync_run_objects.source is 'Configured source name.';
comment on column ops.sync_run_objects.object is 'CRM object or table, e.g. Account or account.';
comment on column ops.sync_run_objects.method is 'How it was read: rest, bulk, delta (change tracking) or filter.';
comment on column ops.sync_run_objects.started_at is 'When reading the object started.';
comment on column ops.sync_run_objects.finished_at is 'When reading the object ended.';
comment on column ops.sync_run_objects.status is 'running, succeeded, failed or budget_stopped.';
comment on column ops.sync_run_objects.pages is 'Pages landed and checkpointed.';
comment on column ops.sync_run_objects.rows_upserted is 'Records inserted or updated in the raw table.';
comment on column ops.sync_run_objects.rows_deleted is 'Records marked deleted (_is_deleted) in the raw table.';
comment on column ops.sync_run_objects.api_calls is 'CRM API calls spent on this object.';
comment on column ops.sync_run_objects.error is 'Why reading the object failed; NULL on success.';

create table ops.sync_state (
    source varchar not null,
    object varchar not null,
    cursor json,
    checkpoint json,
    last_success_at timestamptz,
    last_full_sync_at timestamptz,
    updated_at timestamptz not null,
    run_id varchar,
    primary key (source, object)
);
comment on table ops.sync_state is 'Where each object''s extraction stands; moved in the same transaction as the page it describes.';
comment on column ops.sync_state.source is 'Configured source name.';
comment on column ops.sync_state.object is 'CRM object or table.';
comment on column ops.sync_state.cursor is 'Committed incremental cursor (e.g. last SystemModstamp and the ids sharing it, or a delta link).';
comment on column ops.sync_state.checkpoint is 'In-flight position of an unfinished extraction (page locator or next link); NULL when complete.';
comment on column ops.sync_state.last_success_at is 'When the object last finished an extraction.';
comment on column ops.sync_state.last_full_sync_at is 'When the object last finished a full extraction.';
comment on column ops.sync_state.updated_at is 'When this row last moved.';
comment on column ops.sync_state.run_id is 'The run that last moved this row.';

create table ops.api_usage (
    run_id varchar not null,
    source varchar not null,
    observed_at timestamptz not null,
    calls_made bigint not null,
    org_used bigint,
    org_limit bigint,
    budget_percent double,
    detail varchar
);
comment on table ops.api_usage is 'API consumption seen during runs: our calls and the org''s daily counter where the CRM reports one.';
comment on column ops.api_usage.run_id is 'The run (ops.sync_runs.run_id).';
comment on column ops.api_usage.source is 'Configured source name.';
comment on column ops.api_usage.observed_at is 'When the numbers were read.';
comment on column ops.api_usage.calls_made is 'API calls kamsync made in this run so far.';
comment on column ops.api_usage.org_used is 'Daily API requests used by the whole org (Sforce-Limit-Info or /limits); NULL when unknown.';
comment on column ops.api_usage.org_limit is 'Daily API request limit of the org; NULL when unknown.';
comment on column ops.api_usage.budget_percent is 'The api_budget_percent in force.';
comment on column ops.api_usage.detail is 'Raw usage header as sent by the CRM (e.g. x-ms-ratelimit-* values).';

create table ops.writeback_ledger (
    source varchar not null,
    external_id varchar not null,
    target_object varchar not null,
    account_key varchar not null,
    crm_record_id varchar,
    payload_hash varchar not null,
    payload json not null,
    confirmed_at timestamptz not null,
    run_id varchar not null,
    primary key (source, external_id)
);
comment on table ops.writeback_ledger is 'Last payload the CRM confirmed per score record; only rows whose payload differs are pushed again.';
comment on column ops.writeback_ledger.source is 'Configured source name.';
comment on column ops.writeback_ledger.external_id is 'Deterministic external id of the score record (KAM_Ext_Id__c / kam_extid).';
comment on column ops.writeback_ledger.target_object is 'Custom object written: KAM_Account_Score__c or kam_accountscore.';
comment on column ops.writeback_ledger.account_key is 'Scored account (crm.accounts.account_key).';
comment on column ops.writeback_ledger.crm_record_id is 'Id the CRM gave the score record.';
comment on column ops.writeback_ledger.payload_hash is 'SHA-256 of the payload normalised the way the CRM stores it.';
comment on column ops.writeback_ledger.payload is 'The confirmed payload, field name to value.';
comment on column ops.writeback_ledger.confirmed_at is 'When the CRM confirmed the write.';
comment on column ops.writeback_ledger.run_id is 'The write-back run that pushed it.';

create table ops.writeback_log (
    run_id varchar not null,
    source varchar not null,
    external_id varchar not null,
    action varchar not null,
    status varchar not null,
    before json,
    after json,
    error_code varchar,
    error_message varchar,
    logged_at timestamptz not null
);
comment on table ops.writeback_log is 'Outcome of every row a write-back run tried to push.';
comment on column ops.writeback_log.run_id is 'The write-back run.';
comment on column ops.writeback_log.source is 'Configured source name.';
comment on column ops.writeback_log.external_id is 'External id of the score record.';
comment on column ops.writeback_log.action is 'create or update.';
comment on column ops.writeback_log.status is 'success, failed or unprocessed.';
comment on column ops.writeback_log.before is 'Field values before the push (from the ledger or the CRM); NULL for a create.';
comment on column ops.writeback_log.after is 'Field values sent.';
comment on column ops.writeback_log.error_code is 'The CRM''s error code when the row failed.';
comment on column ops.writeback_log.error_message is 'The CRM''s error message when the row failed or was not processed.';
comment on column ops.writeback_log.logged_at is 'When the outcome was recorded.';

-- Write-back outcomes say which API carried each row, to which object, and the CRM's record id.

alter table ops.writeback_log add column method varchar;
alter table ops.writeback_log add column target_object varchar;
alter table ops.writeback_log add column crm_record_id varchar;
comment on column ops.writeback_log.method is 'API that carried the row: collections or bulk (Salesforce), upsert_multiple or batch (Dataverse); NULL when it was not sent.';
comment on column ops.writeback_log.target_object is 'Custom object written: KAM_Account_Score__c or kam_accountscore (or the configured rename).';
comment on column ops.writeback_log.crm_record_id is 'Id of the score record in the CRM, when the CRM reported one.';

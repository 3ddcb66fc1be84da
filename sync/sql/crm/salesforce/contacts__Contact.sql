-- crm.contacts from Salesforce Contact (renamed here; the rest is common/contacts.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as contact_id,
        {{c:AccountId}} as account_id,
        {{c:Name}} as contact_name,
        {{c:Title}} as title,
        {{f:buying_role}} as buying_role_label,
        {{c:Email}} as email,
        {{c:SystemModstamp}} as modified_at
    from source
),

{{final}}

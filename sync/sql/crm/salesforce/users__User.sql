-- crm.users from Salesforce User (renamed here; the rest is common/users.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as user_id,
        {{c:Name}} as user_name,
        {{c:Email}} as email,
        {{c:Country}} as country,
        {{f:user_region}} as crm_region,
        {{f:user_territory}} as crm_territory,
        {{c:IsActive}} as is_active
    from source
),

{{final}}

-- crm.users from Dataverse systemuser (a blank region or territory is none; renamed here,
-- the rest is common/users.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:systemuserid}} as user_id,
        {{c:fullname}} as user_name,
        {{c:internalemailaddress}} as email,
        {{c:address1_country}} as country,
        nullif(trim({{f:user_region}}), '') as crm_region,
        nullif(trim({{f:user_territory}}), '') as crm_territory,
        not coalesce({{c:isdisabled}}, false) as is_active
    from source
),

{{final}}

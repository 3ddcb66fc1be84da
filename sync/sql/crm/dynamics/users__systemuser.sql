-- crm.users from Dataverse systemuser
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
        {{f:user_region}} as crm_region,
        {{f:user_territory}} as crm_territory,
        {{c:isdisabled}} as is_disabled
    from source
),

final as (
    select
        '{{source}}:' || renamed.user_id as user_key,
        '{{source}}' as source,
        renamed.user_id as source_id,
        renamed.user_name as name,
        renamed.email,
        coalesce(nullif(trim(renamed.crm_region), ''), regions.region) as region,
        nullif(trim(renamed.crm_territory), '') as territory,
        not coalesce(renamed.is_disabled, false) as is_active
    from renamed
    left join _kamsync_regions as regions on regions.country = renamed.country
)

select * from final

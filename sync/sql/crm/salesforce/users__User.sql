-- crm.users from Salesforce User
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

final as (
    select
        '{{source}}:' || renamed.user_id as user_key,
        '{{source}}' as source,
        renamed.user_id as source_id,
        renamed.user_name as name,
        renamed.email,
        coalesce(renamed.crm_region, regions.region) as region,
        renamed.crm_territory as territory,
        renamed.is_active
    from renamed
    left join _kamsync_regions as regions on regions.country = renamed.country
)

select * from final

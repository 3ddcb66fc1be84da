-- crm.users, shared by every CRM: completes a <kind>/users__<Object>.sql model, whose `renamed`
-- CTE has one row per live user in these columns: user_id, user_name, email, country,
-- crm_region and crm_territory (from the mapped fields, NULL when not set), is_active
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

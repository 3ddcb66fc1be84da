-- crm.accounts, shared by every CRM: completes a <kind>/accounts__<Object>.sql model, whose
-- `renamed` CTE has one row per live account in these columns: account_id, account_name,
-- parent_id, owner_id, industry, country, city, annual_revenue, employees, wallet_estimate_crm,
-- global_match_key, market_position_score, innovation_orientation_score,
-- strategy_influence_score, operational_complexity_score, created_at, modified_at
owners as (
    select * from crm.users
    where source = '{{source}}'
),

final as (
    select
        '{{source}}:' || renamed.account_id as account_key,
        '{{source}}' as source,
        renamed.account_id as source_id,
        renamed.account_name as name,
        case when renamed.parent_id is not null then '{{source}}:' || renamed.parent_id end
            as parent_account_key,
        case when renamed.owner_id is not null then '{{source}}:' || renamed.owner_id end
            as owner_user_key,
        nullif(trim(renamed.industry), '') as industry,
        renamed.country,
        renamed.city,
        coalesce(owners.region, regions.region) as region,
        owners.territory,
        renamed.annual_revenue,
        renamed.employees,
        renamed.wallet_estimate_crm,
        nullif(trim(cast(renamed.global_match_key as varchar)), '') as global_match_key,
        renamed.market_position_score,
        renamed.innovation_orientation_score,
        renamed.strategy_influence_score,
        renamed.operational_complexity_score,
        renamed.created_at,
        renamed.modified_at
    from renamed
    left join owners on owners.source_id = renamed.owner_id
    left join _kamsync_regions as regions on regions.country = renamed.country
)

select * from final

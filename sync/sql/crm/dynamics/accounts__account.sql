-- crm.accounts from Dataverse account (industry as its choice label)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

owners as (
    select * from crm.users
    where source = '{{source}}'
),

renamed as (
    select
        {{c:accountid}} as account_id,
        {{c:name}} as account_name,
        {{c:parentaccountid}} as parent_id,
        {{c:ownerid}} as owner_id,
        {{c:industrycodename}} as industry,
        {{c:address1_country}} as country,
        {{c:address1_city}} as city,
        {{c:revenue}} as annual_revenue,
        {{c:numberofemployees}} as employees,
        {{f:wallet_estimate}} as wallet_estimate_crm,
        {{f:global_match_key}} as global_match_key,
        {{f:market_position}} as market_position_score,
        {{f:innovation_orientation}} as innovation_orientation_score,
        {{f:strategy_influence}} as strategy_influence_score,
        {{f:operational_complexity}} as operational_complexity_score,
        {{c:createdon}} as created_at,
        {{c:modifiedon}} as modified_at
    from source
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

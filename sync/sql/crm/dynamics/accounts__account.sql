-- crm.accounts from Dataverse account (industry as its choice label; renamed here, the rest
-- is common/accounts.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
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

{{final}}

-- crm.accounts from Salesforce Account (renamed here; the rest is common/accounts.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as account_id,
        {{c:Name}} as account_name,
        {{c:ParentId}} as parent_id,
        {{c:OwnerId}} as owner_id,
        {{c:Industry}} as industry,
        {{c:BillingCountry}} as country,
        {{c:BillingCity}} as city,
        {{c:AnnualRevenue}} as annual_revenue,
        {{c:NumberOfEmployees}} as employees,
        {{f:wallet_estimate}} as wallet_estimate_crm,
        {{f:global_match_key}} as global_match_key,
        {{f:market_position}} as market_position_score,
        {{f:innovation_orientation}} as innovation_orientation_score,
        {{f:strategy_influence}} as strategy_influence_score,
        {{f:operational_complexity}} as operational_complexity_score,
        {{c:CreatedDate}} as created_at,
        {{c:SystemModstamp}} as modified_at
    from source
),

{{final}}

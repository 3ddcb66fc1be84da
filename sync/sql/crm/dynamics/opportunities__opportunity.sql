-- crm.opportunities from Dataverse opportunity: statecode 0 open, 1 won, 2 lost; the amount is
-- the actual revenue once won, else the estimated revenue; probability is a percentage there
-- (renamed here, the rest is common/opportunities.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

fields as (
    select
        {{c:opportunityid}} as opportunity_id,
        {{c:parentaccountid}} as parent_account_id,
        {{c:customerid}} as customer_id,
        lower(coalesce({{c:customeridtype}}, '')) as customer_type,
        {{c:ownerid}} as owner_id,
        {{c:name}} as opportunity_name,
        {{c:stepname}} as stage,
        {{c:estimatedvalue}} as estimated_value,
        {{c:actualvalue}} as actual_value,
        {{c:closeprobability}} as probability_percent,
        {{c:statecode}} as state,
        {{c:estimatedclosedate}} as estimated_close,
        {{c:actualclosedate}} as actual_close,
        {{c:msdyn_forecastcategoryname}} as forecast_category_label,
        {{c:createdon}} as created_at,
        {{c:modifiedon}} as modified_at
    from source
),

renamed as (
    select
        opportunity_id,
        case
            when parent_account_id is not null then parent_account_id
            when customer_type = 'account' then customer_id
        end as account_id,
        owner_id,
        opportunity_name,
        stage,
        case when state = 1 then coalesce(actual_value, estimated_value) else estimated_value end
            as amount,
        probability_percent,
        state in (1, 2) as is_closed,
        state = 1 as is_won,
        cast(case when state in (1, 2) then coalesce(actual_close, estimated_close)
            else estimated_close end as date) as close_date,
        case replace(lower(trim(forecast_category_label)), ' ', '_')
            when 'pipeline' then 'pipeline'
            when 'best_case' then 'best_case'
            when 'committed' then 'commit'
            when 'commit' then 'commit'
            when 'omitted' then 'omitted'
            when 'won' then 'closed'
            when 'lost' then 'omitted'
        end as forecast_category,
        created_at,
        modified_at
    from fields
),

{{final}}

-- crm.opportunities from Salesforce Opportunity (Probability is a percentage there; renamed
-- here, the rest is common/opportunities.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as opportunity_id,
        {{c:AccountId}} as account_id,
        {{c:OwnerId}} as owner_id,
        {{c:Name}} as opportunity_name,
        {{c:StageName}} as stage,
        {{c:Amount}} as amount,
        {{c:Probability}} as probability_percent,
        {{c:IsClosed}} as is_closed,
        {{c:IsWon}} as is_won,
        {{c:CloseDate}} as close_date,
        case replace(lower(trim({{c:ForecastCategoryName}})), ' ', '_')
            when 'pipeline' then 'pipeline'
            when 'best_case' then 'best_case'
            when 'bestcase' then 'best_case'
            when 'commit' then 'commit'
            when 'forecast' then 'commit'
            when 'closed' then 'closed'
            when 'omitted' then 'omitted'
        end as forecast_category,
        {{c:CreatedDate}} as created_at,
        {{c:SystemModstamp}} as modified_at
    from source
),

{{final}}

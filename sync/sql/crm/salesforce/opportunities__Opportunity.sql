-- crm.opportunities from Salesforce Opportunity (Probability is a percentage there)
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
        {{c:ForecastCategoryName}} as forecast_category_label,
        {{c:CreatedDate}} as created_at,
        {{c:SystemModstamp}} as modified_at
    from source
),

final as (
    select
        '{{source}}:' || opportunity_id as opportunity_key,
        '{{source}}' as source,
        opportunity_id as source_id,
        case when account_id is not null then '{{source}}:' || account_id end as account_key,
        case when owner_id is not null then '{{source}}:' || owner_id end as owner_user_key,
        opportunity_name as name,
        stage,
        amount,
        probability_percent / 100.0 as probability,
        coalesce(is_closed, false) as is_closed,
        coalesce(is_won, false) as is_won,
        close_date,
        case replace(lower(trim(forecast_category_label)), ' ', '_')
            when 'pipeline' then 'pipeline'
            when 'best_case' then 'best_case'
            when 'bestcase' then 'best_case'
            when 'commit' then 'commit'
            when 'forecast' then 'commit'
            when 'closed' then 'closed'
            when 'omitted' then 'omitted'
        end as forecast_category,
        created_at,
        modified_at
    from renamed
)

select * from final

-- crm.opportunities, shared by every CRM: completes a <kind>/opportunities__<Object>.sql model,
-- whose `renamed` CTE has one row per live opportunity in these columns: opportunity_id,
-- account_id, owner_id, opportunity_name, stage, amount, probability_percent (0-100),
-- is_closed, is_won, close_date, forecast_category (already one of kamsync's words: pipeline,
-- best_case, commit, closed, omitted), created_at, modified_at
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
        forecast_category,
        created_at,
        modified_at
    from renamed
)

select * from final

-- materialized: append
-- The scores of this run, appended to kam.score_history (created by bootstrap.sql): one
-- snapshot per analyze run and account, so changes can be followed over time.

with

scores as (

    select * from {{ ref('account_scores') }}

),

final as (

    select
        run_id,
        scored_at,
        as_of_date,
        account_key,
        tier,
        level,
        pareto_class,
        triage_score,
        health_score,
        health_band,
        wallet_estimate,
        wallet_source,
        wallet_share,
        headroom,
        our_revenue_ttm,
        recommended_calls_per_month as call_target_per_month,
        call_compliance,
        days_since_last_contact,
        explanation
    from scores

)

select * from final

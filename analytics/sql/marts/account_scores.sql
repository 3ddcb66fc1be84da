-- One row per live account: the write-back payload (SPEC section 7). Scores: tier, health, wallet,
-- top three whitespace families with their expected value, call actual and compliance, days
-- since contact, explanation, scored-at. Plan fields: plan period, revenue target, forecast
-- (won so far plus weighted open pipeline in the period) and gap to target, recommended call
-- cycle and next due date, focus product families, next review date.

with

accounts as (

    select account_id, account_key, source, source_id, account_name from {{ ref('stg_accounts') }}

),

key_accounts as (

    select * from {{ ref('key_accounts') }}

),

health as (

    select * from {{ ref('account_health') }}

),

wallet as (

    -- what kam.wallet_share shows, joined on the integer account_id
    select * from {{ ref('int_account_wallet') }}

),

calls as (

    select * from {{ ref('call_frequency') }}

),

tiers as (

    select * from {{ ref('param_tiers') }}

),

peers as (

    select account_id, peer_group from {{ ref('int_account_peer_groups') }}

),

taken as (

    select * from {{ ref('int_account_taken_families') }}

),

gap_candidates as (

    -- per peer group, the families with an expected value, in the order gaps are ranked in
    select
        peer_group,
        list(
            {
                'position': family_position,
                'family': product_family,
                'value': expected_value
            }
            order by family_position
        ) as candidates
    from {{ ref('int_peer_family_order') }}
    where expected_value > 0
    group by peer_group

),

top_gaps as (

    -- the whitespace mart's gaps ranked 1 to 3 with an expected value: the first three
    -- candidates of the account's peer group that it neither owns nor has in pipeline
    select
        peers.account_id,
        list_filter(
            gap_candidates.candidates,
            lambda candidate: not coalesce(
                list_contains(taken.taken_positions, candidate.position), false
            )
        )[1:3] as gaps
    from peers
    inner join gap_candidates on gap_candidates.peer_group = peers.peer_group
    left join taken on taken.account_id = peers.account_id

),

plan as (

    select
        entity_key as account_key,
        actual,
        forecast,
        target
    from {{ ref('performance') }}
    where
        entity_level = 'account'
        and period_grain = {{ var('plan_period') }}
        and period_start = {{ var('plan_period_start_date') }}

),

final as (

    select
        accounts.account_key,
        accounts.source,
        accounts.source_id,
        accounts.account_name,
        key_accounts.group_key,
        key_accounts.tier,
        key_accounts.level,
        key_accounts.pareto_class,
        key_accounts.triage_score,
        health.health_score,
        health.health_band,
        health.health_score_change,
        wallet.wallet_estimate,
        wallet.wallet_source,
        wallet.share as wallet_share,
        wallet.headroom,
        wallet.our_revenue_ttm,
        top_gaps.gaps[1].family as whitespace_1_family,
        top_gaps.gaps[1].value as whitespace_1_value,
        top_gaps.gaps[2].family as whitespace_2_family,
        top_gaps.gaps[2].value as whitespace_2_value,
        top_gaps.gaps[3].family as whitespace_3_family,
        top_gaps.gaps[3].value as whitespace_3_value,
        calls.actual_last_30d as call_actual_last_30d,
        calls.compliance as call_compliance,
        calls.last_contact_date,
        calls.days_since_last_contact,
        health.explanation,
        {{ var('plan_period_label') }} as plan_period,
        {{ var('plan_period_start_date') }} as plan_period_start,
        {{ var('plan_period_end_date') }} as plan_period_end,
        plan.target as revenue_target,
        coalesce(plan.actual, 0.0) as period_actual,
        coalesce(plan.actual, 0.0) + coalesce(plan.forecast, 0.0) as period_forecast,
        plan.target - (coalesce(plan.actual, 0.0) + coalesce(plan.forecast, 0.0))
            as gap_to_target,
        calls.target_per_month as recommended_calls_per_month,
        calls.next_due_date as next_call_due_date,
        nullif(
            concat_ws(
                ', ',
                top_gaps.gaps[1].family,
                top_gaps.gaps[2].family,
                top_gaps.gaps[3].family
            ),
            ''
        ) as focus_product_families,
        {{ var('as_of_date') }}
        + case
            when health.health_band = 'red'
                then least(tiers.review_days, {{ var('review_days_red') }})
            else tiers.review_days
        end as next_review_date,
        {{ var('as_of_date') }} as as_of_date,
        {{ var('scored_at') }} as scored_at,
        {{ var('run_id') }} as run_id
    from accounts
    inner join key_accounts on key_accounts.account_key = accounts.account_key
    inner join health on health.account_key = accounts.account_key
    inner join wallet on wallet.account_id = accounts.account_id
    inner join calls on calls.account_key = accounts.account_key
    inner join tiers on tiers.tier = key_accounts.tier
    left join top_gaps on top_gaps.account_id = accounts.account_id
    left join plan on plan.account_key = accounts.account_key

)

select * from final

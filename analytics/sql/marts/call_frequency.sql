-- One row per account: target touches per month for its tier, completed calls, meetings and
-- visits (touches) against it, compliance, last contact, next due date and decision-maker
-- coverage. Targets of one touch a month or more are measured over the last 30 days; lower
-- ones (maintain: one a quarter) over the engagement window, so a quarterly rhythm can comply.

with

activity as (

    select * from {{ ref('int_account_activity') }}

),

tiers as (

    select account_key, tier from {{ ref('key_accounts') }}

),

targets as (

    select tier, target_per_month from {{ ref('param_tiers') }}

),

measured as (

    select
        activity.*,
        tiers.tier,
        targets.target_per_month,
        case
            when targets.target_per_month >= 1 then 30 else {{ var('engagement_days') }}
        end as compliance_window_days,
        case
            when targets.target_per_month >= 1 then activity.touches_last_30d
            else activity.touches_engagement
        end as touches_in_window,
        case
            when targets.target_per_month > 0
                then cast(ceil(round(30 / targets.target_per_month, 9)) as integer)
        end as touch_interval_days
    from activity
    inner join tiers on tiers.account_key = activity.account_key
    inner join targets on targets.tier = tiers.tier

),

final as (

    select
        account_key,
        tier,
        target_per_month,
        touches_last_30d as actual_last_30d,
        compliance_window_days,
        touches_in_window,
        touches_in_window * 30 / compliance_window_days as actual_per_month,
        case
            when target_per_month > 0
                then least(1.0, touches_in_window * 30 / compliance_window_days / target_per_month)
        end as compliance,
        last_contact_date,
        {{ var('as_of_date') }} - last_contact_date as days_since_last_contact,
        last_touch_date,
        touch_interval_days,
        case
            when target_per_month > 0
                then coalesce(last_touch_date + touch_interval_days, {{ var('as_of_date') }})
        end as next_due_date,
        case
            when target_per_month > 0
                then last_touch_date is null
                or last_touch_date + touch_interval_days < {{ var('as_of_date') }}
            else false
        end as is_overdue,
        case
            when target_per_month > 0 and last_touch_date is not null
                then greatest(
                    0, {{ var('as_of_date') }} - (last_touch_date + touch_interval_days)
                )
        end as days_overdue,
        decision_makers_on_file,
        decision_makers_engaged,
        case
            when decision_makers_on_file > 0
                then least(1.0, decision_makers_engaged / decision_makers_on_file)
        end as decision_maker_coverage
    from measured

)

select * from final

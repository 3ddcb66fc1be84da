-- The one full pass over activities, per account: the latest contact and touch, contacts in the
-- engagement window and the one before it, and touches in the call windows. Every figure counts
-- contacts (touches are the contacts that are not e-mails), so only contacts are aggregated:
-- the other activities are dropped by the scan instead of being grouped and filtered out again.

with

contacts as (

    select
        account_key,
        activity_date,
        is_touch
    from {{ ref('stg_activities') }}
    where is_contact

),

final as (

    select
        account_key,
        max(activity_date) as last_contact_date,
        max(activity_date) filter (where is_touch) as last_touch_date,
        count(*) filter (
            where activity_date >= {{ var('engagement_start_date') }}
        ) as contacts_engagement,
        count(*) filter (
            where activity_date
            between {{ var('prior_engagement_start_date') }}
            and {{ var('prior_engagement_end_date') }}
        ) as contacts_prior_engagement,
        count(*) filter (
            where is_touch and activity_date >= {{ var('call_window_start_date') }}
        ) as touches_last_30d,
        count(*) filter (
            where is_touch and activity_date >= {{ var('engagement_start_date') }}
        ) as touches_engagement
    from contacts
    group by account_key

)

select * from final

-- The one full pass over activities, per account: the latest contact and touch, contacts in the
-- engagement window and the one before it, and touches in the call windows.

with

activities as (

    select * from {{ ref('stg_activities') }}

),

final as (

    select
        account_key,
        max(activity_date) filter (where is_contact) as last_contact_date,
        max(activity_date) filter (where is_touch) as last_touch_date,
        count(*) filter (
            where is_contact and activity_date >= {{ var('engagement_start_date') }}
        ) as contacts_engagement,
        count(*) filter (
            where is_contact
            and activity_date
            between {{ var('prior_engagement_start_date') }}
            and {{ var('prior_engagement_end_date') }}
        ) as contacts_prior_engagement,
        count(*) filter (
            where is_touch and activity_date >= {{ var('call_window_start_date') }}
        ) as touches_last_30d,
        count(*) filter (
            where is_touch and activity_date >= {{ var('engagement_start_date') }}
        ) as touches_engagement
    from activities
    group by account_key

)

select * from final

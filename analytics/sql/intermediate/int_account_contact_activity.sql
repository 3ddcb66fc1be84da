-- The one pass over activities: per account and contact (contact_key NULL for activities with
-- nobody named), the latest contact and touch, and counts in the engagement windows.

with

activities as (

    select * from {{ ref('stg_activities') }}

),

final as (

    select
        account_key,
        contact_key,
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
        ) as touches_engagement,
        coalesce(
            bool_or(is_contact and activity_date >= {{ var('relationship_start_date') }}), false
        ) as is_engaged_relationship
    from activities
    group by account_key, contact_key

)

select * from final

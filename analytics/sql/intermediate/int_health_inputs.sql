-- The facts each health component is scored from, per account, with the relationship target
-- that applies to its tier (contacts_target_max for key accounts, contacts_target_min for the
-- others).

with

activity as (

    select * from {{ ref('int_account_activity') }}

),

revenue as (

    select * from {{ ref('int_account_revenue') }}

),

tiers as (

    select account_key, tier from {{ ref('key_accounts') }}

),

final as (

    select
        activity.account_key,
        tiers.tier,
        activity.last_contact_date,
        {{ var('as_of_date') }} - activity.last_contact_date as days_since_last_contact,
        activity.contacts_engagement,
        activity.contacts_prior_engagement,
        activity.contacts_engaged,
        case
            when tiers.tier = 'key' then {{ var('contacts_target_max') }}
            else {{ var('contacts_target_min') }}
        end as contacts_target,
        activity.decision_makers_engaged,
        activity.decision_makers_on_file,
        revenue.revenue_ttm,
        revenue.revenue_prior_ttm,
        revenue.open_pipeline_amount,
        revenue.won_count_ttm,
        revenue.lost_count_ttm
    from activity
    inner join revenue on revenue.account_key = activity.account_key
    inner join tiers on tiers.account_key = activity.account_key

)

select * from final

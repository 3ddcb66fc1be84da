-- Every health component of every account, side by side: the raw value each is scored from,
-- its score (0-100) and its state in plain words. Inputs come per account from the activity and
-- revenue models; the relationship target depends on the tier (contacts_target_max for key
-- accounts, contacts_target_min for the others). Unmeasurable win rate or revenue trend scores
-- neutral_score.

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

inputs as (

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
    inner join revenue on revenue.account_id = activity.account_id
    inner join tiers on tiers.account_key = activity.account_key

),

final as (

    select
        account_key,
        cast(days_since_last_contact as double) as engagement_recency_raw,
        case
            when last_contact_date is null then 0.0
            else 100 * least(
                1.0,
                greatest(
                    0.0,
                    ({{ var('engagement_days') }} - days_since_last_contact)
                    / ({{ var('engagement_days') }} - {{ var('recency_full_days') }})
                )
            )
        end as engagement_recency_score,
        case
            when last_contact_date is null then 'no contact on record'
            when days_since_last_contact = 0 then 'last contact today'
            when days_since_last_contact <= {{ var('recency_full_days') }}
                then format('last contact {} days ago', days_since_last_contact)
            else format('no contact in {} days', days_since_last_contact)
        end as engagement_recency_detail,
        case
            when contacts_prior_engagement > 0
                then contacts_engagement / contacts_prior_engagement
        end as activity_trend_raw,
        case
            when contacts_prior_engagement > 0
                then 100 * least(1.0, contacts_engagement / contacts_prior_engagement)
            when contacts_engagement > 0 then 100.0
            else 0.0
        end as activity_trend_score,
        case
            when contacts_prior_engagement = 0 and contacts_engagement = 0
                then format('no contact in the last {} days', 2 * {{ var('engagement_days') }})
            when contacts_prior_engagement = 0
                then format(
                    'contacts picked up: {} in the last {} days, none in the {} before',
                    contacts_engagement,
                    {{ var('engagement_days') }},
                    {{ var('engagement_days') }}
                )
            when contacts_engagement < contacts_prior_engagement
                then format(
                    'contacts down from {} to {} (last {} days against the {} before)',
                    contacts_prior_engagement,
                    contacts_engagement,
                    {{ var('engagement_days') }},
                    {{ var('engagement_days') }}
                )
            else format(
                'contacts steady or up: {} in the last {} days against {} before',
                contacts_engagement,
                {{ var('engagement_days') }},
                contacts_prior_engagement
            )
        end as activity_trend_detail,
        cast(contacts_engaged as double) as relationship_breadth_raw,
        100 * (
            (1 - {{ var('decision_maker_weight') }})
            * least(1.0, contacts_engaged / contacts_target)
            + {{ var('decision_maker_weight') }}
            * case
                when decision_makers_on_file > 0
                    then least(1.0, decision_makers_engaged / decision_makers_on_file)
                else 0.0
            end
        ) as relationship_breadth_score,
        coalesce(
            nullif(
                concat_ws(
                    ', ',
                    case
                        when decision_makers_on_file = 0 then 'no decision maker on file'
                        when decision_makers_engaged = 0
                            then format(
                                'no decision maker engaged ({} on file)', decision_makers_on_file
                            )
                        when decision_makers_engaged < decision_makers_on_file
                            then format(
                                'only {} of {} decision makers engaged',
                                decision_makers_engaged,
                                decision_makers_on_file
                            )
                    end,
                    case
                        when contacts_engaged = 0
                            then format(
                                'nobody engaged in {} days (target {} contacts)',
                                {{ var('relationship_days') }},
                                contacts_target
                            )
                        when contacts_engaged < contacts_target
                            then format(
                                'only {} of {} target contacts engaged in {} days',
                                contacts_engaged,
                                contacts_target,
                                {{ var('relationship_days') }}
                            )
                    end
                ),
                ''
            ),
            format(
                '{} contacts engaged in {} days, every decision maker among them',
                contacts_engaged,
                {{ var('relationship_days') }}
            )
        ) as relationship_breadth_detail,
        case when revenue_ttm > 0 then open_pipeline_amount / revenue_ttm end as pipeline_coverage_raw,
        case
            when revenue_ttm > 0
                then 100 * least(
                    1.0, open_pipeline_amount / revenue_ttm / {{ var('pipeline_coverage_target') }}
                )
            when open_pipeline_amount > 0 then 100.0
            else 0.0
        end as pipeline_coverage_score,
        case
            when open_pipeline_amount = 0 then 'no open pipeline'
            when revenue_ttm = 0
                then format(
                    'open pipeline of {:,.0f} and no revenue in the last {} days',
                    open_pipeline_amount,
                    {{ var('ttm_days') }}
                )
            else format(
                'open pipeline covers {}% of TTM revenue (target {}%)',
                cast(round(100 * open_pipeline_amount / revenue_ttm) as bigint),
                cast(round(100 * {{ var('pipeline_coverage_target') }}) as bigint)
            )
        end as pipeline_coverage_detail,
        case
            when won_count_ttm + lost_count_ttm > 0
                then won_count_ttm / (won_count_ttm + lost_count_ttm)
        end as win_rate_raw,
        case
            when won_count_ttm + lost_count_ttm = 0 then {{ var('neutral_score') }}
            else 100 * least(
                1.0,
                won_count_ttm / (won_count_ttm + lost_count_ttm) / {{ var('win_rate_target') }}
            )
        end as win_rate_score,
        case
            when won_count_ttm + lost_count_ttm = 0
                then format('no opportunity closed in the last {} days', {{ var('ttm_days') }})
            else format(
                'won {} of {} opportunities closed in the last {} days',
                won_count_ttm,
                won_count_ttm + lost_count_ttm,
                {{ var('ttm_days') }}
            )
        end as win_rate_detail,
        case
            when revenue_prior_ttm > 0 then (revenue_ttm - revenue_prior_ttm) / revenue_prior_ttm
        end as revenue_trend_raw,
        case
            when revenue_prior_ttm > 0 then 100 * least(1.0, revenue_ttm / revenue_prior_ttm)
            when revenue_ttm > 0 then 100.0
            else {{ var('neutral_score') }}
        end as revenue_trend_score,
        case
            when revenue_prior_ttm = 0 and revenue_ttm = 0
                then format('no revenue in the last {} days', 2 * {{ var('ttm_days') }})
            when revenue_prior_ttm = 0
                then format('new revenue: none in the {} days before', {{ var('ttm_days') }})
            when revenue_ttm < revenue_prior_ttm
                then format(
                    'revenue down {}% on the {} days before',
                    cast(round(100 * (revenue_prior_ttm - revenue_ttm) / revenue_prior_ttm) as bigint),
                    {{ var('ttm_days') }}
                )
            else format(
                'revenue up {}% on the {} days before',
                cast(round(100 * (revenue_ttm - revenue_prior_ttm) / revenue_prior_ttm) as bigint),
                {{ var('ttm_days') }}
            )
        end as revenue_trend_detail
    from inputs

)

select * from final

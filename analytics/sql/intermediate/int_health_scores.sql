-- Every health component of every account, side by side: the raw value each is scored from,
-- its score (0-100) and its state in plain words. Inputs come per account from the activity and
-- revenue models; the relationship target depends on the tier (contacts_target_max for key
-- accounts, contacts_target_min for the others). Unmeasurable win rate or revenue trend scores
-- neutral_score. Details are built with concat (every value in them is a whole number, printed
-- as format's {} prints it, several times cheaper); format is kept for the thousands separator.

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
                then concat('last contact ', days_since_last_contact, ' days ago')
            else concat('no contact in ', days_since_last_contact, ' days')
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
                then concat('no contact in the last ', 2 * {{ var('engagement_days') }}, ' days')
            when contacts_prior_engagement = 0
                then concat(
                    'contacts picked up: ',
                    contacts_engagement,
                    ' in the last ',
                    {{ var('engagement_days') }},
                    ' days, none in the ',
                    {{ var('engagement_days') }},
                    ' before'
                )
            when contacts_engagement < contacts_prior_engagement
                then concat(
                    'contacts down from ',
                    contacts_prior_engagement,
                    ' to ',
                    contacts_engagement,
                    ' (last ',
                    {{ var('engagement_days') }},
                    ' days against the ',
                    {{ var('engagement_days') }},
                    ' before)'
                )
            else concat(
                'contacts steady or up: ',
                contacts_engagement,
                ' in the last ',
                {{ var('engagement_days') }},
                ' days against ',
                contacts_prior_engagement,
                ' before'
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
                            then concat(
                                'no decision maker engaged (', decision_makers_on_file, ' on file)'
                            )
                        when decision_makers_engaged < decision_makers_on_file
                            then concat(
                                'only ',
                                decision_makers_engaged,
                                ' of ',
                                decision_makers_on_file,
                                ' decision makers engaged'
                            )
                    end,
                    case
                        when contacts_engaged = 0
                            then concat(
                                'nobody engaged in ',
                                {{ var('relationship_days') }},
                                ' days (target ',
                                contacts_target,
                                ' contacts)'
                            )
                        when contacts_engaged < contacts_target
                            then concat(
                                'only ',
                                contacts_engaged,
                                ' of ',
                                contacts_target,
                                ' target contacts engaged in ',
                                {{ var('relationship_days') }},
                                ' days'
                            )
                    end
                ),
                ''
            ),
            concat(
                contacts_engaged,
                ' contacts engaged in ',
                {{ var('relationship_days') }},
                ' days, every decision maker among them'
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
            else concat(
                'open pipeline covers ',
                cast(round(100 * open_pipeline_amount / revenue_ttm) as bigint),
                '% of TTM revenue (target ',
                cast(round(100 * {{ var('pipeline_coverage_target') }}) as bigint),
                '%)'
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
                then concat('no opportunity closed in the last ', {{ var('ttm_days') }}, ' days')
            else concat(
                'won ',
                won_count_ttm,
                ' of ',
                won_count_ttm + lost_count_ttm,
                ' opportunities closed in the last ',
                {{ var('ttm_days') }},
                ' days'
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
                then concat('no revenue in the last ', 2 * {{ var('ttm_days') }}, ' days')
            when revenue_prior_ttm = 0
                then concat('new revenue: none in the ', {{ var('ttm_days') }}, ' days before')
            when revenue_ttm < revenue_prior_ttm
                then concat(
                    'revenue down ',
                    cast(round(100 * (revenue_prior_ttm - revenue_ttm) / revenue_prior_ttm) as bigint),
                    '% on the ',
                    {{ var('ttm_days') }},
                    ' days before'
                )
            else concat(
                'revenue up ',
                cast(round(100 * (revenue_ttm - revenue_prior_ttm) / revenue_prior_ttm) as bigint),
                '% on the ',
                {{ var('ttm_days') }},
                ' days before'
            )
        end as revenue_trend_detail
    from inputs

)

select * from final

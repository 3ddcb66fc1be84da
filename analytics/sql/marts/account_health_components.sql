-- One row per account and health component: the raw value it is scored from, its score
-- (0-100), its weight, the points it costs the health score (drag), and a plain-words detail
-- the explanation is built from.

with

inputs as (

    select * from {{ ref('int_health_inputs') }}

),

weights as (

    select * from {{ ref('param_health_weights') }}

),

engagement_recency as (

    select
        account_key,
        'engagement_recency' as component,
        cast(days_since_last_contact as double) as raw_value,
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
        end as score,
        case
            when last_contact_date is null then 'no contact on record'
            when days_since_last_contact = 0 then 'last contact today'
            when days_since_last_contact <= {{ var('recency_full_days') }}
                then format('last contact {} days ago', days_since_last_contact)
            else format('no contact in {} days', days_since_last_contact)
        end as detail
    from inputs

),

activity_trend as (

    select
        account_key,
        'activity_trend' as component,
        case
            when contacts_prior_engagement > 0
                then contacts_engagement / contacts_prior_engagement
        end as raw_value,
        case
            when contacts_prior_engagement > 0
                then 100 * least(1.0, contacts_engagement / contacts_prior_engagement)
            when contacts_engagement > 0 then 100.0
            else 0.0
        end as score,
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
        end as detail
    from inputs

),

relationship_breadth as (

    select
        account_key,
        'relationship_breadth' as component,
        cast(contacts_engaged as double) as raw_value,
        100 * (
            (1 - {{ var('decision_maker_weight') }})
            * least(1.0, contacts_engaged / contacts_target)
            + {{ var('decision_maker_weight') }}
            * case
                when decision_makers_on_file > 0
                    then least(1.0, decision_makers_engaged / decision_makers_on_file)
                else 0.0
            end
        ) as score,
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
        ) as detail
    from inputs

),

pipeline_coverage as (

    select
        account_key,
        'pipeline_coverage' as component,
        case when revenue_ttm > 0 then open_pipeline_amount / revenue_ttm end as raw_value,
        case
            when revenue_ttm > 0
                then 100 * least(
                    1.0, open_pipeline_amount / revenue_ttm / {{ var('pipeline_coverage_target') }}
                )
            when open_pipeline_amount > 0 then 100.0
            else 0.0
        end as score,
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
        end as detail
    from inputs

),

win_rate as (

    select
        account_key,
        'win_rate' as component,
        case
            when won_count_ttm + lost_count_ttm > 0
                then won_count_ttm / (won_count_ttm + lost_count_ttm)
        end as raw_value,
        case
            when won_count_ttm + lost_count_ttm = 0 then {{ var('neutral_score') }}
            else 100 * least(
                1.0,
                won_count_ttm / (won_count_ttm + lost_count_ttm) / {{ var('win_rate_target') }}
            )
        end as score,
        case
            when won_count_ttm + lost_count_ttm = 0
                then format('no opportunity closed in the last {} days', {{ var('ttm_days') }})
            else format(
                'won {} of {} opportunities closed in the last {} days',
                won_count_ttm,
                won_count_ttm + lost_count_ttm,
                {{ var('ttm_days') }}
            )
        end as detail
    from inputs

),

revenue_trend as (

    select
        account_key,
        'revenue_trend' as component,
        case
            when revenue_prior_ttm > 0 then (revenue_ttm - revenue_prior_ttm) / revenue_prior_ttm
        end as raw_value,
        case
            when revenue_prior_ttm > 0 then 100 * least(1.0, revenue_ttm / revenue_prior_ttm)
            when revenue_ttm > 0 then 100.0
            else {{ var('neutral_score') }}
        end as score,
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
        end as detail
    from inputs

),

components as (

    select * from engagement_recency
    union all
    select * from activity_trend
    union all
    select * from relationship_breadth
    union all
    select * from pipeline_coverage
    union all
    select * from win_rate
    union all
    select * from revenue_trend

),

final as (

    select
        components.account_key,
        components.component,
        components.raw_value,
        components.score,
        weights.weight,
        components.score * weights.weight as weighted_score,
        (100 - components.score) * weights.weight as drag,
        components.detail
    from components
    inner join weights on weights.component = components.component

)

select * from final

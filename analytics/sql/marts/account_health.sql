-- One row per account: the health score (weighted mean of the component scores, 0-100, one
-- decimal), its band, the change since the previous analyze run, and an explanation sentence
-- naming the biggest drags: the components that cost at least one point, most costly first
-- (ties in the order the components are listed in SPEC section 6), up to explanation_drags.

with

scores as (

    select * from {{ ref('int_health_scores') }}

),

weights as (

    select
        max(weight) filter (where component = 'engagement_recency') as engagement_recency,
        max(weight) filter (where component = 'activity_trend') as activity_trend,
        max(weight) filter (where component = 'relationship_breadth') as relationship_breadth,
        max(weight) filter (where component = 'pipeline_coverage') as pipeline_coverage,
        max(weight) filter (where component = 'win_rate') as win_rate,
        max(weight) filter (where component = 'revenue_trend') as revenue_trend
    from {{ ref('param_health_weights') }}

),

previous as (

    select * from {{ ref('int_previous_scores') }}

),

components as (

    select
        scores.account_key,
        round(
            scores.engagement_recency_score * weights.engagement_recency
            + scores.activity_trend_score * weights.activity_trend
            + scores.relationship_breadth_score * weights.relationship_breadth
            + scores.pipeline_coverage_score * weights.pipeline_coverage
            + scores.win_rate_score * weights.win_rate
            + scores.revenue_trend_score * weights.revenue_trend,
            1
        ) as health_score,
        [
            scores.engagement_recency_detail,
            scores.activity_trend_detail,
            scores.relationship_breadth_detail,
            scores.pipeline_coverage_detail,
            scores.win_rate_detail,
            scores.revenue_trend_detail
        ] as details,
        -- (drag, -position) sorted descending: most costly first, ties in listed order; only
        -- numbers are sorted, the details are looked up by position afterwards
        list_sort(
            list_filter(
                [
                    {
                        'drag': (100 - scores.engagement_recency_score) * weights.engagement_recency,
                        'position': -1
                    },
                    {
                        'drag': (100 - scores.activity_trend_score) * weights.activity_trend,
                        'position': -2
                    },
                    {
                        'drag': (100 - scores.relationship_breadth_score)
                        * weights.relationship_breadth,
                        'position': -3
                    },
                    {
                        'drag': (100 - scores.pipeline_coverage_score) * weights.pipeline_coverage,
                        'position': -4
                    },
                    {
                        'drag': (100 - scores.win_rate_score) * weights.win_rate,
                        'position': -5
                    },
                    {
                        'drag': (100 - scores.revenue_trend_score) * weights.revenue_trend,
                        'position': -6
                    }
                ],
                lambda component: component.drag >= 1
            ),
            'DESC'
        )[1:{{ var('explanation_drags') }}] as drags
    from scores
    cross join weights

),

explained as (

    select
        components.*,
        list_transform(components.drags, lambda drag: components.details[-drag.position])
            as drag_details
    from components

),

final as (

    select
        explained.account_key,
        explained.health_score,
        cast(
            case
                when explained.health_score >= {{ var('health_green') }} then 'green'
                when explained.health_score >= {{ var('health_amber') }} then 'amber'
                else 'red'
            end as enum('amber', 'green', 'red')
        ) as health_band,
        case
            when len(explained.drags) = 0 then 'All health components on target.'
            else upper(explained.drag_details[1][1])
                || array_to_string(explained.drag_details, '; ')[2:]
                || '.'
        end as explanation,
        cast(
            [
                'engagement_recency',
                'activity_trend',
                'relationship_breadth',
                'pipeline_coverage',
                'win_rate',
                'revenue_trend'
            ][-explained.drags[1].position] as {{ enum('health_component') }}
        ) as biggest_drag,
        previous.previous_health_score,
        previous.previous_health_band,
        round(explained.health_score - previous.previous_health_score, 1)
            as health_score_change,
        previous.previous_scored_at
    from explained
    left join previous on previous.account_key = explained.account_key

)

select * from final

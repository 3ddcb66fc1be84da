-- One row per account and health component: the raw value it is scored from, its score
-- (0-100), its weight, the points it adds to the health score and the points it costs (drag),
-- and its state in plain words, which the explanation is built from. component is an ENUM
-- (listed alphabetically, so it sorts as text does): the same text, cheaper to write.

with

scores as (

    select * from {{ ref('int_health_scores') }}

),

weights as (

    select * from {{ ref('param_health_weights') }}

),

components as (

    select *
    from scores
    unpivot include nulls (
        (raw_value, score, detail) for component in (
            (engagement_recency_raw, engagement_recency_score, engagement_recency_detail)
                as engagement_recency,
            (activity_trend_raw, activity_trend_score, activity_trend_detail)
                as activity_trend,
            (relationship_breadth_raw, relationship_breadth_score, relationship_breadth_detail)
                as relationship_breadth,
            (pipeline_coverage_raw, pipeline_coverage_score, pipeline_coverage_detail)
                as pipeline_coverage,
            (win_rate_raw, win_rate_score, win_rate_detail) as win_rate,
            (revenue_trend_raw, revenue_trend_score, revenue_trend_detail) as revenue_trend
        )
    )

),

final as (

    select
        components.account_key,
        cast(
            components.component as {{ enum('health_component') }}
        ) as component,
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

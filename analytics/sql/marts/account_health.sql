-- One row per account: the health score (weighted mean of the component scores, 0-100, one
-- decimal), its band, the change since the previous analyze run, and an explanation sentence
-- naming the biggest drags (components that cost at least one point, most costly first).

with

components as (

    select * from {{ ref('account_health_components') }}

),

previous as (

    select * from {{ ref('int_previous_scores') }}

),

drags as (

    select
        account_key,
        component,
        detail,
        row_number() over (partition by account_key order by drag desc, component) as drag_rank
    from components
    where drag >= 1

),

named_drags as (

    select
        account_key,
        string_agg(detail, '; ' order by drag_rank) as drag_text,
        first(component order by drag_rank) as biggest_drag
    from drags
    where drag_rank <= {{ var('explanation_drags') }}
    group by account_key

),

scored as (

    select
        account_key,
        round(sum(weighted_score), 1) as health_score
    from components
    group by account_key

),

final as (

    select
        scored.account_key,
        scored.health_score,
        case
            when scored.health_score >= {{ var('health_green') }} then 'green'
            when scored.health_score >= {{ var('health_amber') }} then 'amber'
            else 'red'
        end as health_band,
        case
            when named_drags.drag_text is null then 'All health components on target.'
            else upper(left(named_drags.drag_text, 1)) || substr(named_drags.drag_text, 2) || '.'
        end as explanation,
        named_drags.biggest_drag,
        previous.previous_health_score,
        previous.previous_health_band,
        round(scored.health_score - previous.previous_health_score, 1) as health_score_change,
        previous.previous_scored_at
    from scored
    left join named_drags on named_drags.account_key = scored.account_key
    left join previous on previous.account_key = scored.account_key

)

select * from final

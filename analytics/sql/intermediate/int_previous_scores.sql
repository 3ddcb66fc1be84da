-- The scores of the latest earlier analyze run (from kam.score_history, which this run appends
-- to only after every mart is built), for the change since the previous run.

with

history as (

    select * from kam.score_history

),

latest as (

    select max(scored_at) as scored_at from history

),

final as (

    select
        history.account_key,
        history.scored_at as previous_scored_at,
        history.health_score as previous_health_score,
        history.health_band as previous_health_band,
        history.tier as previous_tier
    from history
    inner join latest on latest.scored_at = history.scored_at

)

select * from final

-- Per account and product family (only pairs with any line): TTM spend on won lines, whether
-- the account owns the family (a won line closed in the TTM window, whatever its value) and
-- whether it has the family in open pipeline. The one pass over opportunity lines; lines of
-- opportunities neither won in the TTM window nor open cannot change any of this and are
-- skipped early.

with

lines as (

    select opportunity_key, family_id, line_amount
    from {{ ref('stg_opportunity_lines') }}
    where family_id is not null

),

opportunities as (

    select opportunity_key, account_id, is_won_ttm, is_open
    from {{ ref('stg_opportunities') }}
    where is_won_ttm or is_open

),

final as (

    select
        opportunities.account_id,
        lines.family_id,
        coalesce(sum(lines.line_amount) filter (where opportunities.is_won_ttm), 0.0)
            as spend_ttm,
        bool_or(opportunities.is_won_ttm) as is_owned,
        bool_or(opportunities.is_open) as has_pipeline,
        coalesce(sum(lines.line_amount) filter (where opportunities.is_open), 0.0)
            as open_pipeline_amount
    from lines
    inner join opportunities on opportunities.opportunity_key = lines.opportunity_key
    group by opportunities.account_id, lines.family_id

)

select * from final

-- Each opportunity's value: its amount when set, else the sum of its lines, else zero. Only
-- opportunities without an amount need their lines, so only those lines are summed. Only the
-- columns the readers use are kept (int_account_revenue and performance; neither needs the
-- opportunity's key, so a million strings are not stored again).

with

opportunities as (

    select * from {{ ref('stg_opportunities') }}

),

lines as (

    select opportunity_key, line_amount from {{ ref('stg_opportunity_lines') }}

),

line_totals as (

    select
        lines.opportunity_key,
        sum(lines.line_amount) as lines_amount
    from lines
    where lines.opportunity_key in (
        select opportunity_key from opportunities where amount is null
    )
    group by lines.opportunity_key

),

final as (

    select
        opportunities.account_id,
        coalesce(opportunities.amount, line_totals.lines_amount, 0.0) as opportunity_value,
        opportunities.probability,
        opportunities.is_won,
        opportunities.is_open,
        opportunities.close_date,
        opportunities.is_won_ttm,
        opportunities.is_won_prior_ttm,
        opportunities.is_lost_ttm
    from opportunities
    left join line_totals on line_totals.opportunity_key = opportunities.opportunity_key

)

select * from final

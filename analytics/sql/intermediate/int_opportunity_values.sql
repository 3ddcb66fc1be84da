-- Each opportunity's value: its amount when set, else the sum of its lines, else zero.

with

opportunities as (

    select * from {{ ref('stg_opportunities') }}

),

family_lines as (

    select * from {{ ref('int_opportunity_family_lines') }}

),

line_totals as (

    select
        opportunity_key,
        sum(line_amount) as lines_amount
    from family_lines
    group by opportunity_key

),

final as (

    select
        opportunities.*,
        line_totals.lines_amount,
        coalesce(opportunities.amount, line_totals.lines_amount, 0.0) as opportunity_value
    from opportunities
    left join line_totals on line_totals.opportunity_key = opportunities.opportunity_key

)

select * from final

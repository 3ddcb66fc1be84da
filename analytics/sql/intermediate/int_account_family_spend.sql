-- Per account and product family (only pairs with any line): TTM spend on won lines, whether
-- the account owns the family (a won line closed in the TTM window, whatever its value) and
-- whether it has the family in open pipeline.

with

family_lines as (

    select * from {{ ref('int_opportunity_family_lines') }}
    where product_family is not null

),

opportunities as (

    select opportunity_key, account_key, is_won_ttm, is_open from {{ ref('stg_opportunities') }}

),

final as (

    select
        opportunities.account_key,
        family_lines.product_family,
        coalesce(sum(family_lines.line_amount) filter (where opportunities.is_won_ttm), 0.0)
            as spend_ttm,
        bool_or(opportunities.is_won_ttm) as is_owned,
        bool_or(opportunities.is_open) as has_pipeline,
        coalesce(sum(family_lines.line_amount) filter (where opportunities.is_open), 0.0)
            as open_pipeline_amount
    from family_lines
    inner join opportunities on opportunities.opportunity_key = family_lines.opportunity_key
    group by opportunities.account_key, family_lines.product_family

)

select * from final

-- materialized: view
-- Opportunity lines with their product family and value: the line total, else quantity times
-- unit price, else zero; negative values count as zero.

with

lines as (

    select * from crm.opportunity_lines

),

products as (

    select product_key, nullif(trim(family), '') as product_family from crm.products

),

final as (

    select
        lines.line_key,
        lines.opportunity_key,
        products.product_family,
        greatest(
            coalesce(
                cast(lines.total_price as double),
                lines.quantity * cast(lines.unit_price as double),
                0.0
            ),
            0.0
        ) as line_amount
    from lines
    left join products on products.product_key = lines.product_key

)

select * from final

-- materialized: view
-- Opportunity lines with their product family and value: the line total, else quantity times
-- unit price, else zero; negative values count as zero. family_id is NULL for a product
-- without family.

with

lines as (

    select * from crm.opportunity_lines

),

products as (

    select product_key, nullif(trim(family), '') as product_family from crm.products

),

families as (

    select * from {{ ref('stg_product_families') }}

),

product_families as (

    select
        products.product_key,
        families.family_id
    from products
    inner join families on families.product_family = products.product_family

),

final as (

    select
        lines.line_key,
        lines.opportunity_key,
        product_families.family_id,
        greatest(
            coalesce(
                cast(lines.total_price as double),
                lines.quantity * cast(lines.unit_price as double),
                0.0
            ),
            0.0
        ) as line_amount
    from lines
    left join product_families on product_families.product_key = lines.product_key

)

select * from final

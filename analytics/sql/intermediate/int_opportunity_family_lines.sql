-- Line value per opportunity and product family: the one pass over opportunity lines that
-- both opportunity values and whitespace are computed from. Lines of products without a family
-- have product_family NULL.

with

lines as (

    select * from {{ ref('stg_opportunity_lines') }}

),

final as (

    select
        opportunity_key,
        product_family,
        sum(line_amount) as line_amount,
        count(*) as line_count
    from lines
    group by opportunity_key, product_family

)

select * from final

-- The product families whitespace is analysed on: every family named on a product, with a
-- surrogate key (valid for one run) to join on.

with

products as (

    select * from crm.products

),

named as (

    select distinct nullif(trim(family), '') as product_family
    from products
    where nullif(trim(family), '') is not null

),

final as (

    select
        row_number() over (order by product_family) as family_id,
        product_family
    from named

)

select * from final

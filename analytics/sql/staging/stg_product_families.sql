-- The product families whitespace is analysed on: every family named on a product.

with

products as (

    select * from crm.products

),

final as (

    select distinct nullif(trim(family), '') as product_family
    from products
    where nullif(trim(family), '') is not null

)

select * from final

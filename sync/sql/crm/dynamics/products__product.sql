-- crm.products from Dataverse product: sellable products (product families, productstructure 2,
-- are not products); the family is the name of the parent family product
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:productid}} as product_id,
        {{c:name}} as product_name,
        {{c:productnumber}} as product_code,
        {{c:parentproductid}} as parent_id,
        coalesce({{c:productstructure}}, 1) as structure,
        {{c:statecode}} as state
    from source
),

families as (
    select product_id, product_name from renamed
),

final as (
    select
        '{{source}}:' || renamed.product_id as product_key,
        '{{source}}' as source,
        renamed.product_id as source_id,
        renamed.product_name as name,
        families.product_name as family,
        renamed.product_code as product_code,
        coalesce(renamed.state = 0, false) as is_active
    from renamed
    left join families on families.product_id = renamed.parent_id
    where renamed.structure <> 2
)

select * from final

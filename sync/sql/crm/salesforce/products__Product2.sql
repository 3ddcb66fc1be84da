-- crm.products from Salesforce Product2
with source as (
    select * from {{raw}}
    where not _is_deleted
),

final as (
    select
        '{{source}}:' || {{c:Id}} as product_key,
        '{{source}}' as source,
        {{c:Id}} as source_id,
        {{c:Name}} as name,
        {{c:Family}} as family,
        {{c:ProductCode}} as product_code,
        {{c:IsActive}} as is_active
    from source
)

select * from final

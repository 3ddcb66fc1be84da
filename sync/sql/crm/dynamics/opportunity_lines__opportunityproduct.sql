-- crm.opportunity_lines from Dataverse opportunityproduct
with source as (
    select * from {{raw}}
    where not _is_deleted
),

final as (
    select
        '{{source}}:' || {{c:opportunityproductid}} as line_key,
        '{{source}}' as source,
        {{c:opportunityproductid}} as source_id,
        '{{source}}:' || {{c:opportunityid}} as opportunity_key,
        case when {{c:productid}} is not null then '{{source}}:' || {{c:productid}} end
            as product_key,
        {{c:quantity}} as quantity,
        {{c:priceperunit}} as unit_price,
        coalesce({{c:extendedamount}}, {{c:quantity}} * {{c:priceperunit}}) as total_price
    from source
)

select * from final

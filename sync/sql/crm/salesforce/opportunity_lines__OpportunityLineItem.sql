-- crm.opportunity_lines from Salesforce OpportunityLineItem
with source as (
    select * from {{raw}}
    where not _is_deleted
),

final as (
    select
        '{{source}}:' || {{c:Id}} as line_key,
        '{{source}}' as source,
        {{c:Id}} as source_id,
        '{{source}}:' || {{c:OpportunityId}} as opportunity_key,
        case when {{c:Product2Id}} is not null then '{{source}}:' || {{c:Product2Id}} end
            as product_key,
        {{c:Quantity}} as quantity,
        {{c:UnitPrice}} as unit_price,
        {{c:TotalPrice}} as total_price
    from source
)

select * from final

-- crm.opportunity_contacts from Salesforce OpportunityContactRole
with source as (
    select * from {{raw}}
    where not _is_deleted
),

final as (
    select
        '{{source}}:' || {{c:Id}} as opportunity_contact_key,
        '{{source}}' as source,
        {{c:Id}} as source_id,
        '{{source}}:' || {{c:OpportunityId}} as opportunity_key,
        '{{source}}:' || {{c:ContactId}} as contact_key,
        {{c:Role}} as role,
        {{c:IsPrimary}} as is_primary
    from source
)

select * from final

-- crm.contacts from Dataverse contact (the company is an account or, rarely, another contact)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:contactid}} as contact_id,
        {{c:parentcustomerid}} as parent_customer_id,
        lower(coalesce({{c:parentcustomeridtype}}, 'account')) as parent_customer_type,
        {{c:fullname}} as contact_name,
        {{c:jobtitle}} as title,
        {{l:buying_role}} as buying_role_label,
        {{c:emailaddress1}} as email,
        {{c:modifiedon}} as modified_at
    from source
),

labelled as (
    select
        *,
        replace(lower(trim(cast(buying_role_label as varchar))), ' ', '_') as role_code
    from renamed
),

final as (
    select
        '{{source}}:' || contact_id as contact_key,
        '{{source}}' as source,
        contact_id as source_id,
        case
            when parent_customer_type = 'account' and parent_customer_id is not null
                then '{{source}}:' || parent_customer_id
        end as account_key,
        contact_name as name,
        title,
        case
            when role_code in ('decision_maker', 'influencer', 'user', 'gatekeeper') then role_code
        end as buying_role,
        coalesce(role_code = 'decision_maker', false) as is_decision_maker,
        email,
        modified_at
    from labelled
)

select * from final

-- crm.contacts from Salesforce Contact
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as contact_id,
        {{c:AccountId}} as account_id,
        {{c:Name}} as contact_name,
        {{c:Title}} as title,
        {{f:buying_role}} as buying_role_label,
        {{c:Email}} as email,
        {{c:SystemModstamp}} as modified_at
    from source
),

roles as (
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
        case when account_id is not null then '{{source}}:' || account_id end as account_key,
        contact_name as name,
        title,
        case
            when role_code in ('decision_maker', 'influencer', 'user', 'gatekeeper') then role_code
        end as buying_role,
        coalesce(role_code = 'decision_maker', false) as is_decision_maker,
        email,
        modified_at
    from roles
)

select * from final

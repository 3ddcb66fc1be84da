-- crm.contacts, shared by every CRM: completes a <kind>/contacts__<Object>.sql model, whose
-- `renamed` CTE has one row per live contact in these columns: contact_id, account_id (NULL
-- when the contact belongs to no account), contact_name, title, buying_role_label, email,
-- modified_at
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

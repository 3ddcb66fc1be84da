-- materialized: view
-- Contacts with the account they work for and whether they are a decision maker.

with

contacts as (

    select * from crm.contacts

),

final as (

    select
        contact_key,
        account_key,
        coalesce(is_decision_maker, false)
            or coalesce(lower(buying_role) = 'decision_maker', false) as is_decision_maker
    from contacts

)

select * from final

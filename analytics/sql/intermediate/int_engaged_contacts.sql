-- materialized: view
-- The people engaged at each account: every contact named on a contact (completed call,
-- meeting, visit or e-mail) in the relationship window, once per account. A view: its one
-- reader (int_account_activity) aggregates it straight away, so it is never stored.

with

activities as (

    select * from {{ ref('stg_activities') }}

),

final as (

    select distinct
        account_key,
        contact_key
    from activities
    where
        is_contact
        and contact_key is not null
        and activity_date >= {{ var('relationship_start_date') }}

)

select * from final

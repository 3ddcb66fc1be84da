-- materialized: view
-- Activities dated on or before the as-of date (later ones are ignored) that concern an
-- account. A contact is a completed call, meeting, visit or e-mail; a touch, the unit of call
-- frequency, is a completed call, meeting or visit (crm.activities.activity_type holds these
-- lower-case names).

with

activities as (

    select * from crm.activities

),

final as (

    select
        activity_key,
        account_key,
        contact_key,
        activity_type,
        activity_date,
        is_completed and activity_type in ('call', 'meeting', 'visit', 'email') as is_contact,
        is_completed and activity_type in ('call', 'meeting', 'visit') as is_touch
    from activities
    where
        account_key is not null
        and activity_date <= {{ var('as_of_date') }}

)

select * from final

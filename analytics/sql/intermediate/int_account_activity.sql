-- Engagement per account (every account): latest contact and touch, contacts in the engagement
-- window and the one before, touches, and how many people (and decision makers) were engaged in
-- the relationship window against how many decision makers are on file. A decision maker counts
-- as engaged only at the account they work for.

with

accounts as (

    select account_id, account_key from {{ ref('stg_accounts') }}

),

engagement as (

    select * from {{ ref('int_account_engagement') }}

),

engaged_contacts as (

    select * from {{ ref('int_engaged_contacts') }}

),

decision_makers as (

    select contact_key, account_key from {{ ref('stg_contacts') }}
    where account_key is not null and is_decision_maker

),

engaged as (

    select
        account_key,
        count(*) as contacts_engaged
    from engaged_contacts
    group by account_key

),

decision_makers_engaged as (

    -- a decision maker counts as engaged only at the account they work for
    select
        engaged_contacts.account_key,
        count(*) as decision_makers_engaged
    from engaged_contacts
    inner join decision_makers
        on
            decision_makers.contact_key = engaged_contacts.contact_key
            and decision_makers.account_key = engaged_contacts.account_key
    group by engaged_contacts.account_key

),

on_file as (

    select
        account_key,
        count(*) as decision_makers_on_file
    from decision_makers
    group by account_key

),

final as (

    select
        accounts.account_id,
        accounts.account_key,
        engagement.last_contact_date,
        engagement.last_touch_date,
        coalesce(engagement.contacts_engagement, 0) as contacts_engagement,
        coalesce(engagement.contacts_prior_engagement, 0) as contacts_prior_engagement,
        coalesce(engagement.touches_last_30d, 0) as touches_last_30d,
        coalesce(engagement.touches_engagement, 0) as touches_engagement,
        coalesce(engaged.contacts_engaged, 0) as contacts_engaged,
        coalesce(decision_makers_engaged.decision_makers_engaged, 0) as decision_makers_engaged,
        coalesce(on_file.decision_makers_on_file, 0) as decision_makers_on_file
    from accounts
    left join engagement on engagement.account_key = accounts.account_key
    left join engaged on engaged.account_key = accounts.account_key
    left join decision_makers_engaged
        on decision_makers_engaged.account_key = accounts.account_key
    left join on_file on on_file.account_key = accounts.account_key

)

select * from final

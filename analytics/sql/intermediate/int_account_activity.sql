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

decision_makers_counted as (

    -- per account, its decision makers on file and how many of them were engaged there (a
    -- decision maker counts as engaged only at the account they work for); engaged pairs are
    -- distinct, so each decision maker matches at most one
    select
        decision_makers.account_key,
        count(*) as decision_makers_on_file,
        count(engaged_contacts.contact_key) as decision_makers_engaged
    from decision_makers
    left join engaged_contacts
        on
            engaged_contacts.contact_key = decision_makers.contact_key
            and engaged_contacts.account_key = decision_makers.account_key
    group by decision_makers.account_key

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
        coalesce(decision_makers_counted.decision_makers_engaged, 0) as decision_makers_engaged,
        coalesce(decision_makers_counted.decision_makers_on_file, 0) as decision_makers_on_file
    from accounts
    left join engagement on engagement.account_key = accounts.account_key
    left join engaged on engaged.account_key = accounts.account_key
    left join decision_makers_counted
        on decision_makers_counted.account_key = accounts.account_key

)

select * from final

-- Engagement per account (every account): latest contact and touch, contacts in the engagement
-- window and the one before, touches, and how many people (and decision makers) were engaged
-- in the relationship window against how many decision makers are on file.

with

accounts as (

    select account_key from {{ ref('stg_accounts') }}

),

contact_activity as (

    select * from {{ ref('int_account_contact_activity') }}

),

contacts as (

    select * from {{ ref('stg_contacts') }}

),

engaged as (

    select
        contact_activity.account_key,
        max(contact_activity.last_contact_date) as last_contact_date,
        max(contact_activity.last_touch_date) as last_touch_date,
        sum(contact_activity.contacts_engagement) as contacts_engagement,
        sum(contact_activity.contacts_prior_engagement) as contacts_prior_engagement,
        sum(contact_activity.touches_last_30d) as touches_last_30d,
        sum(contact_activity.touches_engagement) as touches_engagement,
        count(*) filter (
            where contact_activity.contact_key is not null
            and contact_activity.is_engaged_relationship
        ) as contacts_engaged,
        count(*) filter (
            where contact_activity.is_engaged_relationship
            and contacts.is_decision_maker
            and contacts.account_key = contact_activity.account_key
        ) as decision_makers_engaged
    from contact_activity
    left join contacts on contacts.contact_key = contact_activity.contact_key
    group by contact_activity.account_key

),

on_file as (

    select
        account_key,
        count(*) filter (where is_decision_maker) as decision_makers_on_file
    from contacts
    where account_key is not null
    group by account_key

),

final as (

    select
        accounts.account_key,
        engaged.last_contact_date,
        engaged.last_touch_date,
        coalesce(engaged.contacts_engagement, 0) as contacts_engagement,
        coalesce(engaged.contacts_prior_engagement, 0) as contacts_prior_engagement,
        coalesce(engaged.touches_last_30d, 0) as touches_last_30d,
        coalesce(engaged.touches_engagement, 0) as touches_engagement,
        coalesce(engaged.contacts_engaged, 0) as contacts_engaged,
        coalesce(engaged.decision_makers_engaged, 0) as decision_makers_engaged,
        coalesce(on_file.decision_makers_on_file, 0) as decision_makers_on_file
    from accounts
    left join engaged on engaged.account_key = accounts.account_key
    left join on_file on on_file.account_key = accounts.account_key

)

select * from final

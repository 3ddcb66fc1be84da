-- crm.contacts from Dataverse contact (the company is an account or, rarely, another contact:
-- only an account is kept; renamed here, the rest is common/contacts.sql)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:contactid}} as contact_id,
        case
            when lower(coalesce({{c:parentcustomeridtype}}, 'account')) = 'account'
                then {{c:parentcustomerid}}
        end as account_id,
        {{c:fullname}} as contact_name,
        {{c:jobtitle}} as title,
        {{l:buying_role}} as buying_role_label,
        {{c:emailaddress1}} as email,
        {{c:modifiedon}} as modified_at
    from source
),

{{final}}

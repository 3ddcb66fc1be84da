-- crm.activities from the Dataverse activity tables phonecall (calls), appointment (meetings, and
-- visits where the visit flag is set), email and task, one table per rendering: regarding an
-- account, a contact (its account through the contact) or an opportunity (its account);
-- completed when statecode is 1; dated by the UTC day it ended (actualend), else the day it is
-- due, starts or was created
with source as (
    select * from {{raw}}
    where not _is_deleted
),

contacts as (
    select source_id, account_key from crm.contacts
    where source = '{{source}}'
),

opportunities as (
    select source_id, account_key from crm.opportunities
    where source = '{{source}}'
),

renamed as (
    select
        {{c:activityid}} as activity_id,
        {{c:regardingobjectid}} as regarding_id,
        lower(coalesce({{c:regardingobjecttypecode}}, '')) as regarding_type,
        {{c:ownerid}} as owner_id,
        {{c:subject}} as subject,
        case '{{object}}'
            when 'phonecall' then 'call'
            when 'appointment' then
                case when coalesce({{f:visit_flag}}, false) then 'visit' else 'meeting' end
            else '{{object}}'
        end as activity_type,
        cast(
            timezone('UTC', coalesce({{c:actualend}}, {{c:scheduledend}}, {{c:scheduledstart}}, {{c:createdon}}))
            as date
        ) as activity_date,
        {{c:statecode}} as state
    from source
),

final as (
    select
        '{{source}}:' || renamed.activity_id as activity_key,
        '{{source}}' as source,
        renamed.activity_id as source_id,
        '{{object}}' as source_object,
        case
            when renamed.regarding_type = 'account' then '{{source}}:' || renamed.regarding_id
            when renamed.regarding_type = 'contact' then contacts.account_key
            when renamed.regarding_type = 'opportunity' then opportunities.account_key
        end as account_key,
        case when renamed.regarding_type = 'contact' then '{{source}}:' || renamed.regarding_id end
            as contact_key,
        case when renamed.owner_id is not null then '{{source}}:' || renamed.owner_id end
            as owner_user_key,
        renamed.activity_type,
        renamed.subject,
        renamed.activity_date,
        coalesce(renamed.state = 1, false) as is_completed
    from renamed
    left join contacts
        on renamed.regarding_type = 'contact' and contacts.source_id = renamed.regarding_id
    left join opportunities
        on renamed.regarding_type = 'opportunity' and opportunities.source_id = renamed.regarding_id
)

select * from final

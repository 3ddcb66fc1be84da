-- crm.activities from Salesforce Task (calls, e-mails and to-dos)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as task_id,
        {{c:AccountId}} as account_id,
        {{c:WhatId}} as what_id,
        {{c:WhoId}} as who_id,
        {{c:OwnerId}} as owner_id,
        {{c:Subject}} as subject,
        lower(coalesce({{c:TaskSubtype}}, '')) as subtype,
        lower(coalesce({{c:Type}}, '')) as task_type,
        {{c:ActivityDate}} as activity_date,
        {{c:CreatedDate}} as created_at,
        {{c:IsClosed}} as is_closed,
        {{c:Status}} as status
    from source
),

final as (
    select
        '{{source}}:' || task_id as activity_key,
        '{{source}}' as source,
        task_id as source_id,
        'Task' as source_object,
        case
            when account_id is not null then '{{source}}:' || account_id
            when what_id like '001%' then '{{source}}:' || what_id
        end as account_key,
        case when who_id like '003%' then '{{source}}:' || who_id end as contact_key,
        case when owner_id is not null then '{{source}}:' || owner_id end as owner_user_key,
        case
            when subtype = 'call' or task_type = 'call' then 'call'
            when subtype = 'email' or task_type = 'email' then 'email'
            when task_type = 'meeting' then 'meeting'
            when task_type like '%visit%' then 'visit'
            else 'task'
        end as activity_type,
        subject,
        coalesce(activity_date, cast(created_at as date)) as activity_date,
        coalesce(is_closed, lower(status) = 'completed', false) as is_completed
    from renamed
)

select * from final

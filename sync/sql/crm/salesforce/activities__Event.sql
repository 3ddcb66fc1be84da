-- crm.activities from Salesforce Event (meetings and visits; completed once they have ended)
with source as (
    select * from {{raw}}
    where not _is_deleted
),

renamed as (
    select
        {{c:Id}} as event_id,
        {{c:AccountId}} as account_id,
        {{c:WhatId}} as what_id,
        {{c:WhoId}} as who_id,
        {{c:OwnerId}} as owner_id,
        {{c:Subject}} as subject,
        lower(coalesce({{c:Type}}, '')) as event_type,
        {{c:ActivityDate}} as activity_date,
        {{c:StartDateTime}} as started_at,
        {{c:EndDateTime}} as ended_at
    from source
),

final as (
    select
        '{{source}}:' || event_id as activity_key,
        '{{source}}' as source,
        event_id as source_id,
        'Event' as source_object,
        case
            when account_id is not null then '{{source}}:' || account_id
            when what_id like '001%' then '{{source}}:' || what_id
        end as account_key,
        case when who_id like '003%' then '{{source}}:' || who_id end as contact_key,
        case when owner_id is not null then '{{source}}:' || owner_id end as owner_user_key,
        case when event_type like '%visit%' then 'visit' else 'meeting' end as activity_type,
        subject,
        coalesce(activity_date, cast(started_at as date)) as activity_date,
        coalesce(coalesce(ended_at, started_at) <= current_timestamp, false) as is_completed
    from renamed
)

select * from final

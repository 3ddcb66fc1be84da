-- One row per account: its ultimate parent, how many parent links lead there, and whether the
-- chain runs into a cycle or a missing parent. An account whose chain runs into a cycle gets
-- the smallest account key of the cycle as its ultimate parent, so the cycle's accounts still
-- form one group.

with

walk as (

    select * from {{ ref('int_parent_walk') }}

),

accounts as (

    select account_id, account_key, parent_account_key from {{ ref('stg_accounts') }}

),

last_steps as (

    select
        account_id,
        arg_max(ancestor_key, depth) as last_key,
        arg_max(path, depth) as path,
        bool_or(closes_cycle) as has_parent_cycle
    from walk
    group by account_id

),

resolved as (

    select
        last_steps.account_id,
        accounts.account_key,
        accounts.parent_account_key,
        last_steps.has_parent_cycle,
        case
            when last_steps.has_parent_cycle
                then last_steps.path[
                    list_position(last_steps.path, last_steps.last_key):len(last_steps.path) - 1
                ]
        end as cycle_members,
        case
            when last_steps.has_parent_cycle then last_steps.path[1:len(last_steps.path) - 1]
            else last_steps.path
        end as path_to_top,
        last_steps.last_key,
        accounts.parent_account_key is not null
        and not exists (
            select 1 from accounts as parent
            where parent.account_key = accounts.parent_account_key
        ) as has_missing_parent
    from last_steps
    inner join accounts on accounts.account_id = last_steps.account_id

),

canonical as (

    -- a cycle's members listed from its smallest key, the same for every account it affects
    select
        *,
        list_position(cycle_members, list_min(cycle_members)) as smallest_at
    from resolved

),

final as (

    select
        account_id,
        account_key,
        parent_account_key,
        case
            when has_parent_cycle then list_min(cycle_members)
            else last_key
        end as ultimate_parent_key,
        case when not has_parent_cycle then len(path_to_top) - 1 end as depth,
        path_to_top,
        has_parent_cycle,
        case
            when has_parent_cycle
                then list_concat(
                    cycle_members[smallest_at:], cycle_members[1:smallest_at - 1]
                )
        end as cycle_members,
        has_missing_parent
    from canonical

)

select * from final

-- The group each account rolls up to. Within a source, the group is the tree under the ultimate
-- parent. A tree takes the global match key of its ultimate parent, else the smallest one set on
-- any of its accounts; trees sharing a global match key (in any source) form one global group.
-- group_key is 'global:<match key>' for a global group, else the ultimate parent's key.

with

hierarchy as (

    select account_id, account_key, ultimate_parent_key from {{ ref('int_account_hierarchy') }}

),

accounts as (

    select account_id, account_key, global_match_key from {{ ref('stg_accounts') }}

),

trees as (

    select
        hierarchy.ultimate_parent_key,
        coalesce(
            max(accounts.global_match_key)
                filter (where accounts.account_key = hierarchy.ultimate_parent_key),
            min(accounts.global_match_key)
        ) as group_match_key
    from hierarchy
    inner join accounts on accounts.account_id = hierarchy.account_id
    group by hierarchy.ultimate_parent_key

),

final as (

    select
        hierarchy.account_id,
        hierarchy.account_key,
        hierarchy.ultimate_parent_key,
        trees.group_match_key,
        case
            when trees.group_match_key is not null then 'global:' || trees.group_match_key
            else hierarchy.ultimate_parent_key
        end as group_key,
        cast(
            case
                when trees.group_match_key is not null then 'global_match'
                else 'ultimate_parent'
            end as enum('global_match', 'ultimate_parent')
        ) as group_type
    from hierarchy
    inner join trees on trees.ultimate_parent_key = hierarchy.ultimate_parent_key

)

select * from final

-- Ultimate parents and parent cycles of crm.accounts, walking parent links with no depth limit.
-- A walk stops at the top of its chain or where the next parent is already on its path (a
-- cycle); an account whose chain runs into a cycle gets no ultimate parent and is flagged.
with recursive

accounts as (
    select account_key, parent_account_key from crm.accounts
),

walk (account_key, current_key, depth, path) as (
    select account_key, account_key, 0, [account_key]
    from accounts
    union all
    select walk.account_key, parents.parent_account_key, walk.depth + 1,
        list_append(walk.path, parents.parent_account_key)
    from walk
    inner join accounts as parents on parents.account_key = walk.current_key
    inner join accounts as grandparents on grandparents.account_key = parents.parent_account_key
    where not list_contains(walk.path, parents.parent_account_key)
),

tops as (
    select account_key, arg_max(current_key, depth) as top_key, max(depth) as depth
    from walk
    group by account_key
),

final as (
    select
        tops.account_key,
        top_parent.parent_account_key is not null
            and top_parent.parent_account_key in (select account_key from accounts)
            as has_parent_cycle,
        tops.top_key
    from tops
    inner join accounts as top_parent on top_parent.account_key = tops.top_key
)

select
    account_key,
    has_parent_cycle,
    case when has_parent_cycle then null else top_key end as ultimate_parent_key
from final

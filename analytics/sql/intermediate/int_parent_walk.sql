-- Every account's walk up its parent links, one row per step (step 0 is the account itself).
-- A link to an account that does not exist ends the walk. The walk stops at the first account
-- already on its path: that step has closes_cycle = true, so cycles are reported, not looped.
-- The walk follows the run's integer account ids (account_id, ancestor_id); the keys are
-- carried for the path and for the marts.

with recursive

accounts as (

    select account_id, account_key, parent_account_key from {{ ref('stg_accounts') }}

),

links as (

    select
        child.account_id,
        parent.account_id as parent_id,
        child.parent_account_key
    from accounts as child
    inner join accounts as parent on parent.account_key = child.parent_account_key

),

walk as (

    select
        account_id,
        account_key,
        account_id as ancestor_id,
        account_key as ancestor_key,
        0 as depth,
        [account_key] as path,
        false as closes_cycle
    from accounts

    union all

    select
        walk.account_id,
        walk.account_key,
        links.parent_id as ancestor_id,
        links.parent_account_key as ancestor_key,
        walk.depth + 1 as depth,
        list_append(walk.path, links.parent_account_key) as path,
        list_contains(walk.path, links.parent_account_key) as closes_cycle
    from walk
    inner join links on links.account_id = walk.ancestor_id
    where not walk.closes_cycle

),

final as (

    select * from walk

)

select * from final

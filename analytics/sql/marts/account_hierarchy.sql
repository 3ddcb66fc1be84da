-- One row per account: its place in the parent hierarchy (ultimate parent, depth, path to the
-- top), the group it rolls up to, and the additive metrics summed over its subtree (itself and
-- every account below it).

with

accounts as (

    select account_id, account_key, source, account_name from {{ ref('stg_accounts') }}

),

hierarchy as (

    select * from {{ ref('int_account_hierarchy') }}

),

groups as (

    select account_id, group_key, group_type from {{ ref('int_account_groups') }}

),

walk as (

    select account_id, ancestor_id from {{ ref('int_parent_walk') }}
    where not closes_cycle

),

revenue as (

    select account_id, revenue_ttm, open_pipeline_amount from {{ ref('int_account_revenue') }}

),

subtrees as (

    select
        walk.ancestor_id as account_id,
        count(*) as subtree_account_count,
        sum(revenue.revenue_ttm) as subtree_revenue_ttm,
        sum(revenue.open_pipeline_amount) as subtree_open_pipeline_amount
    from walk
    inner join revenue on revenue.account_id = walk.account_id
    group by walk.ancestor_id

),

final as (

    select
        accounts.account_key,
        accounts.source,
        accounts.account_name,
        hierarchy.parent_account_key,
        hierarchy.ultimate_parent_key,
        hierarchy.depth,
        hierarchy.path_to_top,
        groups.group_key,
        groups.group_type,
        hierarchy.has_parent_cycle,
        hierarchy.has_missing_parent,
        subtrees.subtree_account_count,
        subtrees.subtree_revenue_ttm,
        subtrees.subtree_open_pipeline_amount
    from accounts
    inner join hierarchy on hierarchy.account_id = accounts.account_id
    inner join groups on groups.account_id = accounts.account_id
    inner join subtrees on subtrees.account_id = accounts.account_id

)

select * from final

-- One row per account: the group it rolls up to and that group's Pareto class, criteria,
-- triage score and tier (every account of a group shares its group's tier and level).

with

accounts as (

    select account_id, account_key, source, account_name from {{ ref('stg_accounts') }}

),

account_groups as (

    select * from {{ ref('int_account_groups') }}

),

groups as (

    select * from {{ ref('account_groups') }}

),

final as (

    select
        accounts.account_key,
        accounts.source,
        accounts.account_name,
        account_groups.ultimate_parent_key,
        groups.group_key,
        groups.group_name,
        groups.group_type,
        groups.level,
        groups.revenue_ttm as group_revenue_ttm,
        groups.revenue_growth as group_revenue_growth,
        groups.headroom as group_headroom,
        groups.cumulative_share_before,
        groups.pareto_class,
        groups.meets_revenue_criterion,
        groups.meets_potential_criterion,
        groups.meets_growth_criterion,
        groups.meets_profit_criterion,
        groups.market_position_score,
        groups.market_position_source,
        groups.innovation_orientation_score,
        groups.innovation_orientation_source,
        groups.strategy_influence_score,
        groups.strategy_influence_source,
        groups.operational_complexity_score,
        groups.operational_complexity_source,
        groups.triage_score,
        groups.tier
    from accounts
    inner join account_groups on account_groups.account_id = accounts.account_id
    inner join groups on groups.group_key = account_groups.group_key

)

select * from final

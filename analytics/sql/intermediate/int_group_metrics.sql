-- Per account group: its members and geographic footprint, additive metrics summed over the
-- members (revenue, wallet, headroom, the customer's own annual revenue), growth recomputed
-- from the sums, product families owned anywhere in the group, and the CRM triage factors
-- averaged over the members that have them. The group's name is that of its top-level account
-- with the largest TTM revenue under it (on a tie, the one with the largest key).

with

accounts as (

    select * from {{ ref('stg_accounts') }}

),

groups as (

    select * from {{ ref('int_account_groups') }}

),

revenue as (

    select * from {{ ref('int_account_revenue') }}

),

wallet as (

    select account_id, wallet_estimate, headroom from {{ ref('int_account_wallet') }}

),

owned as (

    select account_id, family_id from {{ ref('int_account_family_spend') }}
    where is_owned

),

members as (

    select
        accounts.*,
        groups.group_key,
        groups.group_type,
        groups.group_match_key,
        groups.ultimate_parent_key,
        revenue.revenue_ttm,
        revenue.revenue_prior_ttm,
        wallet.wallet_estimate,
        wallet.headroom
    from accounts
    inner join groups on groups.account_id = accounts.account_id
    inner join revenue on revenue.account_id = accounts.account_id
    inner join wallet on wallet.account_id = accounts.account_id

),

trees as (

    select
        group_key,
        ultimate_parent_key,
        sum(revenue_ttm) as tree_revenue_ttm
    from members
    group by group_key, ultimate_parent_key

),

names as (

    -- the top-level account with the largest revenue under it (ties: the largest key)
    select
        trees.group_key,
        arg_max(members.account_name, (trees.tree_revenue_ttm, trees.ultimate_parent_key))
            as group_name
    from trees
    inner join members on members.account_key = trees.ultimate_parent_key
    group by trees.group_key

),

families as (

    select
        members.group_key,
        count(distinct owned.family_id) as families_owned
    from owned
    inner join members on members.account_id = owned.account_id
    group by members.group_key

),

summed as (

    select
        group_key,
        any_value(group_type) as group_type,
        any_value(group_match_key) as group_match_key,
        count(*) as member_count,
        count(distinct source) as source_count,
        count(distinct country) as country_count,
        count(distinct region) as region_count,
        count(distinct territory) as territory_count,
        sum(revenue_ttm) as revenue_ttm,
        sum(revenue_prior_ttm) as revenue_prior_ttm,
        sum(wallet_estimate) as wallet_estimate,
        sum(headroom) as headroom,
        coalesce(sum(annual_revenue), 0.0) as customer_annual_revenue,
        avg(market_position_crm) as market_position_crm,
        avg(innovation_orientation_crm) as innovation_orientation_crm,
        avg(strategy_influence_crm) as strategy_influence_crm,
        avg(operational_complexity_crm) as operational_complexity_crm
    from members
    group by group_key

),

final as (

    select
        summed.group_key,
        names.group_name,
        summed.group_type,
        summed.group_match_key,
        summed.member_count,
        summed.source_count,
        summed.country_count,
        summed.region_count,
        summed.territory_count,
        cast(
            case
                when summed.region_count > 1 then 'global'
                when summed.country_count > 1 then 'regional'
                when summed.territory_count > 1 then 'national'
                else 'territory'
            end as enum('global', 'national', 'regional', 'territory')
        ) as level,
        summed.revenue_ttm,
        summed.revenue_prior_ttm,
        case
            when summed.revenue_prior_ttm > 0
                then (summed.revenue_ttm - summed.revenue_prior_ttm) / summed.revenue_prior_ttm
        end as revenue_growth,
        summed.wallet_estimate,
        summed.headroom,
        case
            when summed.wallet_estimate > 0 then summed.revenue_ttm / summed.wallet_estimate
        end as wallet_share,
        summed.customer_annual_revenue,
        coalesce(families.families_owned, 0) as families_owned,
        summed.market_position_crm,
        summed.innovation_orientation_crm,
        summed.strategy_influence_crm,
        summed.operational_complexity_crm
    from summed
    left join names on names.group_key = summed.group_key
    left join families on families.group_key = summed.group_key

)

select * from final

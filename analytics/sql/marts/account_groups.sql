-- One row per account group (a global group across sources, else an ultimate parent's tree):
-- Pareto class on group revenue, the KAM criteria, the four triage factors (CRM fields where set,
-- data proxies where not) and their weighted triage score, the tier and the level.

with

groups as (

    select * from {{ ref('int_group_metrics') }}

),

family_count as (

    select count(*) as family_count from {{ ref('stg_product_families') }}

),

weights as (

    select
        max(weight) filter (where factor = 'market_position') as market_position,
        max(weight) filter (where factor = 'innovation_orientation') as innovation_orientation,
        max(weight) filter (where factor = 'strategy_influence') as strategy_influence,
        max(weight) filter (where factor = 'operational_complexity') as operational_complexity
    from {{ ref('param_triage_weights') }}

),

ranked as (

    select
        groups.*,
        row_number() over (order by groups.revenue_ttm desc, groups.group_key) as revenue_rank,
        coalesce(
            sum(groups.revenue_ttm) over (
                order by groups.revenue_ttm desc, groups.group_key
                rows between unbounded preceding and 1 preceding
            ),
            0.0
        ) as revenue_before,
        sum(groups.revenue_ttm) over () as revenue_total,
        percent_rank() over (order by groups.customer_annual_revenue) as customer_size_rank,
        percent_rank() over (order by groups.revenue_ttm) as our_revenue_rank,
        percent_rank() over (order by groups.member_count + groups.country_count)
            as footprint_rank
    from groups

),

factors as (

    select
        ranked.*,
        case when revenue_total > 0 then revenue_before / revenue_total end
            as cumulative_share_before,
        coalesce(market_position_crm, 1 + 9 * customer_size_rank) as market_position_score,
        coalesce(
            innovation_orientation_crm,
            1 + 9 * coalesce(families_owned / nullif(family_count.family_count, 0), 0.0)
        ) as innovation_orientation_score,
        coalesce(strategy_influence_crm, 1 + 9 * our_revenue_rank) as strategy_influence_score,
        coalesce(operational_complexity_crm, 1 + 9 * footprint_rank)
            as operational_complexity_score,
        cast(
            case when market_position_crm is null then 'data_proxy' else 'crm_field' end as {{ enum('score_source') }}
        ) as market_position_source,
        cast(
            case when innovation_orientation_crm is null then 'data_proxy' else 'crm_field' end as {{ enum('score_source') }}
        ) as innovation_orientation_source,
        cast(
            case when strategy_influence_crm is null then 'data_proxy' else 'crm_field' end as {{ enum('score_source') }}
        ) as strategy_influence_source,
        cast(
            case when operational_complexity_crm is null then 'data_proxy' else 'crm_field' end as {{ enum('score_source') }}
        ) as operational_complexity_source
    from ranked
    cross join family_count

),

criteria as (

    select
        factors.*,
        round(
            factors.market_position_score * weights.market_position
            + factors.innovation_orientation_score * weights.innovation_orientation
            + factors.strategy_influence_score * weights.strategy_influence
            + factors.operational_complexity_score * weights.operational_complexity,
            4
        ) as triage_score,
        cast(
            case
                when factors.cumulative_share_before < {{ var('pareto_a') }} then 'A'
                when factors.cumulative_share_before < {{ var('pareto_b') }} then 'B'
                else 'C'
            end as enum('A', 'B', 'C')
        ) as pareto_class,
        factors.revenue_ttm >= {{ var('revenue_threshold') }} as meets_revenue_criterion,
        factors.headroom >= {{ var('headroom_threshold') }} as meets_potential_criterion,
        case
            when factors.revenue_prior_ttm > 0
                then factors.revenue_growth >= {{ var('growth_threshold') }}
            else factors.revenue_ttm > 0
        end as meets_growth_criterion,
        cast(null as boolean) as meets_profit_criterion
    from factors
    cross join weights

),

final as (

    select
        group_key,
        group_name,
        group_type,
        group_match_key,
        member_count,
        source_count,
        country_count,
        region_count,
        territory_count,
        level,
        revenue_ttm,
        revenue_prior_ttm,
        revenue_growth,
        wallet_estimate,
        headroom,
        wallet_share,
        customer_annual_revenue,
        families_owned,
        revenue_rank,
        cumulative_share_before,
        pareto_class,
        meets_revenue_criterion,
        meets_potential_criterion,
        meets_growth_criterion,
        meets_profit_criterion,
        market_position_score,
        market_position_source,
        innovation_orientation_score,
        innovation_orientation_source,
        strategy_influence_score,
        strategy_influence_source,
        operational_complexity_score,
        operational_complexity_source,
        triage_score,
        cast(
            case
                when triage_score < {{ var('triage_threshold') }} then 'non_key'
                when pareto_class = 'A' and meets_revenue_criterion then 'key'
                when meets_potential_criterion or meets_growth_criterion then 'growth'
                else 'maintain'
            end as {{ enum('tier') }}
        ) as tier
    from criteria

)

select * from final

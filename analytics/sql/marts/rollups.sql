-- Account metrics rolled up the sales geography: per account, territory, region, country
-- (national) and overall (global). Additive metrics are sums over the accounts below; ratios
-- (growth, wallet share, win rate, pipeline coverage) are recomputed from those sums, never
-- averaged.

with

accounts as (

    select account_id, account_key, territory, region, country from {{ ref('stg_accounts') }}

),

revenue as (

    select * from {{ ref('int_account_revenue') }}

),

wallet as (

    select account_id, wallet_estimate, headroom from {{ ref('int_account_wallet') }}

),

leaves as (

    select
        accounts.account_key,
        accounts.territory,
        accounts.region,
        accounts.country,
        revenue.revenue_ttm,
        revenue.revenue_prior_ttm,
        revenue.won_count_ttm,
        revenue.lost_count_ttm,
        revenue.open_pipeline_amount,
        revenue.open_pipeline_weighted,
        wallet.wallet_estimate,
        wallet.headroom
    from accounts
    inner join revenue on revenue.account_id = accounts.account_id
    inner join wallet on wallet.account_id = accounts.account_id

),

rolled as (

    select
        cast(
            case
                when grouping(account_key) = 0 then 'account'
                when grouping(territory) = 0 then 'territory'
                when grouping(region) = 0 then 'region'
                when grouping(country) = 0 then 'national'
                else 'global'
            end as {{ enum('entity_level') }}
        ) as entity_level,
        coalesce(account_key, territory, region, country, 'global') as entity_key,
        count(*) as account_count,
        sum(revenue_ttm) as revenue_ttm,
        sum(revenue_prior_ttm) as revenue_prior_ttm,
        sum(wallet_estimate) as wallet_estimate,
        sum(headroom) as headroom,
        sum(open_pipeline_amount) as open_pipeline_amount,
        sum(open_pipeline_weighted) as open_pipeline_weighted,
        sum(won_count_ttm) as won_count_ttm,
        sum(lost_count_ttm) as lost_count_ttm
    from leaves
    group by grouping sets ((account_key), (territory), (region), (country), ())

),

final as (

    select
        *,
        case
            when revenue_prior_ttm > 0 then (revenue_ttm - revenue_prior_ttm) / revenue_prior_ttm
        end as revenue_growth,
        case when wallet_estimate > 0 then revenue_ttm / wallet_estimate end as wallet_share,
        case
            when won_count_ttm + lost_count_ttm > 0
                then won_count_ttm / (won_count_ttm + lost_count_ttm)
        end as win_rate,
        case when revenue_ttm > 0 then open_pipeline_amount / revenue_ttm end
            as pipeline_coverage
    from rolled

)

select * from final

-- Peer segments at three levels, widest last: industry x size band, industry, all accounts.
-- Peers are customers: accounts with TTM revenue above zero (an account is its own peer). Per
-- segment: how many peers, and the wallet quantile of their TTM spend.

with

accounts as (

    select account_id, industry, size_band from {{ ref('stg_accounts') }}

),

revenue as (

    select account_id, revenue_ttm from {{ ref('int_account_revenue') }}

),

customers as (

    select
        accounts.account_id,
        accounts.industry,
        accounts.size_band,
        revenue.revenue_ttm
    from accounts
    inner join revenue on revenue.account_id = accounts.account_id
    where revenue.revenue_ttm > 0

),

industry_size as (

    select
        'industry_size' as peer_level,
        1 as peer_level_rank,
        industry,
        size_band,
        format('industry x size band: {} / {}', industry, size_band) as peer_group,
        count(*) as peer_count,
        quantile_cont(revenue_ttm, {{ var('wallet_quantile') }}) as spend_quantile
    from customers
    where industry is not null and size_band is not null
    group by industry, size_band

),

industry as (

    select
        'industry' as peer_level,
        2 as peer_level_rank,
        industry,
        null as size_band,
        format('industry: {}', industry) as peer_group,
        count(*) as peer_count,
        quantile_cont(revenue_ttm, {{ var('wallet_quantile') }}) as spend_quantile
    from customers
    where industry is not null
    group by industry

),

everyone as (

    select
        'all' as peer_level,
        3 as peer_level_rank,
        null as industry,
        null as size_band,
        'all accounts' as peer_group,
        count(*) as peer_count,
        quantile_cont(revenue_ttm, {{ var('wallet_quantile') }}) as spend_quantile
    from customers
    having count(*) > 0

),

final as (

    select * from industry_size
    union all by name
    select * from industry
    union all by name
    select * from everyone

)

select * from final

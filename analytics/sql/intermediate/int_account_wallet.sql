-- Wallet per account: the CRM's wallet field when set (above zero), else the peer group's
-- wallet quantile of TTM spend; never below our own TTM revenue.

with

accounts as (

    select account_id, account_key, wallet_estimate_crm from {{ ref('stg_accounts') }}

),

revenue as (

    select account_id, revenue_ttm from {{ ref('int_account_revenue') }}

),

peers as (

    select * from {{ ref('int_account_peer_groups') }}

),

estimated as (

    select
        accounts.account_id,
        accounts.account_key,
        revenue.revenue_ttm as our_revenue_ttm,
        accounts.wallet_estimate_crm,
        peers.peer_group,
        cast(peers.peer_level as enum('all', 'industry', 'industry_size')) as peer_level,
        peers.peer_count,
        peers.spend_quantile as peer_quantile_spend,
        cast(
            case
                when accounts.wallet_estimate_crm is not null then 'crm_field'
                else 'peer_quantile'
            end as enum('crm_field', 'peer_quantile')
        ) as wallet_source,
        coalesce(accounts.wallet_estimate_crm, peers.spend_quantile, 0.0) as raw_wallet
    from accounts
    inner join revenue on revenue.account_id = accounts.account_id
    left join peers on peers.account_id = accounts.account_id

),

final as (

    select
        account_id,
        account_key,
        our_revenue_ttm,
        greatest(raw_wallet, our_revenue_ttm) as wallet_estimate,
        wallet_source,
        wallet_estimate_crm,
        peer_group,
        peer_level,
        peer_count,
        peer_quantile_spend,
        raw_wallet < our_revenue_ttm as is_floored_at_revenue,
        case
            when greatest(raw_wallet, our_revenue_ttm) > 0
                then our_revenue_ttm / greatest(raw_wallet, our_revenue_ttm)
        end as share,
        greatest(raw_wallet, our_revenue_ttm) - our_revenue_ttm as headroom
    from estimated

)

select * from final

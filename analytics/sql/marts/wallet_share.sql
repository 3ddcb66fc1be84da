-- One row per account: our TTM revenue, the wallet estimate and where it came from (the CRM's
-- wallet field, else the wallet quantile of the peer group named here), share and headroom.

with

wallet as (

    select * from {{ ref('int_account_wallet') }}

),

final as (

    select
        account_key,
        our_revenue_ttm,
        wallet_estimate,
        wallet_source,
        wallet_estimate_crm,
        case when wallet_source = 'peer_quantile' then peer_group end as peer_group,
        case when wallet_source = 'peer_quantile' then peer_level end as peer_level,
        case when wallet_source = 'peer_quantile' then peer_count end as peer_count,
        case when wallet_source = 'peer_quantile' then peer_quantile_spend end
            as peer_quantile_spend,
        is_floored_at_revenue,
        share,
        headroom
    from wallet

)

select * from final

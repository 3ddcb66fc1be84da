-- One row per account: our TTM revenue, the wallet estimate and where it came from (the CRM's
-- wallet field, else the wallet quantile of the account's peer group), share and headroom. The
-- peer group is shown for every account: whitespace benchmarks use it too.

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
        peer_group,
        peer_level,
        peer_count,
        peer_quantile_spend,
        is_floored_at_revenue,
        share,
        headroom
    from wallet

)

select * from final

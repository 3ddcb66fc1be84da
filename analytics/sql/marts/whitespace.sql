-- One row per account and product family: owned (won in the TTM window), pipeline (on an open
-- opportunity) or gap; the peer adoption rate and median spend of the owners among the
-- account's peers; expected value = adoption rate x owners' median spend; and the rank of each
-- gap among the account's gaps (highest expected value first).

with

accounts as (

    select account_key from {{ ref('stg_accounts') }}

),

families as (

    select product_family from {{ ref('stg_product_families') }}

),

spend as (

    select * from {{ ref('int_account_family_spend') }}

),

peers as (

    select account_key, peer_group, peer_count from {{ ref('int_account_peer_groups') }}

),

benchmarks as (

    select * from {{ ref('int_peer_family_benchmarks') }}

),

cells as (

    select
        accounts.account_key,
        families.product_family,
        case
            when spend.is_owned then 'owned'
            when spend.has_pipeline then 'pipeline'
            else 'gap'
        end as status,
        coalesce(spend.spend_ttm, 0.0) as our_spend_ttm,
        coalesce(spend.open_pipeline_amount, 0.0) as open_pipeline_amount,
        peers.peer_group,
        peers.peer_count,
        case
            when peers.peer_group is not null then coalesce(benchmarks.adoption_rate, 0.0)
        end as peer_adoption_rate,
        benchmarks.owner_median_spend as peer_median_spend
    from accounts
    cross join families
    left join spend
        on
            spend.account_key = accounts.account_key
            and spend.product_family = families.product_family
    left join peers on peers.account_key = accounts.account_key
    left join benchmarks
        on
            benchmarks.peer_group = peers.peer_group
            and benchmarks.product_family = families.product_family

),

final as (

    select
        account_key,
        product_family,
        status,
        our_spend_ttm,
        open_pipeline_amount,
        peer_group,
        peer_count,
        peer_adoption_rate,
        peer_median_spend,
        coalesce(peer_adoption_rate * peer_median_spend, 0.0) as expected_value,
        case
            when status = 'gap'
                then row_number() over (
                    partition by account_key, status = 'gap'
                    order by coalesce(peer_adoption_rate * peer_median_spend, 0.0) desc,
                    product_family
                )
        end as gap_rank
    from cells

)

select * from final

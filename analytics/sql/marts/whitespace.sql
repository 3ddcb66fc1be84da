-- One row per account and product family: owned (won in the TTM window), pipeline (on an open
-- opportunity) or gap; the peer adoption rate and median spend of the owners among the
-- account's peers; expected value = adoption rate x owners' median spend; and the rank of each
-- gap among the account's gaps (largest expected value first, ties by family name). The cells
-- are joined and ranked on the run's integer surrogate keys, not the long account keys.

with

accounts as (

    select account_id, account_key from {{ ref('stg_accounts') }}

),

families as (

    select family_id, product_family from {{ ref('stg_product_families') }}

),

peers as (

    select account_id, peer_group from {{ ref('int_account_peer_groups') }}

),

benchmarks as (

    select * from {{ ref('int_peer_family_benchmarks') }}

),

spend as (

    select * from {{ ref('int_account_family_spend') }}

),

cells as (

    select
        accounts.account_id,
        accounts.account_key,
        families.family_id,
        families.product_family,
        case
            when spend.is_owned then 'owned'
            when spend.has_pipeline then 'pipeline'
            else 'gap'
        end as status,
        coalesce(spend.spend_ttm, 0.0) as our_spend_ttm,
        coalesce(spend.open_pipeline_amount, 0.0) as open_pipeline_amount,
        case
            when peers.peer_group is not null then coalesce(benchmarks.adoption_rate, 0.0)
        end as peer_adoption_rate,
        benchmarks.owner_median_spend as peer_median_spend,
        coalesce(benchmarks.adoption_rate * benchmarks.owner_median_spend, 0.0) as expected_value
    from accounts
    cross join families
    left join spend
        on
            spend.account_id = accounts.account_id
            and spend.family_id = families.family_id
    left join peers on peers.account_id = accounts.account_id
    left join benchmarks
        on
            benchmarks.peer_group = peers.peer_group
            and benchmarks.family_id = families.family_id

),

gap_ranks as (

    select
        account_id,
        family_id,
        row_number() over (
            partition by account_id order by expected_value desc, product_family
        ) as gap_rank
    from cells
    where status = 'gap'

),

final as (

    select
        cells.account_key,
        cells.product_family,
        cells.status,
        cells.our_spend_ttm,
        cells.open_pipeline_amount,
        cells.peer_adoption_rate,
        cells.peer_median_spend,
        cells.expected_value,
        gap_ranks.gap_rank
    from cells
    left join gap_ranks
        on
            gap_ranks.account_id = cells.account_id
            and gap_ranks.family_id = cells.family_id

)

select * from final

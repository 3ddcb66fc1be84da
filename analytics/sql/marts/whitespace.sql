-- One row per account and product family: owned (won in the TTM window), pipeline (on an open
-- opportunity) or gap; the peer adoption rate and median spend of the owners among the
-- account's peers; expected value = adoption rate x owners' median spend; and the rank of each
-- gap among the account's gaps (largest expected value first, ties by family name).
--
-- Expected value depends only on the peer group and the family, so the order gaps are ranked
-- in is worked out once per peer group (int_peer_family_order, a few hundred rows). A gap's
-- rank is then its position in its peer group's order less the families before it that the
-- account owns or has in pipeline (int_account_taken_families): no window over the millions of
-- cells, and no second join of them. status is an
-- ENUM (listed alphabetically, so it sorts as text does): it reads as the same text, and two
-- million one-byte codes are much cheaper to write than two million strings.

with

accounts as (

    select account_id, account_key from {{ ref('stg_accounts') }}

),

peers as (

    select account_id, peer_group from {{ ref('int_account_peer_groups') }}

),

spend as (

    select * from {{ ref('int_account_family_spend') }}

),

peer_families as (

    select * from {{ ref('int_peer_family_order') }}

),

taken as (

    select * from {{ ref('int_account_taken_families') }}

),

cells as (

    select
        accounts.account_key,
        peer_families.product_family,
        cast(
            case
                when spend.is_owned then 'owned'
                when spend.has_pipeline then 'pipeline'
                else 'gap'
            end as enum('gap', 'owned', 'pipeline')
        ) as status,
        coalesce(spend.spend_ttm, 0.0) as our_spend_ttm,
        coalesce(spend.open_pipeline_amount, 0.0) as open_pipeline_amount,
        peer_families.peer_adoption_rate,
        peer_families.peer_median_spend,
        peer_families.expected_value,
        peer_families.family_position,
        taken.taken_positions
    from accounts
    left join peers on peers.account_id = accounts.account_id
    inner join peer_families on peer_families.peer_group is not distinct from peers.peer_group
    left join spend
        on
            spend.account_id = accounts.account_id
            and spend.family_id = peer_families.family_id
    left join taken on taken.account_id = accounts.account_id

),

final as (

    select
        account_key,
        product_family,
        status,
        our_spend_ttm,
        open_pipeline_amount,
        peer_adoption_rate,
        peer_median_spend,
        expected_value,
        -- a gap's rank among the account's gaps: the families ordered before it, less those
        -- of them the account owns or has in pipeline
        case
            when status = 'gap'
                then family_position - coalesce(
                    len(list_filter(taken_positions, lambda taken: taken < family_position)), 0
                )
        end as gap_rank
    from cells

)

select * from final

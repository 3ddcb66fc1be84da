-- Every product family in every peer group (including the NULL group of accounts without
-- one), with the peers' adoption rate and median spend, the expected value of the family as a
-- gap (adoption rate x median spend) and its position in the order gaps are ranked in (largest
-- expected value first, ties by family name). A few hundred rows: expected value depends only
-- on the peer group and the family.

with

peers as (

    select peer_group from {{ ref('int_account_peer_groups') }}

),

families as (

    select family_id, product_family from {{ ref('stg_product_families') }}

),

benchmarks as (

    select * from {{ ref('int_peer_family_benchmarks') }}

),

peer_groups as (

    select distinct peer_group from peers

),

final as (

    select
        peer_groups.peer_group,
        families.family_id,
        families.product_family,
        case
            when peer_groups.peer_group is not null then coalesce(benchmarks.adoption_rate, 0.0)
        end as peer_adoption_rate,
        benchmarks.owner_median_spend as peer_median_spend,
        coalesce(benchmarks.adoption_rate * benchmarks.owner_median_spend, 0.0) as expected_value,
        row_number() over (
            partition by peer_groups.peer_group
            order by
                coalesce(benchmarks.adoption_rate * benchmarks.owner_median_spend, 0.0) desc,
                families.product_family
        ) as family_position
    from peer_groups
    cross join families
    left join benchmarks
        on
            benchmarks.peer_group = peer_groups.peer_group
            and benchmarks.family_id = families.family_id

)

select * from final

-- Per account that owns a family or has one in pipeline, the positions (in its peer group's
-- order, see int_peer_family_order) of the families that are therefore not gaps.

with

spend as (

    select account_id, family_id from {{ ref('int_account_family_spend') }}
    where is_owned or has_pipeline

),

peers as (

    select account_id, peer_group from {{ ref('int_account_peer_groups') }}

),

peer_families as (

    select peer_group, family_id, family_position from {{ ref('int_peer_family_order') }}

),

final as (

    select
        spend.account_id,
        list(peer_families.family_position) as taken_positions
    from spend
    inner join peers on peers.account_id = spend.account_id
    inner join peer_families
        on
            peer_families.peer_group is not distinct from peers.peer_group
            and peer_families.family_id = spend.family_id
    group by spend.account_id

)

select * from final

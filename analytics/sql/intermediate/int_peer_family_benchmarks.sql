-- Per peer segment and product family (family_id): how many of the segment's peers own the family (won it
-- in the TTM window), their median TTM spend on it, and the adoption rate (owners / peers).
-- Only pairs with at least one owner; a missing pair means nobody in the segment owns it.

with

segments as (

    select * from {{ ref('int_peer_segments') }}

),

accounts as (

    select account_id, industry, size_band from {{ ref('stg_accounts') }}

),

revenue as (

    select account_id from {{ ref('int_account_revenue') }}
    where revenue_ttm > 0

),

spend as (

    select account_id, family_id, spend_ttm from {{ ref('int_account_family_spend') }}
    where is_owned

),

owners as (

    select
        accounts.industry,
        accounts.size_band,
        spend.family_id,
        spend.spend_ttm
    from spend
    inner join revenue on revenue.account_id = spend.account_id
    inner join accounts on accounts.account_id = spend.account_id

),

by_segment as (

    select
        format('industry x size band: {} / {}', industry, size_band) as peer_group,
        family_id,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    where industry is not null and size_band is not null
    group by industry, size_band, family_id

    union all

    select
        format('industry: {}', industry) as peer_group,
        family_id,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    where industry is not null
    group by industry, family_id

    union all

    select
        'all accounts' as peer_group,
        family_id,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    group by family_id

),

final as (

    select
        by_segment.peer_group,
        by_segment.family_id,
        by_segment.owner_count,
        segments.peer_count,
        by_segment.owner_count / segments.peer_count as adoption_rate,
        by_segment.owner_median_spend
    from by_segment
    inner join segments on segments.peer_group = by_segment.peer_group

)

select * from final

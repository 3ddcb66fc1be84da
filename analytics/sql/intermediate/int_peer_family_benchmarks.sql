-- Per peer segment and product family: how many of the segment's peers own the family (won it
-- in the TTM window), their median TTM spend on it, and the adoption rate (owners / peers).
-- Only pairs with at least one owner; a missing pair means nobody in the segment owns it.

with

segments as (

    select * from {{ ref('int_peer_segments') }}

),

accounts as (

    select account_key, industry, size_band from {{ ref('stg_accounts') }}

),

revenue as (

    select account_key from {{ ref('int_account_revenue') }}
    where revenue_ttm > 0

),

spend as (

    select account_key, product_family, spend_ttm from {{ ref('int_account_family_spend') }}
    where is_owned

),

owners as (

    select
        accounts.industry,
        accounts.size_band,
        spend.product_family,
        spend.spend_ttm
    from spend
    inner join revenue on revenue.account_key = spend.account_key
    inner join accounts on accounts.account_key = spend.account_key

),

by_segment as (

    select
        format('industry x size band: {} / {}', industry, size_band) as peer_group,
        product_family,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    where industry is not null and size_band is not null
    group by industry, size_band, product_family

    union all

    select
        format('industry: {}', industry) as peer_group,
        product_family,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    where industry is not null
    group by industry, product_family

    union all

    select
        'all accounts' as peer_group,
        product_family,
        count(*) as owner_count,
        median(spend_ttm) as owner_median_spend
    from owners
    group by product_family

),

final as (

    select
        by_segment.peer_group,
        by_segment.product_family,
        by_segment.owner_count,
        segments.peer_count,
        by_segment.owner_count / segments.peer_count as adoption_rate,
        by_segment.owner_median_spend
    from by_segment
    inner join segments on segments.peer_group = by_segment.peer_group

)

select * from final

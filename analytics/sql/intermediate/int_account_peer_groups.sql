-- Each account's peer group: the narrowest segment (industry x size band, then industry) with
-- at least peer_min peers, else all accounts. An account without industry or size band skips
-- the segments it cannot be placed in. NULL only when no account has any revenue.

with

accounts as (

    select account_id, industry, size_band from {{ ref('stg_accounts') }}

),

segments as (

    select * from {{ ref('int_peer_segments') }}

),

candidates as (

    select
        accounts.account_id,
        narrow.peer_group as narrow_group,
        narrow.peer_count as narrow_count,
        wide.peer_group as wide_group,
        wide.peer_count as wide_count,
        everyone.peer_group as all_group
    from accounts
    left join segments as narrow
        on
            narrow.peer_level = 'industry_size'
            and narrow.industry = accounts.industry
            and narrow.size_band = accounts.size_band
    left join segments as wide
        on wide.peer_level = 'industry' and wide.industry = accounts.industry
    left join segments as everyone on everyone.peer_level = 'all'

),

chosen as (

    select
        account_id,
        case
            when narrow_count >= {{ var('peer_min') }} then narrow_group
            when wide_count >= {{ var('peer_min') }} then wide_group
            else all_group
        end as peer_group
    from candidates

),

final as (

    select
        chosen.account_id,
        segments.peer_group,
        segments.peer_level,
        segments.peer_count,
        segments.spend_quantile
    from chosen
    left join segments on segments.peer_group = chosen.peer_group

)

select * from final

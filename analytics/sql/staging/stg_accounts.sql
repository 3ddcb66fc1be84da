-- One row per live account with the attributes every mart uses: the sales geography (the
-- account's own, else its owner's), the employee size band that defines peer groups, and the
-- CRM triage factors that are in range (1-10; anything else counts as not set). A wallet
-- estimate of zero or less counts as not set. account_id is a surrogate key valid for one run
-- only: joins on it are much cheaper than on the long account keys; marts never show it.

with

accounts as (

    select * from crm.accounts

),

users as (

    select user_key, region, territory from crm.users

),

cleaned as (

    select
        row_number() over () as account_id,
        accounts.account_key,
        accounts.source,
        accounts.source_id,
        coalesce(nullif(trim(accounts.name), ''), accounts.account_key) as account_name,
        nullif(trim(accounts.parent_account_key), '') as parent_account_key,
        nullif(trim(accounts.global_match_key), '') as global_match_key,
        accounts.owner_user_key,
        nullif(trim(accounts.industry), '') as industry,
        coalesce(nullif(trim(accounts.country), ''), 'unknown') as country,
        coalesce(
            nullif(trim(accounts.region), ''), nullif(trim(users.region), ''), 'unassigned'
        ) as region,
        coalesce(
            nullif(trim(accounts.territory), ''), nullif(trim(users.territory), ''), 'unassigned'
        ) as territory,
        accounts.employees,
        cast(accounts.annual_revenue as double) as annual_revenue,
        case
            when accounts.wallet_estimate_crm > 0 then cast(accounts.wallet_estimate_crm as double)
        end as wallet_estimate_crm,
        case
            when accounts.market_position_score between 1 and 10
                then accounts.market_position_score
        end as market_position_crm,
        case
            when accounts.innovation_orientation_score between 1 and 10
                then accounts.innovation_orientation_score
        end as innovation_orientation_crm,
        case
            when accounts.strategy_influence_score between 1 and 10
                then accounts.strategy_influence_score
        end as strategy_influence_crm,
        case
            when accounts.operational_complexity_score between 1 and 10
                then accounts.operational_complexity_score
        end as operational_complexity_crm
    from accounts
    left join users on users.user_key = accounts.owner_user_key

),

banded as (

    select
        *,
        case
            when employees is not null
                then len(list_filter({{ var('size_bands') }}, lambda bound: bound <= employees))
        end as size_band_index
    from cleaned

),

final as (

    select
        * exclude (size_band_index),
        case
            when size_band_index is null then null
            when size_band_index = 0 then format('<{}', {{ var('size_bands') }}[1])
            when size_band_index = len({{ var('size_bands') }})
                then format('{}+', {{ var('size_bands') }}[size_band_index])
            else format(
                '{}-{}',
                {{ var('size_bands') }}[size_band_index],
                {{ var('size_bands') }}[size_band_index + 1] - 1
            )
        end as size_band
    from banded

)

select * from final

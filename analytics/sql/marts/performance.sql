-- Actual (won revenue), forecast (open pipeline x probability) and target (from the targets
-- file) per entity (account, territory, region, country, global) and period (week, month,
-- quarter, year), for periods from the start of the year the TTM window starts in to the end of
-- the year one TTM window after the as-of date. Open opportunities whose close date has passed
-- are forecast in the period of the as-of date. Only cells with something in them are rows.
-- entity_level and period_grain are ENUMs of the vocabularies in analytics/vocabularies.py
-- (listed alphabetically, so they sort as text does): they read as the same text and are much
-- cheaper to group, join and write than strings.

with

opportunities as (

    select account_id, opportunity_value, probability, is_won, is_open, close_date
    from {{ ref('int_opportunity_values') }}

),

accounts as (

    select account_id, account_key, territory, region, country from {{ ref('stg_accounts') }}

),

targets as (

    select
        cast(entity_level as {{ enum('entity_level') }}) as entity_level,
        entity_key,
        cast(period_grain as {{ enum('period_grain') }}) as period_grain,
        period_start,
        target
    from {{ ref('seed_targets') }}

),

events as (

    select
        account_id,
        close_date as event_date,
        opportunity_value as actual,
        0.0 as forecast
    from opportunities
    where
        is_won
        and close_date between {{ var('performance_start_date') }} and {{ var('as_of_date') }}

    union all

    select
        account_id,
        greatest(coalesce(close_date, {{ var('as_of_date') }}), {{ var('as_of_date') }})
            as event_date,
        0.0 as actual,
        opportunity_value * probability as forecast
    from opportunities
    where
        is_open
        and coalesce(close_date, {{ var('as_of_date') }}) <= {{ var('performance_end_date') }}

),

account_weeks as (

    select
        account_id,
        cast('week' as {{ enum('period_grain') }}) as period_grain,
        cast(date_trunc('week', event_date) as date) as period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from events
    group by account_id, period_start

),

account_months as (

    select
        account_id,
        cast('month' as {{ enum('period_grain') }}) as period_grain,
        cast(date_trunc('month', event_date) as date) as period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from events
    group by account_id, period_start

),

account_quarters as (

    -- months nest in quarters and quarters in years, so each rolls up from the one below
    select
        account_id,
        cast('quarter' as {{ enum('period_grain') }}) as period_grain,
        cast(date_trunc('quarter', period_start) as date) as period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from account_months
    group by account_id, cast(date_trunc('quarter', period_start) as date)

),

account_years as (

    select
        account_id,
        cast('year' as {{ enum('period_grain') }}) as period_grain,
        cast(date_trunc('year', period_start) as date) as period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from account_quarters
    group by account_id, cast(date_trunc('year', period_start) as date)

),

account_periods as (

    select * from account_weeks
    union all
    select * from account_months
    union all
    select * from account_quarters
    union all
    select * from account_years

),

account_cells as (

    -- each account period with the account's key and geography, joined once for every level
    select
        accounts.account_key,
        accounts.territory,
        accounts.region,
        accounts.country,
        account_periods.period_grain,
        account_periods.period_start,
        account_periods.actual,
        account_periods.forecast
    from account_periods
    inner join accounts on accounts.account_id = account_periods.account_id

),

geography_cells as (

    -- one pass over the account cells; the four levels roll up from these few rows
    select
        territory,
        region,
        country,
        period_grain,
        period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from account_cells
    group by territory, region, country, period_grain, period_start

),

upper_levels as (

    select
        cast(
            case
                when grouping(territory) = 0 then 'territory'
                when grouping(region) = 0 then 'region'
                when grouping(country) = 0 then 'national'
                else 'global'
            end as {{ enum('entity_level') }}
        ) as entity_level,
        coalesce(territory, region, country, 'global') as entity_key,
        period_grain,
        period_start,
        sum(actual) as actual,
        sum(forecast) as forecast
    from geography_cells
    group by grouping sets (
        (territory, period_grain, period_start),
        (region, period_grain, period_start),
        (country, period_grain, period_start),
        (period_grain, period_start)
    )

),

leveled as (

    select
        cast('account' as {{ enum('entity_level') }}) as entity_level,
        account_key as entity_key,
        period_grain,
        period_start,
        actual,
        forecast
    from account_cells

    union all

    select * from upper_levels

),

joined as (

    select
        coalesce(leveled.entity_level, targets.entity_level) as entity_level,
        coalesce(leveled.entity_key, targets.entity_key) as entity_key,
        coalesce(leveled.period_grain, targets.period_grain) as period_grain,
        coalesce(leveled.period_start, targets.period_start) as period_start,
        coalesce(leveled.actual, 0.0) as actual,
        coalesce(leveled.forecast, 0.0) as forecast,
        targets.target
    from leveled
    full outer join targets
        on
            targets.entity_level = leveled.entity_level
            and targets.entity_key = leveled.entity_key
            and targets.period_grain = leveled.period_grain
            and targets.period_start = leveled.period_start

),

final as (

    select
        entity_level,
        entity_key,
        period_grain,
        period_start,
        cast(
            period_start
            + case period_grain
                when 'week' then interval 7 day
                when 'month' then interval 1 month
                when 'quarter' then interval 3 month
                else interval 1 year
            end
            - interval 1 day as date
        ) as period_end,
        actual,
        forecast,
        target,
        actual + forecast as expected_total,
        target - (actual + forecast) as gap_to_target,
        case when target > 0 then actual / target end as attainment
    from joined

)

select * from final

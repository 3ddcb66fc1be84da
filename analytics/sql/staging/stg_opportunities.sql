-- Opportunities of known accounts (by the accounts' run-only account_id) with the flags of the
-- analysis windows. Negative amounts count as zero; a NULL amount stays NULL here (its lines
-- give the value, see int_opportunity_values). Probability is clamped to 0-1.

with

opportunities as (

    select * from crm.opportunities

),

accounts as (

    select account_id, account_key from {{ ref('stg_accounts') }}

),

final as (

    select
        opportunities.opportunity_key,
        accounts.account_id,
        case when amount < 0 then 0.0 else cast(amount as double) end as amount,
        least(greatest(coalesce(probability, 0.0), 0.0), 1.0) as probability,
        is_closed,
        is_won,
        close_date,
        coalesce(
            is_won and close_date between {{ var('ttm_start_date') }} and {{ var('as_of_date') }},
            false
        ) as is_won_ttm,
        coalesce(
            is_won
            and close_date
            between {{ var('prior_ttm_start_date') }} and {{ var('prior_ttm_end_date') }},
            false
        ) as is_won_prior_ttm,
        coalesce(
            is_closed
            and not is_won
            and close_date between {{ var('ttm_start_date') }} and {{ var('as_of_date') }},
            false
        ) as is_lost_ttm,
        not is_closed as is_open
    from opportunities
    inner join accounts on accounts.account_key = opportunities.account_key

)

select * from final

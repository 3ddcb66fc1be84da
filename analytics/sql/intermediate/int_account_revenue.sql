-- Revenue and pipeline per account (every account, zero when it has none): won revenue in the
-- TTM window and the one before it, won and lost counts in the TTM window, open pipeline.

with

accounts as (

    select account_id, account_key from {{ ref('stg_accounts') }}

),

opportunities as (

    select * from {{ ref('int_opportunity_values') }}

),

per_account as (

    select
        account_id,
        sum(opportunity_value) filter (where is_won_ttm) as revenue_ttm,
        sum(opportunity_value) filter (where is_won_prior_ttm) as revenue_prior_ttm,
        count(*) filter (where is_won_ttm) as won_count_ttm,
        count(*) filter (where is_lost_ttm) as lost_count_ttm,
        sum(opportunity_value) filter (where is_open) as open_pipeline_amount,
        sum(opportunity_value * probability) filter (where is_open) as open_pipeline_weighted,
        count(*) filter (where is_open) as open_opportunity_count
    from opportunities
    group by account_id

),

final as (

    select
        accounts.account_id,
        accounts.account_key,
        coalesce(per_account.revenue_ttm, 0.0) as revenue_ttm,
        coalesce(per_account.revenue_prior_ttm, 0.0) as revenue_prior_ttm,
        coalesce(per_account.won_count_ttm, 0) as won_count_ttm,
        coalesce(per_account.lost_count_ttm, 0) as lost_count_ttm,
        coalesce(per_account.open_pipeline_amount, 0.0) as open_pipeline_amount,
        coalesce(per_account.open_pipeline_weighted, 0.0) as open_pipeline_weighted,
        coalesce(per_account.open_opportunity_count, 0) as open_opportunity_count
    from accounts
    left join per_account on per_account.account_id = accounts.account_id

)

select * from final

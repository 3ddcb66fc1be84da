-- Problems found while walking parent links, one row per affected account: a chain that runs
-- into a cycle (reported, not looped) or a parent that does not exist.

with

hierarchy as (

    select * from {{ ref('int_account_hierarchy') }}

),

cycles as (

    select
        account_key,
        'parent_cycle' as issue,
        ultimate_parent_key as related_key,
        format(
            'parent links loop: {} -> {}',
            array_to_string(cycle_members, ' -> '),
            cycle_members[1]
        ) as detail
    from hierarchy
    where has_parent_cycle

),

missing as (

    select
        account_key,
        'missing_parent' as issue,
        parent_account_key as related_key,
        format('parent {} is not a live account; the chain stops here', parent_account_key)
            as detail
    from hierarchy
    where has_missing_parent

),

final as (

    select * from cycles
    union all
    select * from missing

)

select * from final

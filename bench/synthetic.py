"""A synthetic KAM world written straight into ``crm.*`` with SQL, for benchmarks and tests.

Deterministic: every "random" value is a hash of the row number, so the same size gives the
same world.  Keys look like real ones (``sf_emea:001000000000000042``, Dataverse GUIDs), too
long for DuckDB to inline, and activities are stored in date order as a sync lands them.
"""

from __future__ import annotations

from datetime import date

import duckdb

AS_OF = date(2025, 6, 30)

REGIONS = "['EMEA', 'AMER', 'APAC', 'LATAM']"
COUNTRIES = (
    "['Germany', 'France', 'United Kingdom', 'Italy', 'Spain', 'Netherlands', 'Sweden', "
    "'Poland', 'United States', 'Canada', 'Mexico', 'Brazil', 'Argentina', 'Chile', 'Japan', "
    "'China', 'India', 'Australia', 'Singapore', 'Korea']"
)
INDUSTRIES = (
    "['Manufacturing', 'Retail', 'Healthcare', 'Financial Services', 'Energy', 'Logistics', "
    "'Telecommunications', 'Public Sector', 'Education', 'Media', 'Automotive', 'Chemicals', "
    "'Food', 'Construction', 'Technology']"
)
FAMILIES = (
    "['Compute', 'Storage', 'Networking', 'Security', 'Analytics', 'Collaboration', "
    "'Support', 'Training', 'Consulting', 'Managed Services']"
)

# u(i, salt): a uniform number in [0, 1) from the row number, the same on every run
U = "((cast(cast(hash({i}, '{salt}') % 1000000 as bigint) as bigint)) / 1000000.0)"


def u(i: str, salt: str) -> str:
    return U.format(i=i, salt=salt)


def sf_id(prefix: str, number: str) -> str:
    """An 18-character Salesforce-style id: key prefix, then the number zero-padded."""
    return f"'{prefix}' || lpad(cast({number} as varchar), 15, '0')"


def account_id(number: str) -> str:
    """A Salesforce id in the Salesforce org, a GUID in the Dataverse one."""
    return (
        f"case when src = 'sf_emea' then {sf_id('001', number)} "
        f"else format('{{:08d}}-0000-4000-8000-{{:012d}}', {number}, {number}) end"
    )


def generate(con: duckdb.DuckDBPyConnection, accounts: int, activities_per_account: int) -> None:
    """Fill crm.* with a synthetic world (tables must be empty).

    Keys look like real ones (``sf_emea:001000000000000042``, Dataverse GUIDs), so they are too
    long for DuckDB to inline, and activities are stored in date order as a sync lands them,
    not grouped by account.
    """
    as_of = AS_OF.isoformat()
    statements = [
        f"""
        insert into crm.users
        select 'sf_emea:' || {sf_id("005", "i")}, 'sf_emea', {sf_id("005", "i")},
               'User ' || i, 'u' || i || '@example.com', {REGIONS}[1 + i % 4], 'T' || (i % 40),
               true
        from range(500) t(i)
        """,
        # accounts: 60% in the Salesforce org; 40% have a parent in their own org (trees up to
        # two levels deep); pairs of tree tops in both orgs share a global match key; a third
        # have a CRM wallet, half the triage factors
        f"""
        insert into crm.accounts (account_key, source, source_id, name, parent_account_key,
            ultimate_parent_key, owner_user_key, industry, country, city, region, territory,
            annual_revenue, employees, wallet_estimate_crm, global_match_key,
            market_position_score, innovation_orientation_score, strategy_influence_score,
            operational_complexity_score)
        select
            src || ':' || id, src, id, 'Account ' || i,
            case when p is not null then src || ':' || parent_id end,
            null,
            'sf_emea:' || {sf_id("005", "i % 500")},
            case when i % 97 = 0 then null else {INDUSTRIES}[1 + cast(hash(i, 'ind') % 15 as bigint)] end,
            {COUNTRIES}[1 + cast(hash(i, 'cty') % 20 as bigint)], null, null, null,
            round(exp(12 + 3 * {u("i", "rev")}), 2),
            cast(exp(2 + 6 * {u("i", "emp")}) as integer),
            case when i % 3 = 0 then round(exp(10 + 4 * {u("i", "wal")}), 2) end,
            case when i % 5000 = 0 then 'G' || (i // 5000)
                 when i % 5000 = 2503 then 'G' || (i // 5000) end,
            case when i % 2 = 0 then 1 + cast(hash(i, 'f1') % 10 as bigint) end,
            case when i % 2 = 0 then 1 + cast(hash(i, 'f2') % 10 as bigint) end,
            case when i % 2 = 0 then 1 + cast(hash(i, 'f3') % 10 as bigint) end,
            case when i % 2 = 0 then 1 + cast(hash(i, 'f4') % 10 as bigint) end
        from (
            select i, src, p, {account_id("i")} as id, {account_id("p")} as parent_id
            from (select i, case when i % 5 < 3 then 'sf_emea' else 'd365_apac' end as src,
                         case when i % 5 in (1, 4) then i - 1
                              when i % 10 = 2 then i - 1
                              when i % 5 = 2 then i - 2 end as p
                  from range({accounts}) t(i))
        )
        """,
        """
        insert into crm.contacts (contact_key, source, source_id, account_key, name, title,
            buying_role, is_decision_maker, email)
        select a.account_key || '/c' || k, a.source, a.source_id || '/c' || k, a.account_key,
               'Contact ' || k, 'Title', r.role, r.role = 'decision_maker', null
        from crm.accounts a, range(5) t(k),
             lateral (select ['decision_maker', 'influencer', 'user', 'gatekeeper', 'user']
                      [1 + (cast(hash(a.account_key, k) % 5 as bigint))] as role) r
        """,
        f"""
        insert into crm.products
        select 'sf_emea:' || {sf_id("01t", "i")}, 'sf_emea', {sf_id("01t", "i")},
               'Product ' || i, {FAMILIES}[1 + i % 10], 'P' || i, true
        from range(200) t(i)
        """,
        # opportunities: a heavy-tailed number per account (mean about 5), three years back
        # and half a year ahead
        f"""
        insert into crm.opportunities (opportunity_key, source, source_id, account_key,
            owner_user_key, name, stage, amount, probability, is_closed, is_won, close_date,
            forecast_category)
        select
            a.account_key || '/o' || n, a.source, a.source_id || '/o' || n, a.account_key,
            a.owner_user_key, 'Opp', 'Stage', round(exp(8 + 4 * {u("a.account_key || n", "amt")}), 2),
            {u("a.account_key || n", "prb")},
            c.close_date <= date '{as_of}' and {u("a.account_key || n", "cls")} < 0.9,
            c.close_date <= date '{as_of}' and {u("a.account_key || n", "cls")} < 0.45,
            c.close_date, 'pipeline'
        from crm.accounts a,
             lateral (select cast(floor(exp(3 * {u("a.account_key", "nopp")})) as integer) as n_opps) m,
             range(1000) t(n),
             lateral (select date '{as_of}' - cast(1100 * {u("a.account_key || n", "day")} as integer)
                             + 180 as close_date) c
        where n < m.n_opps
        """,
        """
        insert into crm.opportunity_lines
        select o.opportunity_key || '/l' || k, o.source, o.source_id || '/l' || k,
               o.opportunity_key, 'sf_emea:01t' || lpad(cast(cast(hash(o.opportunity_key, k) % 200 as bigint) as varchar), 15, '0'),
               1 + k, round(o.amount / 3 / (1 + k), 2), round(o.amount / 3, 2)
        from crm.opportunities o, range(3) t(k)
        """,
        # activities: heavy-tailed per account, over three years; some accounts neglected;
        # stored in date order, as a sync lands them
        f"""
        insert into crm.activities
        select * from (
            select
                a.account_key || '/t' || n, a.source, a.source_id || '/t' || n, 'Task',
                a.account_key, a.account_key || '/c' || (cast(hash(a.account_key, n) % 5 as bigint)),
                a.owner_user_key,
                ['call', 'meeting', 'visit', 'email', 'task'][1 + cast(hash(a.account_key, n, 't') % 5 as bigint)],
                'Subject',
                date '{as_of}' + 30 - cast(1125 * {u("a.account_key || n", "ad")} as integer)
                    as activity_date,
                cast(hash(a.account_key, n, 'c') % 10 as bigint) < 8
            from crm.accounts a,
                 lateral (select cast({activities_per_account} * 2 * {u("a.account_key", "nact")}
                                 as integer) as n_act) m,
                 range({activities_per_account * 2}) t(n)
            where n < m.n_act
        )
        order by activity_date
        """,
    ]
    for sql in statements:
        con.execute(sql).fetchall()
    con.execute("checkpoint").fetchall()

"""What ``kamsync analyze`` prints after a run: tiers by health band, the biggest whitespace,
the most overdue key accounts, and hierarchy problems."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
from rich.console import Console, Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from analytics.runner import AnalysisResult

TIER_ORDER: tuple[str, ...] = ("key", "growth", "maintain", "non_key")
BANDS: tuple[str, ...] = ("green", "amber", "red")
TOP = 10


@dataclass(frozen=True)
class FamilyGaps:
    """Where the whitespace is: a product family, the accounts lacking it, what that is worth.

    Per family rather than per account: expected value is a peer group's figure, so the largest
    single gaps would be many accounts of one peer group with the same family and value.
    """

    product_family: str
    accounts: int
    key_accounts: int
    expected_value: float


@dataclass(frozen=True)
class Overdue:
    """A key account whose next touch is overdue."""

    account_name: str
    account_key: str
    last_touch_date: date | None
    days_overdue: int | None
    health_band: str


@dataclass(frozen=True)
class Summary:
    """The numbers the summary shows."""

    result: AnalysisResult
    tier_bands: dict[str, dict[str, int]]
    whitespace: list[FamilyGaps]
    overdue: list[Overdue]
    hierarchy_issues: dict[str, int]


def read_tier_bands(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Accounts per tier and health band, from ``kam.account_scores``."""
    tier_bands: dict[str, dict[str, int]] = {}
    for tier, band, count in con.execute(
        "select tier, health_band, count(*) from kam.account_scores group by all"
    ).fetchall():
        tier_bands.setdefault(tier, {})[band] = int(count)
    return tier_bands


def read_family_gaps(con: duckdb.DuckDBPyConnection, top: int = TOP) -> list[FamilyGaps]:
    """The ``top`` product families by the expected value of their gaps."""
    rows = con.execute(
        """
        select w.product_family, count(*), count(*) filter (where s.tier = 'key'),
               sum(w.expected_value) as expected_value
        from kam.whitespace as w
        inner join kam.account_scores as s on s.account_key = w.account_key
        where w.status = 'gap' and w.expected_value > 0
        group by w.product_family
        order by expected_value desc, w.product_family
        limit ?
        """,
        [top],
    ).fetchall()
    return [FamilyGaps(str(f), int(n), int(key), float(value)) for f, n, key, value in rows]


def summarize(con: duckdb.DuckDBPyConnection, result: AnalysisResult) -> Summary:
    """Read the summary from the marts the run just built."""
    tier_bands = read_tier_bands(con)
    whitespace = read_family_gaps(con)
    overdue = [
        Overdue(*row)
        for row in con.execute(
            """
            select s.account_name, c.account_key, c.last_touch_date, c.days_overdue,
                   s.health_band
            from kam.call_frequency as c
            inner join kam.account_scores as s on s.account_key = c.account_key
            where c.tier = 'key' and c.is_overdue
            order by c.days_overdue desc nulls first, s.our_revenue_ttm desc, c.account_key
            limit ?
            """,
            [TOP],
        ).fetchall()
    ]
    issues = {
        str(issue): int(count)
        for issue, count in con.execute(
            "select issue, count(*) from kam.hierarchy_issues group by issue order by issue"
        ).fetchall()
    }
    return Summary(result, tier_bands, whitespace, overdue, issues)


def tier_table(tier_bands: dict[str, dict[str, int]]) -> Table:
    """Accounts by tier (rows) and health band (columns), with totals."""
    table = _table(
        "Accounts by tier and health band",
        (("tier", "left"), *((band, "right") for band in BANDS), ("total", "right")),
    )
    tiers = [t for t in TIER_ORDER if t in tier_bands]
    for tier in tiers:
        counts = tier_bands[tier]
        table.add_row(
            tier, *(f"{counts.get(band, 0):,}" for band in BANDS), f"{sum(counts.values()):,}"
        )
    totals = [sum(tier_bands[t].get(band, 0) for t in tiers) for band in BANDS]
    table.add_row("all", *(f"{n:,}" for n in totals), f"{sum(totals):,}", style="bold")
    return table


def print_marts_summary(con: duckdb.DuckDBPyConnection, console: Console) -> None:
    """The demo's view of the marts (entry point ``kamsync.summaries``): accounts by tier and
    health band, and the five product families with the most whitespace."""
    console.print(tier_table(read_tier_bands(con)))
    console.print(whitespace_table(read_family_gaps(con, top=5)))


def _table(title: str, columns: tuple[tuple[str, JustifyMethod], ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify)
    return table


def whitespace_table(families: list[FamilyGaps]) -> Table:
    """The product families whose gaps are worth most."""
    table = _table(
        "Biggest whitespace by product family (gaps)",
        (("product family", "left"), ("accounts with a gap", "right"),
         ("key accounts", "right"), ("expected value", "right")),
    )  # fmt: skip
    for family in families:
        table.add_row(
            family.product_family,
            f"{family.accounts:,}",
            f"{family.key_accounts:,}",
            f"{family.expected_value:,.0f}",
        )
    return table


def _overdue_table(summary: Summary) -> Table:
    table = _table(
        "Most overdue key accounts",
        (("account", "left"), ("last touch", "left"), ("days overdue", "right"),
         ("health", "left")),
    )  # fmt: skip
    for row in summary.overdue:
        table.add_row(
            f"{row.account_name} ({row.account_key})",
            row.last_touch_date.isoformat() if row.last_touch_date else "never",
            "-" if row.days_overdue is None else str(row.days_overdue),
            row.health_band,
        )
    return table


def render(summary: Summary, console: Console) -> None:
    """Print the summary."""
    result = summary.result
    accounts = sum(sum(c.values()) for c in summary.tier_bands.values())
    head = Text(
        f"analyze {result.run_id}: {accounts:,} accounts scored as of "
        f"{result.as_of.isoformat()}, {result.rows_written:,} mart rows written"
    )
    parts: list[Table | Text] = [head, tier_table(summary.tier_bands)]
    parts.append(
        whitespace_table(summary.whitespace)
        if summary.whitespace
        else Text("No whitespace gaps found.")
    )
    parts.append(_overdue_table(summary) if summary.overdue else Text("No key account is overdue."))
    if summary.hierarchy_issues:
        found = ", ".join(f"{n} {issue}" for issue, n in summary.hierarchy_issues.items())
        parts.append(Text(f"Hierarchy issues: {found} (see kam.hierarchy_issues)."))
    console.print(Group(*parts))

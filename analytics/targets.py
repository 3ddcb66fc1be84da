"""Revenue targets from the CSV named by ``[analytics] targets_csv``.

The file has a header and these columns, in any order::

    entity_level,entity_key,period_grain,period_start,target
    account,sf_emea:001A000001,quarter,2025-04-01,250000
    territory,DACH North,month,2025-06-01,80000
    region,EMEA,year,2025-01-01,12000000
    national,Germany,quarter,2025-04-01,3000000
    global,global,year,2025-01-01,40000000

``entity_level`` is account, territory, region, national (a country) or global (key ``global``);
``period_grain`` is week, month, quarter or year and ``period_start`` the first day of that
period (weeks start on Monday).  Every problem is reported at once, each naming the file and
the line; a target for an account, territory, region or country the warehouse does not know is
an error too.  Problems are configuration errors (exit code 2).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from analytics.params import period_bounds
from analytics.vocabularies import ENTITY_LEVELS, PERIOD_GRAINS
from config.errors import ConfigError, ConfigProblem

COLUMNS: tuple[str, ...] = ("entity_level", "entity_key", "period_grain", "period_start", "target")
GLOBAL_KEY = "global"


@dataclass(frozen=True)
class Target:
    """One validated line of the targets file."""

    line: int
    entity_level: str
    entity_key: str
    period_grain: str
    period_start: date
    target: float

    @property
    def identity(self) -> tuple[str, str, str, date]:
        """What must be unique across the file."""
        return (self.entity_level, self.entity_key, self.period_grain, self.period_start)


def read_targets(path: Path | None) -> list[Target]:
    """The targets in ``path`` (none when no file is configured); ConfigError on any problem."""
    if path is None:
        return []
    shown = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError([ConfigProblem(shown, "", f"cannot read targets file: {exc}")]) from None
    problems: list[ConfigProblem] = []
    targets: list[Target] = []
    columns = _header(rows[0] if rows else [], shown, problems)
    if columns is not None:
        seen: dict[tuple[str, str, str, date], int] = {}
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            target = _parse_row(row, columns, shown, number, problems)
            if target is None:
                continue
            first = seen.setdefault(target.identity, number)
            if first != number:
                problems.append(
                    ConfigProblem(shown, f"line {number}", f"repeats the target of line {first}")
                )
                continue
            targets.append(target)
    if problems:
        raise ConfigError(problems)
    return targets


def _header(header: list[str], shown: str, problems: list[ConfigProblem]) -> dict[str, int] | None:
    names = [cell.strip().lower() for cell in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    if missing:
        problems.append(
            ConfigProblem(shown, "line 1", f"header lacks column(s) {', '.join(missing)}")
        )
    if unknown:
        problems.append(
            ConfigProblem(
                shown,
                "line 1",
                f"unknown column(s) {', '.join(unknown)}; expected {', '.join(COLUMNS)}",
            )
        )
    if missing or unknown:
        return None
    return {name: names.index(name) for name in COLUMNS}


def _parse_row(
    row: list[str], columns: dict[str, int], shown: str, number: int, problems: list[ConfigProblem]
) -> Target | None:
    where = f"line {number}"
    if len(row) != len(columns):
        problems.append(
            ConfigProblem(shown, where, f"has {len(row)} fields, the header has {len(columns)}")
        )
        return None
    cell = {name: row[index].strip() for name, index in columns.items()}
    found: list[str] = []
    level = cell["entity_level"].lower()
    if level not in ENTITY_LEVELS:
        found.append(
            f"entity_level {cell['entity_level']!r} is not one of {', '.join(ENTITY_LEVELS)}"
        )
    key = cell["entity_key"]
    if not key:
        found.append("entity_key is empty")
    elif level == "global" and key != GLOBAL_KEY:
        found.append(f"the global entity_key must be {GLOBAL_KEY!r}, got {key!r}")
    grain = cell["period_grain"].lower()
    start = _parse_start(grain, cell["period_start"], found)
    value = _parse_number(cell["target"], found)
    if found or start is None or value is None:
        problems.extend(ConfigProblem(shown, where, message) for message in found)
        return None
    return Target(number, level, key, grain, start, value)


def _parse_start(grain: str, text: str, found: list[str]) -> date | None:
    if grain not in PERIOD_GRAINS:
        found.append(f"period_grain {grain!r} is not one of {', '.join(PERIOD_GRAINS)}")
        return None
    try:
        start = date.fromisoformat(text)
    except ValueError:
        found.append(f"period_start {text!r} is not a date (YYYY-MM-DD)")
        return None
    if period_bounds(grain, start)[0] != start:
        first = "the Monday of a week" if grain == "week" else f"the first day of a {grain}"
        found.append(f"period_start {text} is not {first}")
        return None
    return start


def _parse_number(text: str, found: list[str]) -> float | None:
    try:
        if "_" in text:  # float() reads 1_000, a spreadsheet would not
            raise ValueError(text)
        value = float(text)
    except ValueError:
        found.append(f"target {text!r} is not a number")
        return None
    if not math.isfinite(value) or value < 0:
        found.append(f"target {text!r} must be a finite number >= 0")
        return None
    return value


def load_targets(con: duckdb.DuckDBPyConnection, targets: list[Target]) -> None:
    """Fill the ``seed_targets`` table the performance models read."""
    con.execute(
        "create or replace temp table seed_targets (line integer, entity_level varchar, "
        "entity_key varchar, period_grain varchar, period_start date, target double)"
    ).fetchall()
    if targets:
        con.executemany(
            "insert into temp.main.seed_targets values (?, ?, ?, ?, ?, ?)",
            [
                [t.line, t.entity_level, t.entity_key, t.period_grain, t.period_start, t.target]
                for t in targets
            ],
        )


def check_entities(con: duckdb.DuckDBPyConnection, accounts: str, path: Path | None) -> None:
    """Every target must name an entity the warehouse knows; ConfigError naming each line."""
    rows = con.execute(
        f"""
        with known as (
            select distinct 'account' as entity_level, account_key as entity_key from {accounts}
            union all select distinct 'territory', territory from {accounts}
            union all select distinct 'region', region from {accounts}
            union all select distinct 'national', country from {accounts}
            union all select 'global', 'global'
        )
        select t.line, t.entity_level, t.entity_key
        from temp.main.seed_targets as t
        anti join known as k
            on k.entity_level = t.entity_level and k.entity_key = t.entity_key
        order by t.line
        """
    ).fetchall()
    if rows:
        words = {"national": "country"}
        shown = str(path) if path is not None else "targets"
        raise ConfigError(
            [
                ConfigProblem(
                    shown,
                    f"line {line}",
                    f"unknown {words.get(level, level)} {key!r}: no such {words.get(level, level)} "
                    "in the warehouse",
                )
                for line, level, key in rows
            ]
        )

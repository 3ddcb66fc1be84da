"""A small warehouse to fill with hand-worked ``crm.*`` rows and analyze.

Every test builds its own world with :meth:`World.add` (defaults fill the columns a test does
not care about), runs :meth:`World.analyze` with the as-of date 2025-06-30, and compares the
marts with rows worked out by hand.  Windows for that date (365/90/180/30 days, inclusive):
TTM 2024-07-01..2025-06-30, prior TTM 2023-07-02..2024-06-30, engagement 2025-04-02..2025-06-30,
prior engagement 2025-01-02..2025-04-01, relationship 2025-01-02..2025-06-30, calls
2025-06-01..2025-06-30.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.docs import TableDoc
from analytics.models import Model
from analytics.runner import AnalysisResult, run_analysis
from config.model import AnalyticsConfig
from sync.warehouse import migrate
from tests.crm_keys import CRM_KEYS

AS_OF = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)

# columns every row of a table needs, derived from its key when a test leaves them out
KEYS = CRM_KEYS
DEFAULTS: dict[str, dict[str, Any]] = {
    "opportunities": {"is_closed": False, "is_won": False},
    "activities": {"source_object": "Task", "is_completed": True},
}


class World:
    """A warehouse file with the kamsync schemas, filled row by row."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def add(self, table: str, **values: Any) -> None:
        """Insert one row into ``crm.<table>``; source and source id come from the key."""
        key = values[KEYS[table]]
        source, _, source_id = str(key).partition(":")
        row = {"source": source, "source_id": source_id, **DEFAULTS.get(table, {}), **values}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(
            f"insert into crm.{table} ({columns}) values ({marks})", list(row.values())
        ).fetchall()

    def opportunity(
        self,
        key: str,
        account: str,
        amount: float | None,
        close_date: str,
        *,
        state: str = "won",
        probability: float = 0.5,
    ) -> None:
        """Add an opportunity that is ``won``, ``lost`` or ``open``."""
        assert state in ("won", "lost", "open"), state
        self.add(
            "opportunities",
            opportunity_key=key,
            account_key=account,
            amount=amount,
            is_closed=state != "open",
            is_won=state == "won",
            close_date=close_date,
            probability=probability,
        )

    def analyze(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        models: list[Model] | None = None,
        docs: Mapping[str, TableDoc] | None = None,
        now: datetime = NOW,
    ) -> AnalysisResult:
        """Run every model with the as-of date 2025-06-30 and ``settings`` on top."""
        config = AnalyticsConfig.model_validate({"as_of": AS_OF, **(settings or {})})
        return run_analysis(self.con, config, now=now, models=models, docs=docs)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        return self.con.execute(sql, list(params)).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """All rows of a query as column -> value."""
        result = self.con.execute(sql, list(params))
        names = [d[0] for d in result.description or []]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """An empty, migrated warehouse (named so its catalog clashes with no schema)."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    migrate(con)
    yield World(con)
    con.close()


def approx_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose floats compare with a tolerance."""
    return [
        {k: pytest.approx(v, abs=1e-9) if isinstance(v, float) else v for k, v in row.items()}
        for row in rows
    ]

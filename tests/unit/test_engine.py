"""The sync engine's guarantees, with a scripted connector standing in for a CRM.

The connector here is a test double for the CRM side only: pages, checkpoints and failures are
scripted, and everything the engine does with them (staging, checkpoints, merge, crm rebuild)
runs for real against a DuckDB file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pytest

from config.errors import ApiBudgetExceededError, MalformedResponseError
from config.model import KamsyncConfig
from connectors.base import (
    ApiUsage,
    ArrowRecords,
    Column,
    ObjectSchema,
    Page,
    Records,
    StreamState,
)
from sync.engine import SyncEngine, SyncResult
from sync.warehouse import Warehouse

ACCOUNT = ObjectSchema(
    name="Account",
    label="Account",
    key="Id",
    cursor_field="SystemModstamp",
    columns=(
        Column("Id", "varchar", "Account ID", "id"),
        Column("Name", "varchar", "Account Name", "string"),
        Column("AnnualRevenue", "decimal", "Annual Revenue", "currency", scale=2),
        Column("SystemModstamp", "timestamp", "System Modstamp", "datetime"),
        Column("IsDeleted", "boolean", "Deleted", "boolean"),
    ),
)
COLUMNS = ACCOUNT.column_names


def _row(n: int, name: str | None = None, deleted: bool = False) -> tuple[str | None, ...]:
    return (
        f"001A0000000{n:04d}AAA",
        name or f"Account {n}",
        f"{n * 1000}.50",
        f"2026-01-01T00:00:{n % 60:02d}.000+0000",
        "true" if deleted else "false",
    )


class ScriptedConnector:
    """Serves pages of Account rows; fails when told to; remembers the states it was given."""

    kind = "salesforce"
    deleted_field: str | None = "IsDeleted"
    source = "sf"

    def __init__(
        self,
        passes: list[list[Page]],
        fail_after: int | None = None,
        error: Exception | None = None,
    ) -> None:
        self.passes = passes
        self.fail_after = fail_after
        self.error = error or RuntimeError("connection dropped")
        self.states: list[StreamState] = []
        self.calls = 0

    def discover(self, objects: Sequence[str]) -> list[ObjectSchema]:
        return [ACCOUNT]

    def read(self, schema: ObjectSchema, state: StreamState) -> Iterator[Page]:
        self.states.append(state)
        pages = self.passes.pop(0) if len(self.passes) > 1 else self.passes[0]
        start = int((state.checkpoint or {}).get("next", 0))
        for index, page in enumerate(pages[start:], start=start):
            if self.fail_after is not None and index >= self.fail_after:
                raise self.error
            self.calls += 1
            yield page

    def usage(self) -> ApiUsage:
        return ApiUsage(calls=self.calls)

    def close(self) -> None:
        pass


def _pages(
    rows: list[list[tuple[str | None, ...]]],
    mode: Literal["full", "incremental"] = "full",
    deleted: Sequence[str] = (),
) -> list[Page]:
    pages = [
        Page(mode, "rest", records=Records(COLUMNS, chunk), checkpoint={"next": i + 1}, api_calls=1)
        for i, chunk in enumerate(rows)
    ]
    if deleted:
        pages.append(
            Page(
                mode,
                "getDeleted",
                deleted_ids=tuple(deleted),
                checkpoint={"next": len(pages) + 1},
                api_calls=1,
            )
        )
    pages.append(Page(mode, "rest", cursor={"upper": "2026-01-02T00:00:00+00:00"}, done=True))
    return pages


def _sync(config: KamsyncConfig, connector: ScriptedConnector, full: bool = False) -> SyncResult:
    with Warehouse(config.warehouse).session() as con:
        return SyncEngine(config, con, connector_factory=lambda _: connector).run(full=full)


def _raw(config: KamsyncConfig) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    try:
        return con.execute(
            'select "Id", "Name", cast("AnnualRevenue" as varchar), _is_deleted from raw_sf."Account" order by 1'
        ).fetchall()
    finally:
        con.close()


def _crm_names(config: KamsyncConfig) -> list[str]:
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    try:
        return [r[0] for r in con.execute("select name from crm.accounts order by 1").fetchall()]
    finally:
        con.close()


def test_full_sync_lands_typed_rows_and_builds_crm(config: KamsyncConfig) -> None:
    connector = ScriptedConnector([_pages([[_row(1), _row(2)], [_row(3)]])])

    result = _sync(config, connector)

    assert result.ok
    assert _raw(config) == [
        ("001A00000000001AAA", "Account 1", "1000.50", False),
        ("001A00000000002AAA", "Account 2", "2000.50", False),
        ("001A00000000003AAA", "Account 3", "3000.50", False),
    ]
    assert _crm_names(config) == ["Account 1", "Account 2", "Account 3"]
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    cursor = con.execute("select cursor, checkpoint from ops.sync_state").fetchall()
    comment = con.execute(
        "select comment from duckdb_columns() where schema_name = 'raw_sf' and column_name = 'AnnualRevenue'"
    ).fetchall()
    con.close()
    assert cursor == [('{"upper": "2026-01-02T00:00:00+00:00"}', None)]
    assert comment == [("Annual Revenue (currency)",)]


def test_killed_run_leaves_raw_and_crm_untouched_and_resumes_without_duplicates(
    config: KamsyncConfig,
) -> None:
    first = [[_row(1), _row(2)]]
    _sync(config, ScriptedConnector([_pages(first)]))
    changed = [[_row(1, "Renamed 1")], [_row(4)], [_row(5)]]
    dying = ScriptedConnector([_pages(changed, mode="incremental")], fail_after=2)

    with pytest.raises(RuntimeError):
        _sync(config, dying)

    assert _crm_names(config) == ["Account 1", "Account 2"]
    resumed = ScriptedConnector([_pages(changed, mode="incremental")])
    _sync(config, resumed)
    assert resumed.states[0].checkpoint == {"next": 2}
    assert [r[1] for r in _raw(config)] == ["Renamed 1", "Account 2", "Account 4", "Account 5"]
    assert _crm_names(config) == ["Account 2", "Account 4", "Account 5", "Renamed 1"]


def test_incremental_applies_soft_and_hard_deletes(config: KamsyncConfig) -> None:
    _sync(config, ScriptedConnector([_pages([[_row(1), _row(2), _row(3)]])]))

    _sync(
        config,
        ScriptedConnector(
            [_pages([[_row(2, deleted=True)]], mode="incremental", deleted=["001A00000000003AAA"])]
        ),
    )

    assert [(r[0][-7:-3], r[3]) for r in _raw(config)] == [
        ("0001", False),
        ("0002", True),
        ("0003", True),
    ]
    assert _crm_names(config) == ["Account 1"]


def test_full_sync_marks_records_it_did_not_see_as_deleted(config: KamsyncConfig) -> None:
    _sync(config, ScriptedConnector([_pages([[_row(1), _row(2), _row(3)]])]))

    _sync(config, ScriptedConnector([_pages([[_row(1), _row(3)]])]), full=True)

    assert [r[3] for r in _raw(config)] == [False, True, False]


def test_malformed_value_is_named_and_nothing_changes(config: KamsyncConfig) -> None:
    _sync(config, ScriptedConnector([_pages([[_row(1)]])]))
    bad = list(_row(2))
    bad[2] = "twelve thousand"
    connector = ScriptedConnector([_pages([[tuple(bad)]], mode="incremental")])

    result = _sync(config, connector)

    source = result.sources[0]
    assert source.status == "failed"
    assert (
        "Account.AnnualRevenue: value 'twelve thousand' is not a valid decimal (currency)"
        in str(source.error)
    )
    assert [r[1] for r in _raw(config)] == ["Account 1"]


def _arrow_page(n: int, ids: list[str], revenue: pa.Array, deleted: pa.Array) -> Page:
    table = pa.table(
        {
            "Id": pa.array(ids, type=pa.string()),
            "Name": pa.array([f"Account {i} p{n}" for i in ids], type=pa.string()),
            "AnnualRevenue": revenue,
            "SystemModstamp": pa.array(["2026-01-01T00:00:00Z"] * len(ids), type=pa.string()),
            "IsDeleted": deleted,
        }
    )
    return Page("full", "rest", records=ArrowRecords(table), checkpoint={"next": n}, api_calls=1)


def test_typed_arrow_pages_land_like_text_and_the_latest_copy_wins(
    config: KamsyncConfig,
) -> None:
    first = _arrow_page(1, ["a", "b"], pa.array([7, None]), pa.array([False, False]))
    second = _arrow_page(2, ["b"], pa.array(["12.5"], type=pa.string()), pa.array([None]))
    done = Page("full", "rest", cursor={"since": "x"}, done=True)

    _sync(config, ScriptedConnector([[first, second, done]]))

    assert _raw(config) == [
        ("a", "Account a p1", "7.00", False),
        ("b", "Account b p2", "12.50", False),
    ]


def test_a_typed_value_the_column_cannot_hold_is_named(config: KamsyncConfig) -> None:
    page = _arrow_page(1, ["a"], pa.array([1e300]), pa.array([False]))

    result = _sync(config, ScriptedConnector([[page]]))

    source = result.sources[0]
    assert source.status == "failed"
    assert "Account.AnnualRevenue: value '1e+300' is not a valid decimal" in str(source.error)


def test_budget_stop_saves_progress_and_next_run_continues(config: KamsyncConfig) -> None:
    pages = _pages([[_row(1)], [_row(2)], [_row(3)]])
    stop = ApiBudgetExceededError(
        "stopped before passing the API budget", used=80, limit=100, source="sf"
    )
    first = ScriptedConnector([pages], fail_after=2, error=stop)

    result = _sync(config, first)

    assert result.sources[0].status == "budget_stopped"
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    runs = con.execute("select status, error from ops.sync_runs").fetchall()
    con.close()
    assert runs[0] == ("budget_stopped", "sf: stopped before passing the API budget")
    second = ScriptedConnector([pages])
    assert _sync(config, second).ok
    assert second.states[0].checkpoint == {"next": 2}
    assert len(_raw(config)) == 3


def test_malformed_error_from_connector_fails_the_source_cleanly(config: KamsyncConfig) -> None:
    broken = ScriptedConnector(
        [_pages([[_row(1)]])],
        fail_after=0,
        error=MalformedResponseError("query Account: the answer is not valid JSON", source="sf"),
    )

    result = _sync(config, broken)

    assert not result.ok
    # the source is named once, by whoever reports the error
    assert result.sources[0].error == "query Account: the answer is not valid JSON"
    assert Warehouse(config.warehouse).read_published().execute(
        "select count(*) from crm.accounts"
    ).fetchall() == [(0,)]


def test_stop_request_commits_the_current_page_and_the_next_run_continues(
    config: KamsyncConfig,
) -> None:
    pages = _pages([[_row(1)], [_row(2)], [_row(3)]])
    landed: list[int] = []
    connector = ScriptedConnector([pages])

    with Warehouse(config.warehouse).session() as con:
        engine = SyncEngine(
            config, con, connector_factory=lambda _: connector, should_stop=lambda: len(landed) >= 1
        )
        engine.progress.page_landed = lambda *args: landed.append(1)  # type: ignore[method-assign]
        result = engine.run()

    assert result.sources[0].status == "stopped"
    assert landed == [1]
    assert _raw(config) == []  # raw changes only when the source's extraction is merged
    resumed = ScriptedConnector([pages])
    assert _sync(config, resumed).ok
    assert resumed.states[0].checkpoint == {"next": 1}
    assert len(_raw(config)) == 3


def test_a_pass_that_starts_over_drops_what_the_old_pass_staged(config: KamsyncConfig) -> None:
    _sync(config, ScriptedConnector([_pages([[_row(1), _row(2)]])]))
    stale = [[_row(2, "Renamed 2")], [_row(3)]]
    with pytest.raises(RuntimeError):  # the old pass staged Renamed 2, then died
        _sync(config, ScriptedConnector([_pages(stale, mode="incremental")], fail_after=1))
    # resumed (at index 1), the CRM no longer knows the old position: a full pass starts over
    # and Account 2 is gone by now
    first, third, done = _pages([[_row(1)], [_row(3)]])
    replay = ScriptedConnector(
        [[first, replace(first, restart=True, checkpoint={"next": 2}), third, done]]
    )

    assert _sync(config, replay).ok

    assert [(r[1], r[3]) for r in _raw(config)] == [
        ("Account 1", False),
        ("Account 2", True),  # the staged "Renamed 2" did not come back to life
        ("Account 3", False),
    ]

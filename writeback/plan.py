"""Write-back plans: what ``--dry-run`` writes and ``--plan FILE`` applies, exactly.

A plan holds, per source, the CRM and object it was made for, the warehouse state it was made
from (a fingerprint of the desired records and of the ledger), the counts, and every record it
would send with its field-level before (as read from the CRM) and after.  Applying a plan checks
that the configuration still points at the same CRM and object and that the warehouse state is
unchanged, then sends exactly the plan's records: a plan made for another source, org, object or
warehouse state (a later analyze, a write-back since) is refused with :class:`StalePlanError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from config.errors import StalePlanError, UsageError
from writeback.payload import TargetMap, Value
from writeback.records import Action, Change

PLAN_FORMAT = "kamsync-writeback-plan"
PLAN_VERSION = 1


@dataclass(frozen=True)
class PlanRow:
    """One record a plan sends."""

    external_id: str
    account_key: str
    action: Action
    record_id: str | None
    payload_hash: str
    before: Mapping[str, Value] | None
    after: Mapping[str, Value]

    def changes(self) -> dict[str, dict[str, Value]]:
        """Field -> before and after, for the fields whose value changes."""
        before = self.before or {}
        return {
            name: {"before": before.get(name), "after": value}
            for name, value in self.after.items()
            if before.get(name) != value
        }


@dataclass
class SourcePlan:
    """What a plan sends to one source."""

    source: str
    kind: str
    crm: str
    object: str
    state: Mapping[str, str]
    counts: Mapping[str, int]
    rows: list[PlanRow] = field(default_factory=list)

    def row(self, external_id: str) -> PlanRow | None:
        """The row for ``external_id``."""
        return self._index.get(external_id)

    @cached_property
    def _index(self) -> dict[str, PlanRow]:
        return {r.external_id: r for r in self.rows}


def plan_rows(
    changes: Sequence[Change], target: TargetMap, before: Mapping[str, Mapping[str, Value]]
) -> list[PlanRow]:
    """The plan rows of ``changes``; ``before`` is what the CRM holds, by external id."""
    rows = []
    for change in changes:
        record = change.record
        current = before.get(record.external_id)
        rows.append(
            PlanRow(
                external_id=record.external_id,
                account_key=record.account_key,
                action="update" if current is not None else "create",
                record_id=_record_id(current, target) or _ledger_id(change),
                payload_hash=record.payload_hash,
                before=None if current is None else {n: current.get(n) for n in record.values},
                after=dict(record.values),
            )
        )
    return rows


def _record_id(current: Mapping[str, Value] | None, target: TargetMap) -> str | None:
    if current is None:
        return None
    key = "Id" if target.kind == "salesforce" else f"{target.object}id"
    value = current.get(key)
    return str(value) if value else None


def _ledger_id(change: Change) -> str | None:
    return change.previous.crm_record_id if change.previous else None


# --------------------------------------------------------------------------- files


def plan_document(plans: Sequence[SourcePlan], created: datetime | None = None) -> dict[str, Any]:
    """The JSON document of a plan."""
    return {
        "format": PLAN_FORMAT,
        "version": PLAN_VERSION,
        "created_at": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "sources": [
            {
                "source": p.source,
                "kind": p.kind,
                "crm": p.crm,
                "object": p.object,
                "state": dict(p.state),
                "counts": dict(p.counts),
                "rows": [
                    {
                        "external_id": r.external_id,
                        "account_key": r.account_key,
                        "action": r.action,
                        "record_id": r.record_id,
                        "payload_hash": r.payload_hash,
                        "changes": r.changes(),
                        "before": r.before,
                        "after": r.after,
                    }
                    for r in p.rows
                ],
            }
            for p in plans
        ],
    }


def write_plan(path: Path, plans: Sequence[SourcePlan]) -> None:
    """Write the plan file (atomically: a reader never sees half a plan)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(plan_document(plans), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)


def read_plan(path: Path) -> list[SourcePlan]:
    """The plan in ``path``; :class:`UsageError` when it is not a kamsync write-back plan."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"plan file {path} cannot be read as JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise UsageError(f"{path} is not a kamsync write-back plan (made by --dry-run)")
    if document.get("version") != PLAN_VERSION:
        raise UsageError(
            f"{path} is a version {document.get('version')} plan; this kamsync reads version "
            f"{PLAN_VERSION}: make a new one with --dry-run"
        )
    try:
        return [_source_plan(item) for item in document["sources"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a well-formed write-back plan ({exc!r})") from None


def _source_plan(item: Mapping[str, Any]) -> SourcePlan:
    rows = [
        PlanRow(
            external_id=str(r["external_id"]),
            account_key=str(r["account_key"]),
            action="update" if r["action"] == "update" else "create",
            record_id=r.get("record_id"),
            payload_hash=str(r["payload_hash"]),
            before=r.get("before"),
            after=dict(r["after"]),
        )
        for r in item["rows"]
    ]
    return SourcePlan(
        source=str(item["source"]),
        kind=str(item["kind"]),
        crm=str(item["crm"]),
        object=str(item["object"]),
        state={str(k): str(v) for k, v in item["state"].items()},
        counts={str(k): int(v) for k, v in item["counts"].items()},
        rows=rows,
    )


# --------------------------------------------------------------------------- checks


def check_plan(
    plan: SourcePlan,
    *,
    kind: str,
    crm: str,
    target: TargetMap,
    state: Mapping[str, str],
    changes: Sequence[Change],
) -> None:
    """Refuse a plan that does not fit the source, its CRM, its object or the warehouse now."""
    where = f"the plan for {plan.source}"
    if plan.kind != kind or plan.crm.rstrip("/") != crm.rstrip("/"):
        raise StalePlanError(
            f"{where} was made for the {plan.kind} org {plan.crm}; {plan.source} is now the "
            f"{kind} org {crm}"
        )
    if plan.object != target.object:
        raise StalePlanError(
            f"{where} writes {plan.object}; the configuration now writes {target.object}"
        )
    if plan.state.get("mapping") != state.get("mapping"):
        raise StalePlanError(
            f"{where} was made with other field names: the [writeback] settings changed since"
        )
    if plan.state.get("scores") != state.get("scores"):
        raise StalePlanError(
            f"{where} was made from other scores: `kamsync analyze` (or a sync) ran since it "
            "was made. Make a new plan with --dry-run"
        )
    if plan.state.get("ledger") != state.get("ledger"):
        raise StalePlanError(
            f"{where} was made before the last write-back to {plan.source} (was this plan applied "
            "already?). Make a new plan with --dry-run"
        )
    planned = {r.external_id: r.payload_hash for r in plan.rows}
    now = {c.record.external_id: c.record.payload_hash for c in changes}
    if planned != now:
        raise StalePlanError(f"{where} does not list the records the warehouse would send now")

"""The emulator's own HTTP control endpoint, for a standalone ``kamsync emulator serve``.

Served under ``/__emulator/`` on every listener (Salesforce and Dataverse alike), before the CRM
app and its faults see the request.  Loopback only and unauthenticated: it controls a synthetic
test org, nothing else.

===========================================  ===================================================
``GET  /__emulator/``                        this list
``GET  /__emulator/credentials``             the JSON line ``kamsync emulator serve`` printed
``POST /__emulator/mutate``                  advance the world (JSON body: keyword arguments of
                                             :meth:`Emulator.mutate`); answers a summary
``GET  /__emulator/write-log``               writes received; ``?crm=salesforce|dynamics``,
                                             ``&api=...``, ``&since=N`` (entries from index N)
``POST /__emulator/faults``                  ``{"spec": "429:0.1,...", "seed": 3}``
``POST /__emulator/write-failures``          ``{"validation": [extIds], "unprocessed": [extIds],
                                             "message": "..."}`` (Salesforce score writes),
                                             ``{"dynamics": [keys]}`` (Dataverse score writes);
                                             ``{"clear": true}`` forgets the Salesforce ones
``POST /__emulator/reset-usage``             the Salesforce daily API counter goes back to 0
``POST /__emulator/expire-sessions``         every Salesforce access token stops working
===========================================  ===================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from connectors.emulator.faults import FaultSpecError
from connectors.emulator.server import App, Request, Response
from connectors.emulator.store import WriteLogEntry

if TYPE_CHECKING:
    from connectors.emulator.emulator import Emulator
    from connectors.emulator.mutate import MutationSummary

PREFIX = "/__emulator"


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=False, indent=None, default=str).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json"})


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def summary_json(summary: MutationSummary) -> dict[str, Any]:
    """A mutation summary as JSON: clocks and the changed ids per org, table and kind."""
    return {
        "seed": summary.seed,
        "started": summary.started.isoformat(),
        "clock": summary.clock.isoformat(),
        "count": summary.count(),
        "changes": {
            org: {table: asdict(changes) for table, changes in tables.items()}
            for org, tables in summary.changes.items()
        },
    }


def entry_json(index: int, crm: str, entry: WriteLogEntry) -> dict[str, Any]:
    """One write-log entry as JSON."""
    return {
        "index": index,
        "crm": crm,
        "at": entry.at.isoformat(),
        "api": entry.api,
        "table": entry.table,
        "record_id": entry.record_id,
        "operation": entry.operation,
        "fields": list(entry.fields),
        "ok": entry.ok,
        "error": entry.error,
    }


class ControlApp:
    """Answers ``/__emulator/...`` requests for one :class:`Emulator`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", ""): self._index,
            ("GET", "credentials"): lambda _r: _json(self.emulator.credentials()),
            ("POST", "mutate"): self._mutate,
            ("GET", "write-log"): self._write_log,
            ("POST", "faults"): self._faults,
            ("POST", "write-failures"): self._write_failures,
            ("POST", "reset-usage"): self._reset_usage,
            ("POST", "expire-sessions"): self._expire_sessions,
        }

    def handle(self, request: Request) -> Response:
        """Answer one control request."""
        name = request.path[len(PREFIX) :].strip("/")
        route = self.routes.get((request.method, name))
        if route is None:
            known = {n for _m, n in self.routes}
            return _error(
                405 if name in known else 404, f"no control endpoint {request.method} /{name}"
            )
        try:
            return route(request)
        except (ValueError, TypeError, KeyError, FaultSpecError) as exc:
            return _error(400, str(exc))

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.body:
            return {}
        value = json.loads(request.body.decode("utf-8"))
        if not isinstance(value, dict):
            raise ValueError("the request body must be a JSON object")
        return value

    def _index(self, _request: Request) -> Response:
        return _json({"endpoints": [f"{m} {PREFIX}/{n}" for m, n in self.routes]})

    def _mutate(self, request: Request) -> Response:
        body = self._body(request)
        options: dict[str, Any] = {
            key: int(body[key])
            for key in ("updates", "inserts", "soft_deletes", "hard_deletes")
            if key in body
        }
        if "advance_seconds" in body:
            options["advance"] = timedelta(seconds=float(body["advance_seconds"]))
        seed = int(body["seed"]) if body.get("seed") is not None else None
        return _json(summary_json(self.emulator.mutate(seed, **options)))

    def _write_log(self, request: Request) -> Response:
        crm = request.param("crm")
        api = request.param("api")
        since = int(request.param("since") or 0)
        entries = []
        for index, (which, entry) in enumerate(self.emulator.write_log_entries(crm)):
            if index >= since and (api is None or entry.api == api):
                entries.append(entry_json(index, which, entry))
        return _json({"entries": entries})

    def _faults(self, request: Request) -> Response:
        body = self._body(request)
        self.emulator.set_faults(body.get("spec"), int(body.get("seed", 0)))
        return _json({"spec": body.get("spec"), "seed": int(body.get("seed", 0))})

    def _write_failures(self, request: Request) -> Response:
        body = self._body(request)
        writer = self.emulator.salesforce.writer
        if body.get("clear"):
            writer.clear_plan()
        writer.fail_validation([str(e) for e in body.get("validation", [])], body.get("message"))
        writer.leave_unprocessed([str(e) for e in body.get("unprocessed", [])])
        for key in body.get("dynamics", []):
            self.emulator.dynamics.plant_failure(str(key))
        return _json(
            {
                "validation": sorted(writer.plan.validation),
                "unprocessed": sorted(writer.plan.unprocessed),
            }
        )

    def _reset_usage(self, _request: Request) -> Response:
        self.emulator.salesforce.reset_usage()
        return _json({"ok": True})

    def _expire_sessions(self, _request: Request) -> Response:
        self.emulator.salesforce.sessions.expire_all()
        return _json({"ok": True})


class Routed:
    """An app that sends ``/__emulator/...`` to the control app and the rest to the CRM app."""

    def __init__(self, app: App, control: App) -> None:
        self.app = app
        self.control = control
        self.observers: list[Callable[[Request], None]] = []

    def handle(self, request: Request) -> Response:
        """Route one request; a CRM request is shown to every observer before it is answered."""
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return self.control.handle(request)
        for observe in tuple(self.observers):
            observe(request)
        return self.app.handle(request)

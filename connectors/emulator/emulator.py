"""Both emulated CRMs, their TLS CA and credentials, as one context manager.

::

    with Emulator(seed=7, accounts=2000) as emulator:
        emulator.salesforce_url        # https://127.0.0.1:<port>
        emulator.ca_file               # the CA to trust (a source's ``ca_bundle``)
        emulator.credentials()         # what ``kamsync emulator serve`` prints
        emulator.set_faults("429:0.1", seed=3)
        emulator.write_log()           # every write received

The Salesforce org listens on ``port`` (0: any free port) and, when the Dataverse emulation is
available, the Dynamics org on ``port + 1`` (or any free port).  Both also answer the control
endpoint under ``/__emulator/`` (see :mod:`connectors.emulator.control`).
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from connectors.emulator.control import ControlApp, Routed
from connectors.emulator.faults import FaultPlan
from connectors.emulator.salesforce import SalesforceApp
from connectors.emulator.server import EmulatorServer
from connectors.emulator.sfauth import SalesforceCredentials
from connectors.emulator.store import Store, WriteLogEntry
from connectors.emulator.tls import create_ca

API_VERSION = "62.0"


def _world_module() -> Any:
    """The world generator (imported on first use: generating is the slow part of a start)."""
    return importlib.import_module("connectors.emulator.world")


class WorldLike(Protocol):
    """What the emulator needs of a generated world: one store per org."""

    @property
    def salesforce(self) -> Store: ...

    @property
    def dynamics(self) -> Store: ...


@dataclass
class _Listener:
    server: EmulatorServer
    url: str


class Emulator:
    """Generates a world and serves it as a Salesforce org (and a Dataverse org when available)."""

    def __init__(
        self,
        seed: int = 7,
        accounts: int = 2000,
        as_of: date | None = None,
        faults: str | None = None,
        fault_seed: int = 0,
        port: int = 0,
        workdir: Path | None = None,
        *,
        world: WorldLike | None = None,
        with_score_object: bool = True,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.accounts = accounts
        self.as_of = as_of
        self.port = port
        self.host = host
        self.with_score_object = with_score_object
        self.clock = clock
        self._faults = (faults, fault_seed)
        FaultPlan.parse(faults, fault_seed)  # a bad spec fails here, before anything starts
        self._world = world
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._salesforce: SalesforceApp | None = None
        self._listeners: dict[str, _Listener] = {}
        self._ca_file: Path | None = None
        self._sf_credentials: SalesforceCredentials | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Emulator:
        """Generate (or take) the world, create the CA and credentials, start listening."""
        directory = self._directory()
        world = self.world
        tls = create_ca(directory / "tls")
        self._ca_file = tls.ca_file
        self._sf_credentials = SalesforceCredentials.generate(directory / "salesforce")
        spec, fault_seed = self._faults
        self._salesforce = SalesforceApp(
            world.salesforce,
            self._sf_credentials,
            FaultPlan.parse(spec, fault_seed),
            with_score_object=self.with_score_object,
            clock=self.clock,
        )
        control = ControlApp(self)
        server = EmulatorServer(
            Routed(self._salesforce, control),
            tls,
            name="salesforce",
            host=self.host,
            port=self.port,
        ).start()
        self._listeners["salesforce"] = _Listener(server, server.url)
        self._salesforce.base_url = server.url
        return self

    def stop(self) -> None:
        """Stop every listener and remove the temporary work directory."""
        for listener in self._listeners.values():
            listener.server.stop()
        self._listeners.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _directory(self) -> Path:
        if self._workdir is not None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            return self._workdir
        self._tmp = tempfile.TemporaryDirectory(prefix="kamsync-emulator-")
        return Path(self._tmp.name)

    # ------------------------------------------------------------------ what clients need

    @property
    def world(self) -> WorldLike:
        """The served world (generated on first use)."""
        if self._world is None:
            self._world = _world_module().generate_world(self.seed, self.accounts, self.as_of)
        return self._world

    @property
    def salesforce(self) -> SalesforceApp:
        """The Salesforce app (to plant failures, read usage ...)."""
        if self._salesforce is None:
            raise RuntimeError("the emulator is not running")
        return self._salesforce

    @property
    def salesforce_url(self) -> str:
        """``https://127.0.0.1:<port>``: instance URL and login URL of the Salesforce org."""
        return self._listener("salesforce").url

    @property
    def dynamics_url(self) -> str | None:
        """The Dataverse environment URL, or None when the Dataverse emulation is not available."""
        listener = self._listeners.get("dynamics")
        return listener.url if listener else None

    @property
    def ca_file(self) -> Path:
        """The emulator CA certificate (PEM) clients must trust."""
        if self._ca_file is None:
            raise RuntimeError("the emulator is not running")
        return self._ca_file

    def _listener(self, name: str) -> _Listener:
        listener = self._listeners.get(name)
        if listener is None:
            raise RuntimeError(f"the {name} listener is not running")
        return listener

    def credentials(self) -> dict[str, Any]:
        """URLs, CA file and credentials of both orgs (the line ``emulator serve`` prints)."""
        creds = self._sf_credentials
        if creds is None:
            raise RuntimeError("the emulator is not running")
        url = self.salesforce_url
        return {
            "ca_file": str(self.ca_file),
            "salesforce": {
                "instance_url": url,
                "login_url": url,
                "api_version": API_VERSION,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "username": creds.username,
                "password": creds.password,
                "refresh_token": creds.refresh_token,
                "jwt_key_file": str(creds.jwt_key_file) if creds.jwt_key_file else None,
                "jwt_cert_file": str(creds.jwt_cert_file) if creds.jwt_cert_file else None,
            },
            "dynamics": None,
        }

    # ------------------------------------------------------------------ controls

    def set_faults(self, spec: str | None, seed: int = 0) -> None:
        """Inject ``spec``'s faults from now on (None or "" for none), reproducibly per seed."""
        self.salesforce.set_faults(FaultPlan.parse(spec, seed))
        self._faults = (spec, seed)

    def mutate(self, **options: Any) -> dict[str, Any]:
        """Advance the world: update, create, soft- and hard-delete records (see the world)."""
        result = _world_module().mutate(self.world, **options)
        return result if isinstance(result, dict) else {"result": str(result)}

    def write_log_entries(self, crm: str | None = None) -> list[tuple[str, WriteLogEntry]]:
        """``(crm, entry)`` for every write received, Salesforce first."""
        stores = {"salesforce": self.world.salesforce, "dynamics": self.world.dynamics}
        chosen = [crm] if crm else list(stores)
        entries: list[tuple[str, WriteLogEntry]] = []
        for name in chosen:
            store = stores.get(name)
            if store is None:
                raise ValueError(f"unknown crm {name!r} (salesforce or dynamics)")
            with store.lock:
                entries.extend((name, entry) for entry in store.write_log)
        return entries

    def write_log(self, crm: str | None = None, api: str | None = None) -> list[WriteLogEntry]:
        """Writes received (optionally of one CRM, one API)."""
        return [
            entry for _name, entry in self.write_log_entries(crm) if api is None or entry.api == api
        ]

"""Both emulated CRMs, their TLS CA and credentials, as one context manager.

::

    with Emulator(seed=7, accounts=2000) as emulator:
        emulator.salesforce_url        # https://127.0.0.1:<port>: instance and login URL
        emulator.dynamics_url          # https://127.0.0.1:<port + 1>: the Dataverse org
        emulator.ca_file               # the CA to trust (a source's ``ca_bundle``)
        emulator.credentials()         # what ``kamsync emulator serve`` prints
        emulator.set_faults("429:0.1", seed=3)
        emulator.mutate(seed=1)        # incremental changes in both orgs
        emulator.write_log()           # every write received
        emulator.observe_requests("salesforce", print)  # each request, before it is answered

The world comes from :func:`~connectors.emulator.world.generate_world` (or is passed in).  The
Salesforce org listens on ``port`` (0: any free port), the Dataverse org on ``port + 1`` (or any
free port).  Both listeners also answer the control endpoint under ``/__emulator/`` (see
:mod:`connectors.emulator.control`).  Each org draws faults from its own
:class:`~connectors.emulator.faults.FaultPlan` built from the same spec and seed.
"""

from __future__ import annotations

import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from connectors.emulator.control import ControlApp, Routed
from connectors.emulator.dataverse import (
    DataverseApp,
    DataverseCredentials,
    DataverseSettings,
    dataverse_urls,
)
from connectors.emulator.faults import FaultPlan
from connectors.emulator.mutate import MutationSummary
from connectors.emulator.mutate import mutate as mutate_world
from connectors.emulator.salesforce import SalesforceApp
from connectors.emulator.server import EmulatorServer, Request
from connectors.emulator.sfauth import SalesforceCredentials
from connectors.emulator.store import Store, WriteLogEntry
from connectors.emulator.tls import TlsFiles, create_ca
from connectors.emulator.world import World, generate_world

API_VERSION = "62.0"


class WorldLike(Protocol):
    """What the emulator serves: one store per org (a generated :class:`World` is one)."""

    @property
    def salesforce(self) -> Store: ...

    @property
    def dynamics(self) -> Store: ...


@dataclass
class _Listener:
    server: EmulatorServer
    url: str
    routed: Routed


class Emulator:
    """Generates a world and serves it as a Salesforce org and a Dataverse org on loopback."""

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
        self._dynamics: DataverseApp | None = None
        self._listeners: dict[str, _Listener] = {}
        self._ca_file: Path | None = None
        self._sf_credentials: SalesforceCredentials | None = None
        self._dv_credentials: DataverseCredentials | None = None

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
        """Generate (or take) the world, create the CA and credentials, start both listeners."""
        try:
            directory = self._directory()
            world = self.world
            tls = create_ca(directory / "tls")
            self._ca_file = tls.ca_file
            control = ControlApp(self)
            self._salesforce = self._salesforce_app(world.salesforce, directory)
            self._listen("salesforce", Routed(self._salesforce, control), tls, self.port)
            self._salesforce.base_url = self.salesforce_url
            self._dynamics = self._dynamics_app(world.dynamics)
            self._listen(
                "dynamics", Routed(self._dynamics, control), tls, self.port + 1 if self.port else 0
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _salesforce_app(self, store: Store, directory: Path) -> SalesforceApp:
        self._sf_credentials = SalesforceCredentials.generate(directory / "salesforce")
        spec, fault_seed = self._faults
        return SalesforceApp(
            store,
            self._sf_credentials,
            FaultPlan.parse(spec, fault_seed),
            with_score_object=self.with_score_object,
            clock=self.clock,
            ids=self._world.sf_ids if isinstance(self._world, World) else None,
        )

    def _dynamics_app(self, store: Store) -> DataverseApp:
        self._dv_credentials = DataverseCredentials(
            client_id=str(uuid.uuid4()),
            client_secret="dv~" + secrets.token_urlsafe(30),
            tenant_id=str(uuid.uuid4()),
        )
        spec, fault_seed = self._faults
        settings = DataverseSettings(
            create_score_table=self.with_score_object, wall_clock=self.clock
        )
        return DataverseApp(
            store, self._dv_credentials, FaultPlan.parse(spec, fault_seed), settings=settings
        )

    def _listen(self, name: str, app: Routed, tls: TlsFiles, port: int) -> None:
        server = EmulatorServer(app, tls, name=name, host=self.host, port=port).start()
        self._listeners[name] = _Listener(server, server.url, app)

    def stop(self) -> None:
        """Stop every listener and remove the temporary work directory."""
        for listener in self._listeners.values():
            listener.server.stop()
        self._listeners.clear()
        if self._salesforce is not None:
            self._salesforce.close()
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
            self._world = generate_world(self.seed, self.accounts, self.as_of)
        return self._world

    @property
    def salesforce(self) -> SalesforceApp:
        """The Salesforce app (to plant failures, read usage ...)."""
        if self._salesforce is None:
            raise RuntimeError("the emulator is not running")
        return self._salesforce

    @property
    def dynamics(self) -> DataverseApp:
        """The Dataverse app (to plant failures ...)."""
        if self._dynamics is None:
            raise RuntimeError("the emulator is not running")
        return self._dynamics

    @property
    def salesforce_url(self) -> str:
        """``https://127.0.0.1:<port>``: instance URL and login URL of the Salesforce org."""
        return self._listener("salesforce").url

    @property
    def dynamics_url(self) -> str:
        """``https://127.0.0.1:<port>``: the Dataverse environment URL."""
        return self._listener("dynamics").url

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
        sf, dv = self._sf_credentials, self._dv_credentials
        if sf is None or dv is None:
            raise RuntimeError("the emulator is not running")
        url = self.salesforce_url
        return {
            "ca_file": str(self.ca_file),
            "salesforce": {
                "instance_url": url,
                "login_url": url,
                "api_version": API_VERSION,
                "client_id": sf.client_id,
                "client_secret": sf.client_secret,
                "username": sf.username,
                "password": sf.password,
                "refresh_token": sf.refresh_token,
                "jwt_key_file": str(sf.jwt_key_file) if sf.jwt_key_file else None,
                "jwt_cert_file": str(sf.jwt_cert_file) if sf.jwt_cert_file else None,
            },
            "dynamics": {
                **dataverse_urls(self.dynamics_url, dv.tenant_id),
                "client_id": dv.client_id,
                "client_secret": dv.client_secret,
                "tenant_id": dv.tenant_id,
            },
        }

    # ------------------------------------------------------------------ controls

    def observe_requests(self, crm: str, observer: Callable[[Request], None]) -> Callable[[], None]:
        """Show ``observer`` every request to ``crm`` (``salesforce`` or ``dynamics``) before it
        is answered, on the serving thread; control requests are not shown.  Returns the
        function that stops it.  For tests that act at an exact point of a client's run, e.g.
        kill it while it waits for its n-th answer."""
        observers = self._listener(crm).routed.observers
        observers.append(observer)
        return lambda: observers.remove(observer)

    def set_faults(self, spec: str | None, seed: int = 0) -> None:
        """Inject ``spec``'s faults from now on in both orgs (None or "" for none)."""
        self.salesforce.set_faults(FaultPlan.parse(spec, seed))
        self.dynamics.faults = FaultPlan.parse(spec, seed)
        self._faults = (spec, seed)

    def mutate(
        self,
        seed: int | None = None,
        *,
        advance: timedelta = timedelta(hours=1),
        updates: int = 40,
        inserts: int = 20,
        soft_deletes: int = 5,
        hard_deletes: int = 5,
    ) -> MutationSummary:
        """Advance both org clocks and update, create, soft- and hard-delete records in each.

        ``seed`` defaults to the world seed plus the number of mutations so far.  Only a
        generated :class:`World` can be mutated.
        """
        world = self.world
        if not isinstance(world, World):
            raise TypeError("only a generated world can be mutated")
        return mutate_world(
            world,
            self.seed + world.mutations if seed is None else seed,
            advance=advance,
            updates=updates,
            inserts=inserts,
            soft_deletes=soft_deletes,
            hard_deletes=hard_deletes,
        )

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

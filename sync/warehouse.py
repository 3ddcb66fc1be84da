"""The DuckDB warehouse: opening, versioned migrations, and publishing the analysts' copy.

kamsync writes to its own *engine* file and, after each job commits, publishes a consistent copy
to the path analysts open (``[warehouse] path``): the copy is written beside the target and moved
over it with an atomic rename.  A reader holding the published file open keeps reading the copy
it opened and sees the new data when it reconnects; it can never make a run fail, and a run can
never leave it a half-written file.

Migrations are the numbered SQL files in ``sync/migrations`` (``0001_ops.sql`` ...), applied in
order, each in its own transaction, and recorded in ``ops.schema_migrations``.  A file written by
a newer kamsync (a version above the newest migration known here) is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from config.errors import SchemaVersionError, WarehouseBusyError, WarehouseError
from config.model import WarehouseConfig

_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
create schema if not exists ops;
create table if not exists ops.schema_migrations (
    version integer primary key,
    name varchar not null,
    applied_at timestamptz not null default current_timestamp,
    kamsync_version varchar not null
);
comment on table ops.schema_migrations is 'Warehouse schema migrations applied to this file, one row per version.';
comment on column ops.schema_migrations.version is 'Migration number; the highest is the schema version of the file.';
comment on column ops.schema_migrations.name is 'Migration name (its file name without number and extension).';
comment on column ops.schema_migrations.applied_at is 'When the migration was applied.';
comment on column ops.schema_migrations.kamsync_version is 'kamsync version that applied it.';
"""


def kamsync_version() -> str:
    """The installed kamsync version."""
    try:
        return version("kamsync")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass(frozen=True)
class Migration:
    """One numbered SQL migration."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this kamsync, in order."""
    found: list[Migration] = []
    for entry in resources.files("sync.migrations").iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


LATEST_VERSION = migrations()[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open file; 0 for a new file."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'schema_migrations'"
    ).fetchall()
    if not exists[0][0]:
        return 0
    rows = con.execute("select coalesce(max(version), 0) from ops.schema_migrations").fetchall()
    return int(rows[0][0])


def migrate(
    con: duckdb.DuckDBPyConnection, target: int | None = None, *, label: str = ""
) -> list[int]:
    """Bring the open file up to ``target`` (default: the newest); return the versions applied."""
    current = schema_version(con)
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"warehouse {label or 'file'} has schema version {current}, but this kamsync "
            f"({kamsync_version()}) knows versions up to {LATEST_VERSION}: it was written by a "
            "newer kamsync. Upgrade kamsync, or point [warehouse] path at another file."
        )
    goal = LATEST_VERSION if target is None else target
    applied: list[int] = []
    for migration in migrations():
        if current < migration.version <= goal:
            _apply(con, migration, label)
            applied.append(migration.version)
    return applied


def _apply(con: duckdb.DuckDBPyConnection, migration: Migration, label: str) -> None:
    con.begin()
    try:
        con.execute(_BOOTSTRAP)
        con.execute(migration.sql)
        con.execute(
            "insert into ops.schema_migrations (version, name, kamsync_version) values (?, ?, ?)",
            [migration.version, migration.name, kamsync_version()],
        )
        con.commit()
    except duckdb.Error as exc:
        con.rollback()
        raise WarehouseError(
            f"migration {migration.version:04d}_{migration.name} failed on {label or 'file'}: {exc}"
        ) from exc


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class Warehouse:
    """The engine file kamsync writes and the published file analysts read."""

    def __init__(self, config: WarehouseConfig) -> None:
        self.config = config
        self.path = config.path
        self.work_path = config.work_path
        self.lock_path = self.work_path.with_name(self.work_path.name + ".lock")

    @contextlib.contextmanager
    def locked(self, job: str = "job") -> Iterator[None]:
        """Hold the job lock: one kamsync job at a time works on the engine file.

        Another job waits up to ``lock_wait_seconds``, then gets :class:`WarehouseBusyError`
        naming the holder.
        """
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path)
        holder = self.lock_path.with_name(self.lock_path.name + ".holder")
        try:
            lock.acquire(timeout=self.config.lock_wait_seconds)
        except Timeout:
            who = holder.read_text(encoding="utf-8").strip() if holder.exists() else "another job"
            raise WarehouseBusyError(
                f"the warehouse {self.path} is busy: {who}. Waited "
                f"{self.config.lock_wait_seconds:g}s; try again when it has finished "
                "(or raise [warehouse] lock_wait_seconds)."
            ) from None
        try:
            started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            holder.write_text(
                f"kamsync {job} (pid {os.getpid()}, since {started})", encoding="utf-8"
            )
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def connect(
        self, *, memory_limit: str | None = None, checkpoint_threshold: str | None = None
    ) -> duckdb.DuckDBPyConnection:
        """Open the engine file (creating and migrating it as needed) for writing."""
        self.work_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.work_path.exists() and self.path.exists():
            # first run against an existing published file (or the engine file was removed)
            shutil.copyfile(self.path, self.work_path)
        try:
            settings = self._settings(memory_limit, checkpoint_threshold)
            con = duckdb.connect(str(self.work_path), config=settings)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.work_path}: {exc}") from exc
        try:
            migrate(con, label=str(self.work_path))
        except BaseException:
            con.close()
            raise
        return con

    @contextlib.contextmanager
    def session(
        self,
        *,
        publish: bool = True,
        job: str = "job",
        memory_limit: str | None = None,
        checkpoint_threshold: str | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the job lock and open the engine file; publish the analysts' copy afterwards.

        The copy is published whenever the job ends with the file consistent (every kamsync
        write is a transaction), so a failed run's record reaches ``kamsync status`` too.
        ``memory_limit`` is the job's DuckDB memory limit unless ``[warehouse] memory_limit``
        sets one for every job; ``checkpoint_threshold`` how much write-ahead log DuckDB may
        gather before it checkpoints on its own (the session always checkpoints at its end,
        before publishing).
        """
        with self.locked(job):
            con = self.connect(memory_limit=memory_limit, checkpoint_threshold=checkpoint_threshold)
            ended = False
            try:
                yield con
                ended = True
            finally:
                if not ended:
                    with contextlib.suppress(duckdb.Error):  # no transaction was open
                        con.rollback()
                try:
                    con.execute("checkpoint")
                finally:
                    con.close()
                if publish:
                    self.publish()

    def publish(self) -> None:
        """Atomically replace the analysts' file with a copy of the engine file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            shutil.copyfile(self.work_path, tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise WarehouseError(
                f"cannot publish warehouse to {self.path}: {exc.strerror}"
            ) from exc

    def read_published(self) -> duckdb.DuckDBPyConnection:
        """Open the published file read-only, as an analyst would."""
        if not self.path.exists():
            raise WarehouseError(
                f"no warehouse at {self.path} yet: run `kamsync sync` (or `kamsync demo`) first"
            )
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path}: {exc}") from exc
        version_found = schema_version(con)
        if version_found > LATEST_VERSION:
            con.close()
            raise SchemaVersionError(
                f"warehouse {self.path} has schema version {version_found}; this kamsync knows "
                f"versions up to {LATEST_VERSION}. Upgrade kamsync."
            )
        return con

    def _settings(
        self, default_limit: str | None, checkpoint_threshold: str | None = None
    ) -> dict[str, str | bool | int | float | list[str]]:
        settings: dict[str, str | bool | int | float | list[str]] = {}
        limit = self.config.memory_limit or default_limit
        if limit:
            settings["memory_limit"] = limit
        if checkpoint_threshold:
            settings["checkpoint_threshold"] = checkpoint_threshold
        if self.config.threads:
            settings["threads"] = self.config.threads
        return settings

"""Sync part or all of an emulated world into a warehouse and map the planted truth onto it.

A test names the orgs it syncs (``("salesforce", "dynamics")`` for the whole world); each org is
one configured source (:data:`SOURCES`), its accounts land as ``<source>:<crm id>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from connectors.emulator.emulator import Emulator
from connectors.emulator.truth import AccountTruth, Truth
from tests.integration.sync_support import (
    dynamics_env,
    dynamics_source,
    salesforce_env,
    salesforce_source,
    write_sources_config,
)


@dataclass(frozen=True)
class OrgSource:
    """How one emulated org is configured as a kamsync source."""

    org: str
    name: str
    env: Callable[[Emulator], dict[str, str]]
    toml: Callable[[Emulator, str], str]


SOURCES: Mapping[str, OrgSource] = {
    "salesforce": OrgSource("salesforce", "sf", salesforce_env, salesforce_source),
    "dynamics": OrgSource("dynamics", "dv", dynamics_env, dynamics_source),
}


def world_env(emulator: Emulator, orgs: Iterable[str]) -> dict[str, str]:
    """The environment variables the sources of ``orgs`` read their secrets from."""
    env: dict[str, str] = {}
    for org in orgs:
        env.update(SOURCES[org].env(emulator))
    return env


def write_world_config(
    directory: Path, emulator: Emulator, orgs: Iterable[str], as_of: date
) -> Path:
    """A kamsync.toml with one source per org in ``orgs``, analysing as of ``as_of``."""
    sources = "".join(SOURCES[org].toml(emulator, SOURCES[org].name) for org in orgs)
    return write_sources_config(directory, f"{sources}\n[analytics]\nas_of = {as_of.isoformat()}\n")


def warehouse_key(account: AccountTruth) -> str:
    """The account's key in the warehouse: ``<source>:<crm id>``."""
    return f"{SOURCES[account.org].name}:{account.id}"


def accounts_in(truth: Truth, orgs: Iterable[str]) -> dict[str, AccountTruth]:
    """Warehouse key -> planted truth, for every account of ``orgs``."""
    wanted = set(orgs)
    return {warehouse_key(a): a for a in truth.accounts.values() if a.org in wanted}

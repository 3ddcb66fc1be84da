"""Emulators over real TLS on loopback, and clients that trust them the way kamsync does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import simple_salesforce

from connectors.emulator.emulator import Emulator
from connectors.http import CrmSession, RetryPolicy
from tests.emulator_support import small_world

API = "62.0"


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def session_for(emulator: Emulator, retries: int = 0) -> CrmSession:
    """kamsync's HTTP session trusting the emulator CA (no retries: tests see every fault)."""
    return CrmSession(ca_bundle=emulator.ca_file, policy=RetryPolicy(max_retries=retries))


def client_credentials_token(emulator: Emulator, session: CrmSession) -> str:
    """An access token from the token endpoint (client credentials grant)."""
    creds = emulator.credentials()["salesforce"]
    response = session.post(
        emulator.salesforce_url + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def salesforce_client(emulator: Emulator, session: CrmSession | None = None) -> Any:
    """simple-salesforce, unmodified, on the emulator with a token from its token endpoint."""
    http = session or session_for(emulator)
    return simple_salesforce.Salesforce(
        instance_url=emulator.salesforce_url,
        session_id=client_credentials_token(emulator, http),
        session=http,
        version=API,
    )


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[Emulator]:
    """One emulator for read-only tests."""
    with Emulator(world=small_world()) as emulator:
        yield emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator for a test that writes, injects faults or moves clocks."""
    with Emulator(world=small_world()) as fresh:
        yield fresh


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with options; all are stopped after the test."""
    started: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        options.setdefault("world", small_world())
        instance = Emulator(**options).start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


@pytest.fixture
def http(shared_emulator: Emulator) -> CrmSession:
    """A trusting session for the shared emulator."""
    return session_for(shared_emulator)


@pytest.fixture
def sf(shared_emulator: Emulator) -> Any:
    """simple-salesforce on the shared emulator."""
    return salesforce_client(shared_emulator)

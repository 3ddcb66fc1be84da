"""Shared fixtures: one generated world per test session (it is read-only in tests)."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.emulator.world import World, generate_world

AS_OF = date(2025, 6, 30)
SEED = 7
ACCOUNTS = 2000


@pytest.fixture(scope="session")
def world() -> World:
    """The default-size world as of a fixed date; tests must not mutate it."""
    return generate_world(SEED, ACCOUNTS, AS_OF)

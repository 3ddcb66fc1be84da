"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import parse_config
from config.model import KamsyncConfig


@pytest.fixture
def config(tmp_path: Path, secret_env: dict[str, str]) -> KamsyncConfig:
    text = """
[warehouse]
path = "kamsync.duckdb"
[[sources]]
name = "sf"
kind = "salesforce"
instance_url = "https://sf.example.test"
client_id_env = "SF_CLIENT_ID"
client_secret_env = "SF_CLIENT_SECRET"
objects = ["Account"]
"""
    return parse_config(text, "kamsync.toml", base_dir=tmp_path)

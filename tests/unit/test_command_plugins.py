"""Commands of the layers above sync are found by entry point, never imported by sync."""

from __future__ import annotations

import argparse
import logging
import sys
import types
from importlib.metadata import EntryPoint
from typing import Any

import pytest

import sync.commands
import sync.plugins
from sync.cli import build_parser


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=sync.commands.ENTRY_POINT_GROUP)


def test_the_installed_analyze_command_is_registered() -> None:
    commands = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert {"config", "analyze"} <= set(commands.choices)


def test_plugins_load_after_the_built_in_commands_and_broken_ones_are_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = types.ModuleType("kamsync_test_plugin")

    def register(commands: argparse._SubParsersAction[Any]) -> None:
        commands.add_parser("hello")

    good.register = register  # type: ignore[attr-defined]
    no_register = types.ModuleType("kamsync_test_empty")
    monkeypatch.setitem(sys.modules, "kamsync_test_plugin", good)
    monkeypatch.setitem(sys.modules, "kamsync_test_empty", no_register)
    found = [
        _entry("hello", "kamsync_test_plugin"),
        _entry("broken", "kamsync_no_such_module"),
        _entry("empty", "kamsync_test_empty"),
    ]
    monkeypatch.setattr(sync.plugins, "entry_points", lambda group: found)

    with caplog.at_level(logging.WARNING):
        modules = sync.commands.command_modules()

    assert modules == (*sync.commands.COMMAND_MODULES, good)
    assert "command 'broken' could not be loaded" in caplog.text
    assert "command 'empty' (kamsync_test_empty) has no register() function" in caplog.text


def test_the_analyze_job_is_declared_for_the_scheduler() -> None:
    from importlib.metadata import entry_points

    jobs = {ep.name: ep for ep in entry_points(group="kamsync.jobs")}

    assert callable(jobs["analyze"].load())

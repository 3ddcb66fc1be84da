"""Imports point one way: config <- connectors <- sync; analytics and writeback on top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "config": {"connectors", "sync", "analytics", "writeback", "duckdb", "polars"},
    "connectors": {"duckdb", "polars", "sync", "analytics", "writeback"},
    "sync": {"analytics", "writeback"},
}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no python files under {package}/"
    offences = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imported_modules(path) & FORBIDDEN[package]
    }
    assert offences == set()


def test_the_walker_sees_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    import duckdb\n    from polars import col\n", encoding="utf-8")
    assert _imported_modules(sample) == {"duckdb", "polars"}

"""SQL models: discovery, dependencies, order and rendering.

Every model is one ``.sql`` file under ``analytics/sql/<layer>/`` holding one ``select``.  A model
names the models it reads with ``{{ ref('name') }}``; that is how the runner learns the order,
and it renders each reference as the relation the referenced model was built into.  Seeds (the
weight tables, the targets) are relations the runner fills from the configuration with bound
values before the models run; they are referenced the same way.  Scalar parameters (the as-of
date, windows, thresholds) are DuckDB variables the runner sets with bound values; a model reads
one with ``{{ var('name') }}``, rendered as ``getvariable('name')`` once the name is checked, so
a typo is an error instead of a silent NULL.  A column drawn from a closed vocabulary (the entity
levels, the period grains, the health components...) is typed ``{{ enum('name') }}``, rendered
as the inline ``enum(...)`` of that vocabulary in :mod:`analytics.vocabularies`, so each list of
words is written once however many models use it.

How a model is materialised follows its layer: ``staging`` and ``intermediate`` models are
temporary tables (or temporary views, with ``-- materialized: view`` in the file) that live only
for the run; ``marts`` models are tables in the ``kam`` schema; a mart with
``-- materialized: append`` adds its rows to an existing ``kam`` table instead of replacing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal, cast

from analytics.vocabularies import VOCABULARIES, enum_type
from config.errors import RunFailedError

LAYERS: tuple[str, ...] = ("staging", "intermediate", "marts")
MART_SCHEMA = "kam"

Materialization = Literal["table", "view", "append"]

_REF_RE = re.compile(r"\{\{\s*ref\(\s*'([a-z][a-z0-9_]*)'\s*\)\s*\}\}")
_VAR_RE = re.compile(r"\{\{\s*var\(\s*'([a-z][a-z0-9_]*)'\s*\)\s*\}\}")
_ENUM_RE = re.compile(r"\{\{\s*enum\(\s*'([a-z][a-z0-9_]*)'\s*\)\s*\}\}")
_MATERIALIZED_RE = re.compile(r"^--\s*materialized:\s*(table|view|append)\s*$", re.MULTILINE)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Model:
    """One SQL model file."""

    name: str
    layer: str
    sql: str
    materialized: Materialization

    @property
    def is_mart(self) -> bool:
        """True for the models that become ``kam`` tables."""
        return self.layer == "marts"

    @property
    def relation(self) -> str:
        """The relation the model is built into."""
        return relation_name(self.name, mart=self.is_mart)

    @property
    def refs(self) -> frozenset[str]:
        """The names of the models and seeds this model reads."""
        return frozenset(_REF_RE.findall(self.sql))


def relation_name(name: str, *, mart: bool) -> str:
    """``kam.<name>`` for a mart; a temporary relation for everything else."""
    return f"{MART_SCHEMA}.{name}" if mart else f"temp.main.{name}"


def _materialization(layer: str, sql: str) -> Materialization:
    match = _MATERIALIZED_RE.search(sql)
    declared = match[1] if match else "table"
    if declared == "append" and layer != "marts":
        raise RunFailedError(f"only marts can be appended to, not {layer} models")
    if declared == "view" and layer == "marts":
        raise RunFailedError("marts are tables; a view cannot be a kam mart")
    return cast(Materialization, declared)


def discover(root: Traversable | None = None) -> list[Model]:
    """Every model under ``root`` (default: the shipped ``analytics/sql``), layer by layer."""
    base = root if root is not None else resources.files("analytics") / "sql"
    found: list[Model] = []
    for layer in LAYERS:
        folder = base / layer
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".sql"):
                continue
            name = entry.name.removesuffix(".sql")
            if not _NAME_RE.match(name):
                raise RunFailedError(f"model file {layer}/{entry.name}: name must be snake_case")
            sql = entry.read_text(encoding="utf-8")
            found.append(Model(name, layer, sql, _materialization(layer, sql)))
    return found


def build_order(models: Iterable[Model], seeds: Iterable[str]) -> list[Model]:
    """The models in dependency order; an unknown reference or a cycle is an error."""
    by_name: dict[str, Model] = {}
    for model in models:
        if model.name in by_name:
            raise RunFailedError(f"two models are called {model.name!r}")
        by_name[model.name] = model
    known = set(by_name) | set(seeds)
    graph: dict[str, set[str]] = {}
    for model in by_name.values():
        unknown = sorted(model.refs - known)
        if unknown:
            raise RunFailedError(f"model {model.name!r} refers to unknown {', '.join(unknown)}")
        graph[model.name] = {ref for ref in model.refs if ref in by_name}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise RunFailedError(f"models refer to each other in a cycle: {exc.args[1]}") from None
    ordered: list[Model] = []
    layer_rank = {layer: index for index, layer in enumerate(LAYERS)}
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (layer_rank[by_name[n].layer], n))
        ordered.extend(by_name[name] for name in ready)
        sorter.done(*ready)
    return ordered


def render(
    model: Model,
    relations: Mapping[str, str],
    variables: Iterable[str],
    vocabularies: Mapping[str, tuple[str, ...]] = VOCABULARIES,
) -> str:
    """The model's SQL with its references resolved, its variables checked and its enums typed."""
    known = frozenset(variables)
    unknown = sorted(set(_VAR_RE.findall(model.sql)) - known)
    if unknown:
        raise RunFailedError(f"model {model.name!r} reads unknown variable {', '.join(unknown)}")
    unknown = sorted(set(_ENUM_RE.findall(model.sql)) - set(vocabularies))
    if unknown:
        raise RunFailedError(f"model {model.name!r} uses unknown enum {', '.join(unknown)}")
    sql = _REF_RE.sub(lambda m: relations[m[1]], model.sql)
    sql = _ENUM_RE.sub(lambda m: enum_type(vocabularies[m[1]]), sql)
    return _VAR_RE.sub(lambda m: f"getvariable('{m[1]}')", sql)

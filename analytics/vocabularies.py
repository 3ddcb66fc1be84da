"""The closed vocabularies of the marts, each defined once.

A model spells such a column's type as ``{{ enum('name') }}``; the runner renders it as the
inline DuckDB ``enum(...)`` of the vocabulary's values, listed alphabetically so the column
sorts as text does.  The marts keep plain inline ENUM columns (no named type is created in the
warehouse), so a vocabulary can change without migrating anything: the next run rebuilds the
marts with the new type.  The Python code that validates the same words (the targets file, the
per-tier seed) reads them from here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from config.model import HealthWeights

TIERS: tuple[str, ...] = ("key", "growth", "maintain", "non_key")
PERIOD_GRAINS: tuple[str, ...] = ("week", "month", "quarter", "year")
ENTITY_LEVELS: tuple[str, ...] = ("account", "territory", "region", "national", "global")
HEALTH_COMPONENTS: tuple[str, ...] = tuple(HealthWeights.model_fields)
SCORE_SOURCES: tuple[str, ...] = ("crm_field", "data_proxy")

VOCABULARIES: Mapping[str, tuple[str, ...]] = {
    "tier": TIERS,
    "period_grain": PERIOD_GRAINS,
    "entity_level": ENTITY_LEVELS,
    "health_component": HEALTH_COMPONENTS,
    "score_source": SCORE_SOURCES,
}

_WORD_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def enum_type(values: tuple[str, ...]) -> str:
    """The inline DuckDB ENUM type of ``values``, alphabetically."""
    bad = [value for value in values if not _WORD_RE.match(value)]
    if bad or not values:
        raise ValueError(f"an enum vocabulary needs snake_case words, got {values!r}")
    return "enum(" + ", ".join(f"'{value}'" for value in sorted(set(values))) + ")"

"""The check made before any push: the target and every mapped field are kamsync's own.

From the CRM's own metadata (describe / EntityDefinitions), the target must exist, be a custom
object (table) named ``KAM_*__c`` (``kam_*``), and every mapped field must exist, be custom,
carry kamsync's name, be writable and have a type that holds its values; the external id must be
an external id (an alternate key) and the lookup must point at the account.  Anything else
refuses the whole push with :class:`UnsafeWriteError` naming every problem found; nothing is sent.
"""

from __future__ import annotations

from config.errors import UnsafeWriteError
from config.model import KAMSYNC_DATAVERSE_NAME_RE, KAMSYNC_SALESFORCE_NAME_RE
from connectors.writes import TargetDescription, TargetField
from writeback.payload import MappedField, ShapeKind, TargetMap

_SALESFORCE_TYPES: dict[ShapeKind, frozenset[str]] = {
    "text": frozenset({"string", "textarea", "picklist"}),
    "decimal": frozenset({"double", "currency", "percent"}),
    "integer": frozenset({"double", "int", "currency", "percent"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "reference": frozenset({"reference"}),
}
_DATAVERSE_TYPES: dict[ShapeKind, frozenset[str]] = {
    "text": frozenset({"String", "Memo"}),
    "decimal": frozenset({"Decimal", "Money", "Double"}),
    "integer": frozenset({"Integer", "BigInt", "Decimal"}),
    "date": frozenset({"DateTime"}),
    "datetime": frozenset({"DateTime"}),
    "reference": frozenset({"Lookup"}),
}
_DEPLOY = {
    "salesforce": "deploy it with `kamsync metadata salesforce --out DIR` (see the README)",
    "dynamics": "create it with `kamsync metadata dynamics --apply`",
}


def check_target(source: str, target: TargetMap, described: TargetDescription | None) -> None:
    """Raise :class:`UnsafeWriteError` unless ``described`` is a safe home for ``target``."""
    problems = target_problems(target, described)
    if problems:
        raise UnsafeWriteError(
            f"{source}: refusing to write {target.object}; nothing was sent:\n  "
            + "\n  ".join(problems)
        )


def target_problems(target: TargetMap, described: TargetDescription | None) -> list[str]:
    """Every reason ``described`` is not a safe home for ``target`` (empty when it is)."""
    kind = target.kind
    pattern = KAMSYNC_SALESFORCE_NAME_RE if kind == "salesforce" else KAMSYNC_DATAVERSE_NAME_RE
    thing = "object" if kind == "salesforce" else "table"
    if not pattern.match(target.object):
        return [f"{target.object} is not one of kamsync's own custom {thing}s"]
    if described is None:
        return [f"the {thing} {target.object} does not exist: {_DEPLOY[kind]}"]
    problems: list[str] = []
    if not described.custom:
        problems.append(f"{described.name} is a standard {thing}, not kamsync's custom {thing}")
    if not pattern.match(described.name):
        problems.append(f"the CRM names the {thing} {described.name}, not one of kamsync's")
    for mapped in target.fields:
        problems += _field_problems(target, described, mapped)
    return problems


def _field_problems(
    target: TargetMap, described: TargetDescription, mapped: MappedField
) -> list[str]:
    kind = target.kind
    pattern = KAMSYNC_SALESFORCE_NAME_RE if kind == "salesforce" else KAMSYNC_DATAVERSE_NAME_RE
    name = mapped.name
    if not pattern.match(name):
        return [f"{name} is not one of kamsync's own custom fields"]
    found = described.field(name)
    if found is None:
        return [f"{name} ({mapped.score.key}) does not exist on {described.name}: {_DEPLOY[kind]}"]
    problems: list[str] = []
    if not found.custom:
        problems.append(f"{name} is a standard field")
    if not (found.createable and found.updateable):
        problems.append(f"{name} is not writable for the integration user")
    allowed = (_SALESFORCE_TYPES if kind == "salesforce" else _DATAVERSE_TYPES)[mapped.shape.kind]
    if found.type not in allowed:
        problems.append(
            f"{name} is of type {found.type}, which cannot hold {mapped.score.key} "
            f"({' or '.join(sorted(allowed))} expected)"
        )
    problems += _role_problems(target, described, mapped, found)
    return problems


def _role_problems(
    target: TargetMap, described: TargetDescription, mapped: MappedField, found: TargetField
) -> list[str]:
    role = mapped.score.role
    if role == "lookup":
        account = "Account" if target.kind == "salesforce" else "account"
        if account not in found.reference_to:
            return [f"{found.name} does not look up {account}"]
    if role == "external_id":
        keyed = (
            found.external_id
            if target.kind == "salesforce"
            else any(key == (found.name,) for key in described.alternate_keys)
        )
        if not keyed:
            what = "an external id" if target.kind == "salesforce" else "an alternate key"
            return [f"{found.name} is not {what} of {described.name}"]
    return []

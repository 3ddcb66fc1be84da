"""Load ``kamsync.toml`` and report every problem at once, before any network call.

Each problem names the file, the key path (``sources[1].auth``) and what is wrong, in words a
sales-ops engineer can act on; unknown keys come with a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.errors import ConfigError, ConfigProblem
from config.model import (
    DYNAMICS_MODES,
    KAMSYNC_DATAVERSE_NAME_RE,
    KAMSYNC_SALESFORCE_NAME_RE,
    SALESFORCE_MODES,
    KamsyncConfig,
)

ENV_CONFIG = "KAMSYNC_CONFIG"
DEFAULT_CONFIG = Path("kamsync.toml")

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "date_type": "a date (YYYY-MM-DD)",
    "path_type": "a path string",
    "is_instance_of": "a path string",
}


def config_path(cli_value: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The config file to use: ``--config``, else ``$KAMSYNC_CONFIG``, else ``./kamsync.toml``."""
    environ = os.environ if env is None else env
    if cli_value:
        return Path(cli_value)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    return DEFAULT_CONFIG


def load_config(
    path: Path, env: Mapping[str, str] | None = None, *, check_env: bool = True
) -> KamsyncConfig:
    """Parse and validate ``path``; raise :class:`ConfigError` listing every problem.

    With ``check_env=False`` the environment variables the file names need not be set (their
    names are still checked): for commands that only read the warehouse.
    """
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(shown, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigProblem(shown, "", f"cannot read file: {reason}")]) from None
    return parse_config(text, shown, base_dir=path.resolve().parent, env=env, check_env=check_env)


def parse_config(
    text: str,
    file: str,
    *,
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    check_env: bool = True,
) -> KamsyncConfig:
    """Validate TOML ``text``; relative paths resolve against ``base_dir``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(file, "", f"not valid TOML: {exc}")]) from None
    problems = _cross_section_problems(raw, file)
    context = {
        "env": os.environ if env is None else env,
        "base_dir": base_dir,
        "check_env": check_env,
    }
    try:
        config = KamsyncConfig.model_validate(raw, context=context)
    except ValidationError as exc:
        problems = [_problem(file, err) for err in exc.errors()] + problems
        raise ConfigError(_dedupe(problems)) from None
    if problems:
        raise ConfigError(problems)
    return config


def _cross_section_problems(raw: Mapping[str, Any], file: str) -> list[ConfigProblem]:
    """Checks across sections, made on the raw document so they show beside the others."""
    problems: list[ConfigProblem] = []
    sources = raw.get("sources")
    kinds: dict[Any, Any] = (
        {s.get("name"): s.get("kind") for s in sources if isinstance(s, dict)}
        if isinstance(sources, list)
        else {}
    )
    writeback = raw.get("writeback")
    targets = writeback.get("sources") if isinstance(writeback, dict) else None
    if isinstance(targets, dict):
        for name, target in targets.items():
            if name not in kinds:
                hint = _did_you_mean(name, [n for n in kinds if isinstance(n, str)])
                problems.append(
                    ConfigProblem(
                        file,
                        f"writeback.sources.{name}",
                        f"no source named {name!r} is configured{hint}",
                    )
                )
            elif isinstance(target, dict) and kinds[name] in ("salesforce", "dynamics"):
                problems += _writeback_target_problems(file, name, kinds[name], target)
    return problems


def _writeback_target_problems(
    file: str, name: str, kind: str, target: Mapping[str, Any]
) -> list[ConfigProblem]:
    """A write-back target's mode and names must fit the kind of CRM its source is."""
    problems: list[ConfigProblem] = []
    key = f"writeback.sources.{name}"
    modes = SALESFORCE_MODES if kind == "salesforce" else DYNAMICS_MODES
    mode = target.get("mode")
    if isinstance(mode, str) and mode in SALESFORCE_MODES | DYNAMICS_MODES and mode not in modes:
        problems.append(
            ConfigProblem(
                file,
                f"{key}.mode",
                f"{mode!r} is not a {kind} write-back mode; use one of {', '.join(sorted(modes))}",
            )
        )
    pattern = KAMSYNC_SALESFORCE_NAME_RE if kind == "salesforce" else KAMSYNC_DATAVERSE_NAME_RE
    shape = "KAM_*__c" if kind == "salesforce" else "kam_*"
    named = [("object", target.get("object"))]
    fields = target.get("fields")
    if isinstance(fields, dict):
        named += [(f"fields.{k}", v) for k, v in fields.items()]
    for where, value in named:
        if isinstance(value, str) and not pattern.match(value) and _is_kamsync_name(value):
            problems.append(
                ConfigProblem(
                    file,
                    f"{key}.{where}",
                    f"{value!r} is not a {kind} name kamsync owns; {name} needs {shape}",
                )
            )
    return problems


def _is_kamsync_name(value: str) -> bool:
    """True for a name of either CRM's kamsync shape (other names fail in the model itself)."""
    return bool(KAMSYNC_SALESFORCE_NAME_RE.match(value) or KAMSYNC_DATAVERSE_NAME_RE.match(value))


def _dedupe(problems: Sequence[ConfigProblem]) -> list[ConfigProblem]:
    seen: set[ConfigProblem] = set()
    out: list[ConfigProblem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


# --------------------------------------------------------------------------- error rendering


_WHY_ONE_KIND: dict[str, str] = {
    "api_budget_percent": "Dataverse has no daily request counter to budget against; kamsync "
    "keeps to its service-protection limits by honouring 429 and Retry-After",
}
"""Why a key only one kind of source has is not on the others, where the reason is not plain."""


def _problem(file: str, err: ErrorDetails) -> ConfigProblem:
    loc = _clean_loc(err["loc"])
    key = _key_path(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        owners = _other_members_with(err["loc"])
        if owners:
            why = _WHY_ONE_KIND.get(str(loc[-1]))
            names = " and ".join(owner.capitalize() for owner in owners)
            return ConfigProblem(
                file, key, f"applies to {names} sources only" + (f": {why}" if why else "")
            )
        allowed = _allowed_keys(err["loc"][:-1])
        return ConfigProblem(file, key, "unknown key" + _did_you_mean(str(loc[-1]), allowed))
    if kind == "missing":
        return ConfigProblem(file, key, "is required")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        got = ctx.get("tag")
        if kind == "union_tag_not_found":
            return ConfigProblem(file, f"{key}.kind", f"is required (one of {expected})")
        return ConfigProblem(file, f"{key}.kind", f"must be one of {expected}; got {got!r}")
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", "")).replace("'", "")
        return ConfigProblem(file, key, f"must be one of {expected}; got {_safe_input(err)}")
    if kind in _TYPE_WORDS:
        return ConfigProblem(
            file, key, f"must be {_TYPE_WORDS[kind]}, got {_type_name(err['input'])}"
        )
    if kind == "value_error":
        message = str(err.get("ctx", {}).get("error", err["msg"]))
        return ConfigProblem(file, key, message)
    if kind == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        return ConfigProblem(
            file, key, f"{_safe_input(err)} does not have the expected form {pattern}"
        )
    message = err["msg"]
    return ConfigProblem(file, key, message[0].lower() + message[1:] if message else kind)


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop pydantic's internal location parts (union tags, validator names)."""
    out: list[int | str] = []
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        if (
            isinstance(part, str)
            and isinstance(previous, int)
            and part in ("salesforce", "dynamics")
        ):
            continue  # the discriminated-union tag
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        out.append(part)
    return tuple(out)


def _key_path(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }
    for kind, word in names.items():
        if type(value) is kind:
            return word
    return type(value).__name__


def _safe_input(err: ErrorDetails) -> str:
    value = err.get("input")
    if isinstance(value, str) and len(value) <= 64:
        return repr(value)
    return _type_name(value)


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """The keys allowed at ``loc`` (pydantic's raw location, union tags included)."""
    annotation: Any = KamsyncConfig
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    models = _models(annotation)
    return sorted({name for model in models for name in model.model_fields})


def _other_members_with(loc: Sequence[int | str]) -> list[str]:
    """For a key refused inside one member of a tagged union (a source of one kind), the tags of
    the other members that have the key (pydantic's raw location: ..., tag, key)."""
    if len(loc) < 2 or not isinstance(loc[-2], str):
        return []
    annotation: Any = KamsyncConfig
    for part in loc[:-2]:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    members = _models(annotation)
    if len(members) < 2:
        return []
    return [
        tag
        for member in members
        if (tag := _tag(member)) is not None and tag != loc[-2] and loc[-1] in member.model_fields
    ]


def _step(annotation: Any, part: int | str) -> Any:
    models = _models(annotation)
    if isinstance(part, str) and len(models) > 1:
        # a discriminated union: the part is the tag naming the member
        return next((m for m in models if _tag(m) == part), None)
    if isinstance(part, str) and len(models) == 1:
        field = models[0].model_fields.get(part)
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin in (tuple, list) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    args = typing.get_args(field.annotation) if field else ()
    return str(args[0]) if args else None


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models(args[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in args for m in _models(a)]
    return []

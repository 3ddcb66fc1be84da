"""``kamsync config check``: validate the configuration and show it resolved, secrets masked."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import tomli_w

from config import secrets
from config.model import KamsyncConfig

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``config check``."""
    parser = commands.add_parser("config", help="check the configuration")
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser(
        "check", help="validate the configuration and print it resolved, secrets masked"
    )
    check.set_defaults(handler=check_config)


def check_config(app: App) -> int:
    """Validate (raising ConfigError, exit 2, on problems) and print the resolved file."""
    config = app.config
    print(render(config, app.env))
    print(f"# {app.config_path}: configuration is valid")
    return 0


def render(config: KamsyncConfig, env: Any) -> str:
    """The resolved configuration as TOML, then one comment line per secret it names."""
    document = _without_none(config.model_dump(mode="json"))
    lines = [tomli_w.dumps(document).rstrip()]
    for source in config.sources:
        for key, value in source.model_dump().items():
            if key.endswith("_env") and isinstance(value, str):
                shown = secrets.MASK if env.get(value) else "(not set)"
                lines.append(f"# {source.name}.{key}: ${value} = {shown}")
    return "\n".join(lines)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value

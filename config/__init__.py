"""Typed configuration for kamsync: loading, validation and the exception tree.

``config`` is the bottom layer: it imports nothing else of kamsync.
"""

from config.errors import ConfigError, ConfigProblem, KamsyncError
from config.loader import config_path, load_config, parse_config
from config.model import DynamicsSource, KamsyncConfig, SalesforceSource

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "DynamicsSource",
    "KamsyncConfig",
    "KamsyncError",
    "SalesforceSource",
    "config_path",
    "load_config",
    "parse_config",
]

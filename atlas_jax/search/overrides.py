"""Formatting config values as Hydra command-line overrides, and parsing them back."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError

# Hydra's override grammar reads these bare words as something other than a string.
_RESERVED_WORDS = {"true", "false", "null", "inf", "-inf", "nan", "+inf"}
_BARE_STRING = re.compile(r"[A-Za-z_/\-][A-Za-z0-9_./\-:]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*")


def format_value(value: Any) -> str:
    """Format one value in Hydra's override grammar, so that parsing it returns `value`."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)  # shortest string that round-trips, e.g. 0.001 or 1e-05
    if isinstance(value, str):
        if _BARE_STRING.fullmatch(value) and value.lower() not in _RESERVED_WORDS:
            return value
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str) or not _BARE_STRING.fullmatch(key):
                raise ConfigError(f"cannot write dict key {key!r} as a Hydra override; use simple string keys")
            items.append(f"{key}:{format_value(item)}")
        return "{" + ",".join(items) + "}"
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (bytes, bytearray)):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    raise ConfigError(f"cannot write {value!r} (type {type(value).__name__}) as a Hydra override value")


def format_override(path: str, value: Any) -> str:
    """Format `path=value` for Hydra, such as "optim.learning_rate=0.001"."""
    if not _KEY.fullmatch(path):
        raise ConfigError(f"invalid override key {path!r}: expected dotted names such as optim.learning_rate")
    return f"{path}={format_value(value)}"


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Parse "key=value" overrides with Hydra's parser into {key: value}.

    Raises:
        ConfigError: for a line that Hydra cannot parse or that deletes/appends keys.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    result: dict[str, Any] = {}
    for line in overrides:
        try:
            override = parser.parse_override(line)
        except HydraException as error:
            raise ConfigError(f"invalid override {line!r}: {error}") from None
        if override.is_delete() or override.is_add() or override.is_force_add():
            raise ConfigError(f"invalid override {line!r}: expected plain key=value")
        result[override.key_or_group] = _plain(override.value())
    return result


def _plain(value: Any) -> Any:
    """Convert Hydra's parsed containers into plain lists and dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value

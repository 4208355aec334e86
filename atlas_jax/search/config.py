"""Structured config that names a registered search space from Hydra (imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class SpaceConfig:
    name: str = "mlp"  # registered space name, or "module.path:name" to import that module first
    module: Optional[str] = None  # module imported before lookup, so its @register_space runs
    bounds: dict[str, Any] = field(default_factory=dict)  # {path: [low, high] | {low, high, log, step} | [options] | {value: x}}
    args: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the space function

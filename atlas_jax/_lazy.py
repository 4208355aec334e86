"""Lazy package exports, so importing a subpackage (for its config schema, say) does not load JAX."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Build a module-level `__getattr__` that imports each exported name on first use.

    Args:
        package: the package's `__name__`.
        exports: public name -> module holding it, either absolute (`atlas_jax.x.y`)
            or relative to `package` (`y`).
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        module = exports[name]
        if not module.startswith("atlas_jax."):
            module = f"{package}.{module}"
        return getattr(importlib.import_module(module), name)

    return __getattr__

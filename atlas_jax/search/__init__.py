"""Search spaces shared by HPO and NAS.

Write a space in plain Python with `Float`, `Int`, `Choice`, nested dicts,
conditions (`when=`) and constraints. Draw configs from it, convert it to a
nevergrad parametrization and back, and turn configs into Hydra overrides.
Register a space by name with `register_space` and build it with `get_space`.

Names load on first use, so config modules can import `atlas_jax.search.config`
without pulling in numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlas_jax._lazy import lazy_getattr

_EXPORTS = {
    "format_override": "overrides", "format_value": "overrides", "parse_overrides": "overrides",
    "MIN_PRIOR_SPREAD": "params", "Choice": "params", "Float": "params", "Int": "params",
    "Param": "params", "ParamPrior": "params",
    "SpaceConfig": "config",
    "available_spaces": "registry", "build_space": "registry", "get_space": "registry",
    "import_space_module": "registry", "register_space": "registry",
    "Constraint": "space", "Space": "space",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from atlas_jax.search.config import SpaceConfig
    from atlas_jax.search.overrides import format_override, format_value, parse_overrides
    from atlas_jax.search.params import MIN_PRIOR_SPREAD, Choice, Float, Int, Param, ParamPrior
    from atlas_jax.search.registry import (
        available_spaces,
        build_space,
        get_space,
        import_space_module,
        register_space,
    )
    from atlas_jax.search.space import Constraint, Space


__getattr__ = lazy_getattr(__name__, _EXPORTS)

"""Search spaces shared by HPO and NAS.

Write a space in plain Python with `Float`, `Int`, `Choice`, nested dicts,
conditions (`when=`) and constraints. Draw configs from it, convert it to a
nevergrad parametrization and back, and turn configs into Hydra overrides.
Register a space by name with `register_space` and build it with `get_space`.
"""

from atlas_jax.search.overrides import format_override, format_value, parse_overrides
from atlas_jax.search.params import MIN_PRIOR_SPREAD, Choice, Float, Int, Param, ParamPrior
from atlas_jax.search.config import SpaceConfig
from atlas_jax.search.registry import (
    available_spaces,
    build_space,
    get_space,
    import_space_module,
    register_space,
)
from atlas_jax.search.space import Constraint, Space

__all__ = [
    "MIN_PRIOR_SPREAD",
    "Choice",
    "Constraint",
    "Float",
    "Int",
    "Param",
    "ParamPrior",
    "Space",
    "SpaceConfig",
    "available_spaces",
    "build_space",
    "format_override",
    "format_value",
    "get_space",
    "import_space_module",
    "parse_overrides",
    "register_space",
]

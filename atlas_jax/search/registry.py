"""Registry of named search spaces.

A researcher adds a space in their own module:

    from atlas_jax.search import Float, Space, register_space

    @register_space("my_mlp")
    def my_mlp(max_width: int = 512) -> Space:
        return Space({"model": {"hidden": ...}, "optim": {"learning_rate": Float(1e-4, 1e-1, log=True)}})

and names it from Hydra as `hpo.space.name=my_mlp` (with `hpo.space.module=my_pkg.spaces`
so the module is imported), or as `hpo.space.name=my_pkg.spaces:my_mlp`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from atlas_jax.errors import ConfigError
from atlas_jax.search.space import Space

_SPACES: dict[str, Callable[..., Space]] = {}
# Modules whose spaces every lookup finds by name. They import nothing heavy, whereas the NAS
# spaces import JAX and Flax, so those are looked up through their module path instead.
_BUILTIN_MODULES = ("atlas_jax.search.spaces", "atlas_jax.boosting.space")


def register_space(name: str, *, replace: bool = False) -> Callable[[Callable[..., Space]], Callable[..., Space]]:
    """Register a function returning a `Space` under `name` (decorator).

    Args:
        name: registry key, as used by `get_space` and `hpo.space`.
        replace: allow replacing an existing entry registered by a different function.

    Raises:
        ConfigError: if `name` is already taken by another function and replace is False.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ConfigError(f"invalid space name {name!r}: expected a non-empty string without ':'")

    def decorator(factory: Callable[..., Space]) -> Callable[..., Space]:
        existing = _SPACES.get(name)
        # Re-importing the same module (as pytest and reloads do) registers an equal function.
        same = existing is not None and (existing.__module__, existing.__qualname__) == (
            factory.__module__, factory.__qualname__)
        if existing is not None and not same and not replace:
            raise ConfigError(
                f"search space '{name}' is already registered by {existing.__module__}.{existing.__qualname__}; "
                "pick another name or pass replace=True"
            )
        _SPACES[name] = factory
        return factory

    return decorator


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def available_spaces() -> list[str]:
    """Names of all registered spaces, including the built-in ones."""
    _load_builtin()
    return sorted(_SPACES)


def get_space(name: str, bounds: Mapping[str, Any] | None = None, **bound_overrides: Any) -> Space:
    """Build the registered space `name`, with optional bound overrides.

    Args:
        name: a registered name, or "module.path:name" to import that module first.
        bounds: {dotted path: override}, flat or nested, as `Space.with_bounds` takes.
        **bound_overrides: keyword arguments of the space function are passed to it; any
            other keyword is a bound override whose name has "__" in place of "."
            (optim__learning_rate=(1e-4, 1e-2) sets "optim.learning_rate").

    Raises:
        ConfigError: for an unknown name, a module that fails to import, or an invalid override.
    """
    if ":" in name:
        module_name, name = name.split(":", 1)
        import_space_module(module_name)
    _load_builtin()
    if name not in _SPACES:
        raise ConfigError(
            f"unknown search space '{name}'; registered spaces: {', '.join(sorted(_SPACES))}. "
            "Import the module that registers it (hpo.space.module or nas.space.module, next to the name) "
            "or use 'module:name'."
        )
    factory = _SPACES[name]
    accepted = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    factory_kwargs = {k: v for k, v in bound_overrides.items() if k in accepted or takes_any}
    extra = {k.replace("__", "."): v for k, v in bound_overrides.items() if k not in factory_kwargs}
    space = factory(**factory_kwargs)
    if not isinstance(space, Space):
        raise ConfigError(f"search space function '{name}' returned {type(space).__name__}, expected a Space")
    return space.with_bounds(bounds).with_bounds(extra)


def import_space_module(module_name: str) -> None:
    """Import a module that registers spaces, turning import failures into ConfigError."""
    try:
        importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"cannot import search-space module '{module_name}': {error}") from error


def build_space(cfg: Any) -> Space:
    """Build the space that a `SpaceConfig` (dataclass, DictConfig or dict) names.

    Raises:
        ConfigError: as `get_space` does.
    """
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    if not isinstance(cfg, Mapping):
        cfg = {name: getattr(cfg, name) for name in ("name", "module", "bounds", "args")}
    if cfg.get("module"):
        import_space_module(str(cfg["module"]))
    args = dict(cfg.get("args") or {})
    space = get_space(str(cfg["name"]), bounds=dict(cfg.get("bounds") or {}), **args)
    return space

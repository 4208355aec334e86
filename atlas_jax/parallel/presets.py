"""Load the `conf/parallel/` presets as `ParallelConfig` objects, outside Hydra (tests, scripts)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.config import ParallelConfig

PRESETS = ("single", "dp", "fsdp", "tp", "pp_gpipe", "pp_circular", "dp_tp_pp")


def load_preset(name: str, **overrides) -> ParallelConfig:
    """Read `conf/parallel/<name>.yaml` into a `ParallelConfig`, then apply `overrides`.

    Raises:
        ConfigError: no such preset.
    """
    from atlas_jax.launch import config_dir

    path = Path(config_dir()) / "parallel" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"parallel preset '{name}' not found at {path}; presets: {', '.join(PRESETS)}")
    values = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    values.pop("defaults", None)
    merged = OmegaConf.merge(OmegaConf.structured(ParallelConfig), values, overrides)
    return OmegaConf.to_object(merged)

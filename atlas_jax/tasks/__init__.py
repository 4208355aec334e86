"""Tasks that `atlas task=NAME` runs.

A task is a module `atlas_jax.tasks.NAME` with a function
`run(cfg: DictConfig, run_dir: pathlib.Path) -> dict`, which returns a JSON-ready
summary. New tasks need no registration: adding the module is enough.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from atlas_jax.errors import ConfigError


def available_tasks() -> list[str]:
    """Names of every task module in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run_task(cfg: Any, run_dir: Path) -> dict:
    """Import task `cfg.task` and run it into `run_dir`."""
    name = str(cfg.task)
    if name not in available_tasks():
        raise ConfigError(f"unknown task '{name}'; valid tasks: {', '.join(available_tasks())}")
    module = importlib.import_module(f"atlas_jax.tasks.{name}")
    return module.run(cfg, run_dir)

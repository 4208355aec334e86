"""Task `automl`: meta-prior, HPO over model and optimizer, retrain on train+val, test.

    atlas task=automl experiment=digits_automl

Stages:
1. The dataset's meta-features pick the nearest past tasks, whose best configs
   warm-start the search.
2. A study over the `hpo.space` space picks the config with the best validation accuracy.
3. That config is retrained on the training and validation splits together.
4. The retrained model is evaluated once on the test split.
The study is recorded in the meta-history for later tasks.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


def run(cfg: DictConfig, run_dir: Path) -> dict:
    from atlas_jax.config import DataConfig
    from atlas_jax.data import Split, load_dataset
    from atlas_jax.errors import AtlasError
    from atlas_jax.hpo import Trial
    from atlas_jax.tasks.hpo import run_search, study_summary
    from atlas_jax.train import train_and_evaluate, write_json
    from atlas_jax.train.run_folder import RunConfigChanged

    start = time.perf_counter()
    outcome = run_search(cfg, run_dir / "search")
    best = outcome.result.best
    if best is None:
        raise AtlasError(f"no trial completed; see {run_dir / 'search' / 'trials.jsonl'}")
    search_seconds = time.perf_counter() - start

    # Retrain the best config, on train+val with hpo.retrain. The test split stays held out.
    retrained_on = "train+val" if cfg.hpo.retrain else "train"
    _check_retrain_data(run_dir / "final", retrained_on)
    steps = cfg.hpo.retrain_steps or cfg.hpo.trial_steps
    trial = Trial(-1, best.values, best.overrides, run_dir / "final")
    final_cfg = outcome.objective.trial_config(trial, steps=steps)
    # Trials run silently side by side; the retrain runs alone, so it shows progress as a run does.
    final_cfg.train.progress = bool(cfg.train.progress)
    logger.info("retraining the best config (trial %d) for %d steps on %s", best.trial, steps,
                "train+val" if cfg.hpo.retrain else "train")
    data_cfg = OmegaConf.to_object(final_cfg.data) if not isinstance(final_cfg.data, DataConfig) else final_cfg.data
    dataset = load_dataset(data_cfg)
    if cfg.hpo.retrain:
        merged = Split(np.concatenate([dataset.train.x, dataset.val.x]), np.concatenate([dataset.train.y, dataset.val.y]))
        dataset = dataclasses.replace(dataset, train=merged)
    # A model retrained on train+val has no held-out validation split, so its run writes test
    # metrics only: readers take the summary at face value.
    try:
        final = train_and_evaluate(final_cfg, run_dir / "final", dataset=dataset, validate=not cfg.hpo.retrain)
    except RunConfigChanged as error:
        raise AtlasError(
            f"the retrain in {run_dir / 'final'} has checkpoints of another config ({error.details}), for example "
            f"from another hpo.retrain_steps, or another best trial after hpo.budget grew; delete "
            f"{run_dir / 'final'} to retrain with this config (the search in {run_dir / 'search'} is kept)"
        ) from None

    summary = {
        "task": "automl",
        "name": str(cfg.name),
        **study_summary(outcome),
        "retrained_on": retrained_on,
        "test_accuracy": final["test_accuracy"],
        "test_loss": final["test_loss"],
        # This invocation's times: a rerun that resumes reports only the work it did. The
        # totals over every run are trial_seconds (all trials) and retrain_wall_time_s.
        "search_seconds": search_seconds,
        "wall_time_s": time.perf_counter() - start,
        "retrain_wall_time_s": final.get("wall_time_s"),
        # Hydra sweepers minimise this: the best trial's validation loss, never a test number.
        "objective": best.loss,
    }
    write_json(run_dir / "summary.json", summary)
    logger.info("automl: best validation %s %.4f, test accuracy %.4f after retraining, %.0f s in all",
                cfg.hpo.metric, best.metric, final["test_accuracy"], summary["wall_time_s"])
    return summary


def _check_retrain_data(final_dir: Path, retrained_on: str) -> None:
    """Record which splits the retrain uses; reject a rerun that would resume it on other data.

    `hpo.retrain` may change between reruns of a study, but `final/` resumes from its
    checkpoints, so a resumed model would have trained on the other splits.
    """
    import json

    from atlas_jax.errors import AtlasError
    from atlas_jax.train import write_json

    marker = final_dir / "retrained_on.json"
    if marker.exists():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8")).get("retrained_on")
        except (OSError, ValueError, AttributeError) as error:
            raise AtlasError(f"cannot read {marker} ({error}); delete {final_dir} to retrain from scratch") from error
        if previous != retrained_on:
            setting = "true" if previous == "train+val" else "false"
            raise AtlasError(
                f"{final_dir} contains a retrain on {previous}, but this run requests one on {retrained_on}; "
                f"rerun with hpo.retrain={setting}, or delete {final_dir} to retrain from scratch"
            )
        return
    final_dir.mkdir(parents=True, exist_ok=True)
    write_json(marker, {"retrained_on": retrained_on})

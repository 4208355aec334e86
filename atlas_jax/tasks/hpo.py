"""Task `hpo`: search hyperparameters of the training run that the rest of the config describes.

    atlas task=hpo experiment=digits_mlp hpo.space.name=mlp hpo.budget=20
    atlas task=hpo hpo=asha hpo.trial_steps=900 hpo.optimizer=TwoPointsDE

Each trial is a `train_and_evaluate` run in `<run_dir>/trials/NNNN` with the trial's
overrides. Outputs: trials.jsonl, best_overrides.txt, best_experiment.yaml,
best_so_far.png and summary.json in the run folder. Rerunning the same command
resumes the study.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


@dataclass
class SearchOutcome:
    """Result of `run_search`, shared by the hpo and automl tasks."""

    result: Any  # StudyResult
    space: Any  # Space
    objective: Any  # TrainingObjective
    features: Optional[dict[str, float]]  # meta-features of the task, when the prior was used
    prior: Any  # MetaPrior or None
    # Meta-history facts when the prior was used: {"path": file, "past_tasks": other tasks in it,
    # "recorded": whether this study was appended}; None without a prior.
    history: Optional[dict[str, Any]] = None


def task_meta_features(cfg: DictConfig) -> dict[str, float]:
    """Meta-features of the configured dataset's training split."""
    from atlas_jax.config import DataConfig
    from atlas_jax.data import load_dataset
    from atlas_jax.meta import compute_meta_features

    data_cfg = OmegaConf.to_object(cfg.data) if not isinstance(cfg.data, DataConfig) else cfg.data
    dataset = load_dataset(data_cfg)
    return compute_meta_features(dataset.train.x, dataset.train.y, seed=int(cfg.hpo.seed))


def run_search(cfg: DictConfig, run_dir: Path) -> SearchOutcome:
    """Run (or resume) the study that `cfg.hpo` describes into `run_dir`."""
    from atlas_jax.errors import AtlasError
    from atlas_jax.hpo import TrainingObjective, run_study
    from atlas_jax.hpo.objective import config_overrides
    from atlas_jax.launch import config_dir
    from atlas_jax.meta import MetaHistory, build_prior, fit_score_model
    from atlas_jax.search import build_space

    from atlas_jax.hpo.store import TRIALS_FILE
    from atlas_jax.train.run_folder import check_study_config

    hpo = cfg.hpo
    _check_hpo_config(hpo)
    trials_path = Path(run_dir) / TRIALS_FILE
    check_study_config(run_dir, cfg, has_trials=trials_path.is_file() and trials_path.stat().st_size > 0)
    space = build_space(hpo.space)
    logger.info("search space %s: %s", hpo.space.name, ", ".join(space.paths))

    # Stage 1: the prior from similar past tasks.
    features, prior, history_info = None, None, None
    if not hpo.prior.enabled and hpo.prior.history is not None:
        logger.warning("hpo.prior.history=%s is not used because hpo.prior.enabled is false; set "
                       "hpo.prior.enabled=true (or hpo=automl) to read and record past studies", hpo.prior.history)
    if hpo.prior.enabled:
        features = task_meta_features(cfg)
        meta_history = MetaHistory(hpo.prior.history)
        history = meta_history.load()
        past = [record for record in history if record.task != _task_name(cfg)]
        history_info = {"path": str(meta_history.path), "past_tasks": len(past), "recorded": False}
        if not past:
            logger.info("meta-history %s has no other task yet, so this study runs without a prior%s",
                        meta_history.path, "; it will be recorded there for later tasks" if hpo.prior.record else "")
        pool = int(hpo.prior.pool)
        # The score model's transfer check leaves whole tasks out, so it needs 3 or more past tasks.
        score_model = fit_score_model(space, past) if pool and len(past) >= 3 else None
        if pool and past and (score_model is None or len(score_model.tasks) < 3):
            logger.info("hpo.prior.pool=%d needs past trials of 3 or more tasks in this space; using the nearest-task "
                        "prior", pool)
            score_model = None
        prior = build_prior(space, features, history, k=int(hpo.prior.k), warm_starts=int(hpo.prior.warm_starts),
                            exclude=[_task_name(cfg)], score_model=score_model, pool=pool or 1)
        if past:
            logger.info("prior from %d past tasks in %s; nearest: %s; %d warm starts", len(past), meta_history.path,
                        ", ".join(f"{task} ({distance:.2f})" for task, distance in prior.neighbors) or "none",
                        len(prior.warm_starts))

    # Stage 2: the study.
    objective = TrainingObjective(str(config_dir()), config_overrides(cfg, config_dir()), eval_metric=hpo.eval_metric)
    asha = (int(hpo.asha.min_steps), int(hpo.asha.reduction_factor)) if hpo.asha.enabled else None
    max_steps = None
    if hpo.trial_steps is not None:
        max_steps = int(hpo.trial_steps)
    elif asha:
        max_steps = int(cfg.train.steps)
    result = run_study(
        objective, space, run_dir, optimizer=hpo.optimizer, budget=int(hpo.budget),
        num_workers=int(hpo.num_workers), executor=hpo.executor, metric=hpo.metric, mode=hpo.mode,
        max_steps=max_steps, asha=asha, seed=int(hpo.seed),
        prior=prior.params if prior else None, warm_starts=prior.warm_starts if prior else (),
        max_failures=int(hpo.max_failures), slurm=OmegaConf.to_container(hpo.slurm, resolve=True),
        experiment=partial(_best_experiment, objective, Path(run_dir), max_steps, f"{cfg.name}_best"),
    )

    # Stage 3: remember this task for later studies.
    if hpo.prior.enabled and hpo.prior.record and result.complete:
        from atlas_jax.meta import TaskRecord

        trials = [{"values": r.values, "metric": r.metric} for r in result.complete]
        try:
            written = MetaHistory(hpo.prior.history).add(
                TaskRecord(_task_name(cfg), features, trials, mode=hpo.mode, space=str(hpo.space.name))
            )
        except (OSError, AtlasError) as error:
            # The study itself is complete and saved, so a history that cannot be written loses only the record.
            logger.warning("cannot record this study in meta-history %s (%s); later tasks will not learn from it. "
                           "Make the file writable, or set hpo.prior.record=false", history_info["path"], error)
            written = None
        history_info["recorded"] = written is not None
        if written:
            logger.info("recorded %d trials of task %s in meta-history %s", len(trials), _task_name(cfg),
                        history_info["path"])
        elif written is False:
            logger.info("meta-history %s already contains these %d trials of task %s", history_info["path"],
                        len(trials), _task_name(cfg))
    return SearchOutcome(result, space, objective, features, prior, history_info)


def _best_experiment(objective: Any, run_dir: Path, steps: Optional[int], name: str, record: Any) -> str:
    """Build the self-contained experiment file of a trial: its whole composed config."""
    from atlas_jax.hpo import Trial
    from atlas_jax.hpo.outputs import experiment_yaml
    from atlas_jax.launch import config_dir

    trial = Trial(record.trial, record.values, record.overrides, run_dir / "trials" / f"{record.trial:04d}")
    return experiment_yaml(objective.trial_config(trial, steps=steps), config_dir(), name)


def _check_hpo_config(hpo: DictConfig) -> None:
    """Reject invalid `hpo` values before any data is read (the prior's sizes whether or not it is enabled)."""
    from atlas_jax.errors import ConfigError

    checks = (("budget", 1, "trials"), ("num_workers", 1, "trials at a time"), ("max_failures", 0, "failed trials"),
              ("prior.k", 1, "past tasks"), ("prior.warm_starts", 0, "configs"),
              ("prior.pool", 0, "configs (0: nearest-task prior)"))
    for key, lowest, unit in checks:
        value = int(OmegaConf.select(hpo, key))
        if value < lowest:
            raise ConfigError(f"invalid hpo.{key}={value}: expected {lowest} or more {unit}")
    for key, default in (("trial_steps", "the experiment's train.steps"), ("retrain_steps", "hpo.trial_steps")):
        if hpo[key] is not None and int(hpo[key]) < 1:
            raise ConfigError(f"invalid hpo.{key}={hpo[key]}: expected 1 or more training steps, or null for {default}")
    if hpo.mode not in ("max", "min"):
        raise ConfigError(f"invalid hpo.mode={hpo.mode!r}: expected max or min (the direction of hpo.metric)")


def _task_name(cfg: DictConfig) -> str:
    """History key of the configured dataset (name plus file path for file-backed data)."""
    return f"{cfg.data.name}:{cfg.data.path}" if cfg.data.get("path") else str(cfg.data.name)


def study_summary(outcome: SearchOutcome) -> dict[str, Any]:
    """Summarize a study as a JSON-ready dict."""
    result = outcome.result
    counts: dict[str, int] = {}
    for record in result.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    best = result.best
    return {
        "trials": counts,
        "best_trial": best.trial if best else None,
        "best_metric": best.metric if best else None,
        "best_values": best.values if best else None,
        "best_overrides": best.overrides if best else None,
        "prior_neighbors": outcome.prior.neighbors if outcome.prior else None,
        "warm_starts": len(outcome.prior.warm_starts) if outcome.prior else 0,
        "meta_history": outcome.history,
        "trial_seconds": sum(r.duration_s or 0.0 for r in result.records),
        # Hydra sweepers minimise this: the best trial's loss (the metric, negated for mode=max).
        "objective": best.loss if best else None,
    }


def run(cfg: DictConfig, run_dir: Path) -> dict:
    from atlas_jax.errors import AtlasError
    from atlas_jax.train import write_json

    outcome = run_search(cfg, run_dir)
    if outcome.result.best is None:
        raise AtlasError(f"no trial of the study in {run_dir} completed; see {run_dir / 'trials.jsonl'}")
    summary = {"task": "hpo", "name": str(cfg.name), **study_summary(outcome)}
    write_json(run_dir / "summary.json", summary)
    logger.info("best %s %.4f (trial %d): %s", cfg.hpo.metric, outcome.result.best.metric,
                outcome.result.best.trial, " ".join(outcome.result.best.overrides))
    return summary

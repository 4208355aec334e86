"""Hyperparameter optimization: nevergrad studies over a search space, run in parallel.

`run_study` asks a nevergrad optimizer for configs, runs each as a trial on a
`concurrent.futures` executor (or submitit), stops poor trials early with ASHA,
records everything in an append-only `trials.jsonl` and resumes from it.

Names load on first use, so `atlas_jax.config` can import `atlas_jax.hpo.config`
without pulling in the runner.
"""

from __future__ import annotations

from atlas_jax._lazy import lazy_getattr

_EXPORTS = {
    "ASHAConfig": "config", "HPOConfig": "config", "PriorConfig": "config",
    "ASHAScheduler": "asha", "TrialPruned": "asha",
    "InlineExecutor": "executors", "make_executor": "executors", "wait_any": "executors",
    "TrainingObjective": "objective", "compose_config": "objective",
    "best_so_far": "outputs", "write_best": "outputs", "write_plot": "outputs",
    "StudyStore": "store", "TrialRecord": "store",
    "StudyResult": "study", "create_optimizer": "study", "run_study": "study",
    "Trial": "trial", "execute_trial": "trial",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)

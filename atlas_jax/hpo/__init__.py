"""Hyperparameter optimization: nevergrad studies over a search space, run in parallel.

`run_study` asks a nevergrad optimizer for configs, runs each as a trial on a
`concurrent.futures` executor (or submitit), stops poor trials early with ASHA,
records everything in an append-only `trials.jsonl` and resumes from it.
"""

from atlas_jax.hpo.asha import ASHAScheduler, TrialPruned
from atlas_jax.hpo.config import ASHAConfig, AutoMLConfig, HPOConfig, PriorConfig
from atlas_jax.hpo.executors import InlineExecutor, make_executor, wait_any
from atlas_jax.hpo.objective import TrainingObjective, compose_config
from atlas_jax.hpo.outputs import best_so_far, write_best, write_plot
from atlas_jax.hpo.store import StudyStore, TrialRecord
from atlas_jax.hpo.study import StudyResult, create_optimizer, run_study
from atlas_jax.hpo.trial import Trial, execute_trial

__all__ = [
    "ASHAConfig",
    "ASHAScheduler",
    "AutoMLConfig",
    "HPOConfig",
    "InlineExecutor",
    "PriorConfig",
    "StudyResult",
    "StudyStore",
    "Trial",
    "TrainingObjective",
    "TrialPruned",
    "TrialRecord",
    "best_so_far",
    "compose_config",
    "create_optimizer",
    "execute_trial",
    "make_executor",
    "run_study",
    "wait_any",
    "write_best",
    "write_plot",
]

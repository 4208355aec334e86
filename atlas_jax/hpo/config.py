"""Structured configs of the `hpo` and `automl` tasks (imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from atlas_jax.search.config import SpaceConfig


@dataclass
class ASHAConfig:
    enabled: bool = False  # stop poor trials early at rungs of the validation metric (asynchronous successive halving)
    min_steps: int = 100  # training steps of the first rung
    reduction_factor: int = 3  # eta: a trial passes a rung if in the top ceil(n/eta) there; rungs grow eta times


@dataclass
class PriorConfig:
    enabled: bool = False  # warm-start the optimizer from the k most similar past tasks
    history: Optional[str] = None  # history file (JSONL) of past studies; null: ~/.cache/atlas_jax/meta_history.jsonl
    k: int = 3  # number of most similar past tasks that form the prior
    warm_starts: int = 3  # past configs (a portfolio over the nearest tasks) evaluated before the optimizer explores
    # N > 0: a score model trained on every past trial (meta-features and config -> score) ranks the
    # past configs for this task, and the warm starts come from its N best-ranked ones.
    pool: int = 0  # configs a score model picks the warm starts from; 0: the nearest tasks' best configs
    record: bool = True  # append this study's results to the history when it finishes


@dataclass
class HPOConfig:
    space: SpaceConfig = field(default_factory=SpaceConfig)  # the search space and its bound overrides
    optimizer: str = "NGOpt"  # nevergrad optimizer name: NGOpt, CMA, DE, TwoPointsDE, PSO, OnePlusOne, RandomSearch
    budget: int = 20  # number of trials (training runs) to evaluate
    num_workers: int = 2  # trials run at the same time
    executor: str = "process"  # process, thread, inline, submitit_local or slurm
    metric: str = "val_accuracy"  # key of the training summary that the study optimizes
    mode: str = "max"  # max or min: direction of `metric` and of `eval_metric`
    eval_metric: str = "accuracy"  # key of the intermediate validation metrics that ASHA compares
    trial_steps: Optional[int] = None  # train.steps of every trial; null keeps the experiment's value
    seed: int = 0  # seed of the optimizer's random state
    max_failures: int = 5  # stop the study after this many failed trials
    asha: ASHAConfig = field(default_factory=ASHAConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    slurm: dict = field(default_factory=dict)  # submitit executor parameters (timeout_min, slurm_partition, ...)
    retrain: bool = True  # automl task: true retrains the best config on train+val, false on train only (trials keep no model); then one test evaluation
    retrain_steps: Optional[int] = None  # automl task: train.steps of the retrain; null: the trial steps

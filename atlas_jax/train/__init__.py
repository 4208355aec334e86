"""Training: state, jitted steps, the loop, checkpoints, metric writers and progress."""

from atlas_jax.train.checkpoint import Checkpointer
from atlas_jax.train.loop import evaluate, train_and_evaluate, versions
from atlas_jax.train.metrics import MetricWriter, write_json
from atlas_jax.train.optim import create_optimizer, create_schedule
from atlas_jax.train.progress import Progress
from atlas_jax.train.steps import TrainState, count_params, create_train_state, make_eval_step, make_train_step

__all__ = [
    "Checkpointer",
    "MetricWriter",
    "Progress",
    "TrainState",
    "count_params",
    "create_optimizer",
    "create_schedule",
    "create_train_state",
    "evaluate",
    "make_eval_step",
    "make_train_step",
    "train_and_evaluate",
    "versions",
    "write_json",
]

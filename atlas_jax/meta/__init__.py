"""Meta-learning across tasks: meta-features, a history of past studies, a k-nearest-task prior
and a score model across tasks."""

from atlas_jax.meta.features import FEATURE_NAMES, compute_meta_features, feature_vector
from atlas_jax.meta.history import DEFAULT_HISTORY, MetaHistory, TaskRecord
from atlas_jax.meta.prior import MetaPrior, build_prior, task_distances
from atlas_jax.meta.surrogate import ScoreModel, fit_score_model

__all__ = [
    "DEFAULT_HISTORY",
    "FEATURE_NAMES",
    "MetaHistory",
    "MetaPrior",
    "ScoreModel",
    "TaskRecord",
    "build_prior",
    "compute_meta_features",
    "fit_score_model",
    "feature_vector",
    "task_distances",
]

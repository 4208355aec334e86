"""Meta-learning across tasks: meta-features, a history of past studies, and a k-nearest-task prior."""

from atlas_jax.meta.features import FEATURE_NAMES, compute_meta_features, feature_vector
from atlas_jax.meta.history import DEFAULT_HISTORY, MetaHistory, TaskRecord
from atlas_jax.meta.prior import MetaPrior, build_prior, task_distances

__all__ = [
    "DEFAULT_HISTORY",
    "FEATURE_NAMES",
    "MetaHistory",
    "MetaPrior",
    "TaskRecord",
    "build_prior",
    "compute_meta_features",
    "feature_vector",
    "task_distances",
]

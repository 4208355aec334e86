"""A score model across past tasks: how well a config does on a task, from the task's meta-features.

It is trained on every trial of a history. The inputs are the meta-features of the trial's
task and the config in the space's unit coordinates. The target is the trial's score
normalised within its task: 1 for the task's best trial, 0 for its median, clipped at -1.
Gradient-boosted trees (scikit-learn's `HistGradientBoostingRegressor`) take missing
meta-features and inactive parameters (NaN) as they are.

Unlike the nearest-task prior, which reuses the best configs of similar tasks, the model
can rank configs for a task unlike any in the history, from how the meta-features relate
to the learning rates or penalties that suited past tasks. Its transfer check refits the model with
whole tasks held out and checks whether it still ranks their trials better than chance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.meta.features import feature_vector
from atlas_jax.meta.history import TaskRecord
from atlas_jax.meta.prior import normalise_scores
from atlas_jax.search import Space

logger = logging.getLogger(__name__)


@dataclass
class ScoreModel:
    """A fitted score model, the distinct history configs it ranks, and its transfer statistic."""

    space: Space
    regressor: Any  # sklearn HistGradientBoostingRegressor
    configs: list[dict[str, Any]]  # distinct valid configs of the history, the candidates to rank
    tasks: list[str] = field(default_factory=list)  # history tasks it was trained on
    columns: np.ndarray | None = None  # bool mask of the input columns it uses (all-NaN ones are dropped)
    # Mean over held-out tasks of the Spearman correlation between predicted and true scores,
    # in standard errors: the evidence that the model ranks configs on tasks it has not seen.
    transfer_t: float = 0.0

    def predict(self, features: Mapping[str, float]) -> np.ndarray:
        """Return float[len(configs)] predicted normalised scores of `configs` on a task with `features`."""
        from threadpoolctl import threadpool_limits

        inputs = _inputs(self.space, feature_vector(dict(features)), self.configs)
        with threadpool_limits(1):
            return self.regressor.predict(inputs if self.columns is None else inputs[:, self.columns])


def _inputs(space: Space, task_features: np.ndarray, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    encoded = np.stack([space.encode(dict(c)) for c in configs])
    return np.hstack([np.repeat(task_features[None], len(configs), axis=0), encoded])


def _task_rows(space: Space, record: TaskRecord) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Return a task's valid configs and their scores, normalised within the task and clipped at -1."""
    configs, metrics = [], []
    for trial in record.trials:
        metric = trial.get("metric")
        if metric is None or not np.isfinite(float(metric)):
            continue  # a failed trial, or one whose metric was NaN or infinite
        try:
            configs.append(space.validate(trial["values"], check_constraints=False))
        except ConfigError:
            continue  # a config of another space
        metrics.append(float(metric))
    values = (1.0 if record.mode == "max" else -1.0) * np.array(metrics)
    if len(values) == 0:
        return [], values
    return configs, np.clip(normalise_scores(values), -1.0, 1.0)


def _fit(x: np.ndarray, y: np.ndarray, seed: int):
    """Fit the trees on one thread. On the 2-core development machine, with jax loaded in the
    same process, fitting one model (6 fits of 5,280 rows) took 47 s with OpenMP's 2 threads
    and 5.8 s with one (scikit-learn 1.9.1)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=seed).fit(x, y)


def fit_score_model(space: Space, history: Sequence[TaskRecord], *, folds: int = 5, seed: int = 0) -> ScoreModel | None:
    """Fit a score model on every trial of `history` that fits `space`.

    Args:
        space: the search space of the new study; trials outside it are skipped.
        history: past studies, without the new task itself.
        folds: groups of whole tasks held out in turn by the transfer check (at most one
            group per task).
        seed: seed of the trees.

    Returns:
        The model, or None when fewer than 2 tasks have a valid trial.
    """
    if folds < 2:
        raise ConfigError(f"folds must be at least 2, got {folds}")
    rows, targets, groups, configs, tasks = [], [], [], [], []
    seen: set[tuple] = set()
    for record in history:
        task_configs, scores = _task_rows(space, record)
        if not task_configs:
            continue
        rows.append(_inputs(space, feature_vector(record.features), task_configs))
        targets.append(scores)
        groups.append(np.full(len(scores), len(tasks)))
        tasks.append(record.task)
        for config in task_configs:
            key = tuple(sorted((k, repr(v)) for k, v in config.items()))
            if key not in seen:
                seen.add(key)
                configs.append(config)
    if len(tasks) < 2:
        return None
    x, y, group = np.vstack(rows), np.concatenate(targets), np.concatenate(groups)
    # A meta-feature no history task has carries nothing, and scikit-learn cannot bin an all-NaN column.
    columns = ~np.all(np.isnan(x), axis=0)
    x = x[:, columns]
    regressor = _fit(x, y, seed)
    return ScoreModel(space, regressor, configs, tasks, columns,
                      _transfer_t(x, y, group, min(folds, len(tasks)), seed))


def _transfer_t(x: np.ndarray, y: np.ndarray, group: np.ndarray, folds: int, seed: int) -> float:
    """Compute the held-out-task rank correlation of refitted models, in standard errors (0 with < 3 tasks)."""
    from scipy import stats
    from threadpoolctl import threadpool_limits

    tasks = np.unique(group)
    if len(tasks) < 3:
        return 0.0
    fold_of = np.random.default_rng(seed).permutation(len(tasks)) % folds
    correlations = []
    for fold in range(folds):
        held_out = np.isin(group, tasks[fold_of == fold])
        if not held_out.any() or held_out.all():
            continue
        # A meta-feature that only the held-out tasks have is all NaN in the training rows.
        columns = ~np.all(np.isnan(x[~held_out]), axis=0)
        model = _fit(x[~held_out][:, columns], y[~held_out], seed)
        with threadpool_limits(1):
            predicted = model.predict(x[held_out][:, columns])
        for task in np.unique(group[held_out]):
            rows = group[held_out] == task
            if np.ptp(y[held_out][rows]) > 0 and np.ptp(predicted[rows]) > 0:
                correlations.append(stats.spearmanr(predicted[rows], y[held_out][rows]).statistic)
            else:
                correlations.append(0.0)  # a constant prediction or task ranks nothing
    if len(correlations) < 2:
        return 0.0
    spread = np.std(correlations, ddof=1) / np.sqrt(len(correlations))
    return float(np.mean(correlations) / max(spread, 1e-12))

"""A prior over a search space from the k past tasks most similar to a new one.

The prior has two parts. Warm starts are past configs that do well across the
nearest tasks, which the optimizer evaluates first (`optimizer.suggest`). Per-parameter
distributions set the optimizer's initial point and spread (`Space.to_nevergrad`).
Spreads never fall below `min_spread` of the range and Choice weights are mixed
with the uniform distribution, so a misleading history slows the search down but
cannot confine it. A history whose tasks do not transfer to each other (a portfolio
built from all neighbours but one is not clearly better on the left-out one than
random configs) yields an empty prior, so the optimizer runs as without one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.meta.features import feature_vector
from atlas_jax.meta.history import TaskRecord
from atlas_jax.search import Choice, ParamPrior, Space

if TYPE_CHECKING:
    from atlas_jax.meta.surrogate import ScoreModel

logger = logging.getLogger(__name__)

# Smallest leave-one-out gain of the portfolio over random configs, in standard errors,
# for the history to count as transferring: about the one-sided 95% point of a t
# distribution with 5 to 20 neighbours.
# NOTE: set by looking at a few shuffled and real histories of experiments/meta_hpo,
# not tuned by cross-validation.
MIN_TRANSFER_T = 2.0


@dataclass
class MetaPrior:
    """Warm starts and per-parameter priors for one new task."""

    neighbors: list[tuple[str, float]] = field(default_factory=list)  # (task, meta-feature distance), nearest first
    warm_starts: list[dict[str, Any]] = field(default_factory=list)  # configs to evaluate first, best first
    params: dict[str, ParamPrior] = field(default_factory=dict)  # {path: prior} for Space.to_nevergrad


def task_distances(features: Mapping[str, float], history: Sequence[TaskRecord]) -> np.ndarray:
    """Distances from a task to every history task in standardised meta-feature space.

    Each meta-feature is scaled by its standard deviation over the history and the
    new task, so no single feature (such as the sample count) dominates. Features
    missing on either side are skipped.

    Returns:
        float[len(history)] root-mean-square differences.
    """
    if not history:
        return np.zeros(0)
    target = feature_vector(dict(features))
    table = np.stack([feature_vector(record.features) for record in history])
    everything = np.vstack([table, target[None]])
    scale = np.ones(everything.shape[1])
    for column in range(everything.shape[1]):
        known = everything[:, column][np.isfinite(everything[:, column])]
        if len(known) > 1 and known.std() > 1e-12:
            scale[column] = known.std()
    differences = (table - target[None]) / scale
    squared = np.where(np.isfinite(differences), differences ** 2, np.nan)
    counts = np.sum(np.isfinite(squared), axis=1)
    sums = np.nansum(squared, axis=1)
    return np.where(counts > 0, np.sqrt(sums / np.maximum(counts, 1)), np.inf)


def build_prior(space: Space, features: Mapping[str, float], history: Sequence[TaskRecord], *, k: int = 3,
                warm_starts: int = 3, top: int = 5, min_spread: float = 0.15,
                exclude: Sequence[str] = (), check_transfer: bool = True,
                score_model: ScoreModel | None = None, pool: int = 30) -> MetaPrior:
    """Build a prior for a new task from its k nearest past tasks.

    Args:
        space: the space of the new study; past configs outside it are skipped.
        features: the new task's meta-features.
        history: past studies.
        k: nearest tasks used.
        warm_starts: configs to suggest: a greedy portfolio, drawn from the nearest
            tasks' best configs, that scores well across all k of them.
        top: best configs per past task that shape the per-parameter priors.
        min_spread: smallest spread, in unit coordinates, of a numeric parameter's prior.
        exclude: task names to leave out (such as the new task itself).
        check_transfer: return a prior without warm starts or per-parameter priors unless,
            over the neighbours, a portfolio built from the others scores better on the
            left-out one than the same number of that task's random configs, by at least
            `MIN_TRANSFER_T` standard errors. Takes effect with 3 or more neighbours. With a
            score model, the model's own check applies instead (`ScoreModel.transfer_t`).
        score_model: a model fitted on the history without the new task
            (`fit_score_model`). The warm starts and per-parameter priors then come from the
            `pool` history configs it predicts best for the new task, in place of the
            neighbours' best configs. The greedy portfolio still weighs the k nearest tasks.
        pool: with a score model, how many of its best-predicted configs to draw from.

    Raises:
        ConfigError: for k, top, pool or warm_starts below their minimum, min_spread outside
            (0, 1], or a score model trained on an excluded task.
    """
    if k < 1 or top < 1 or warm_starts < 0 or pool < 1:
        raise ConfigError(f"invalid prior sizes k={k}, top={top}, pool={pool}, warm_starts={warm_starts}: "
                          "k, top and pool must be >= 1")
    if score_model is not None and set(score_model.tasks) & set(exclude):
        raise ConfigError(f"the score model was trained on excluded tasks {sorted(set(score_model.tasks) & set(exclude))}; "
                          "fit it on a history without them")
    if not 0 < min_spread <= 1:
        raise ConfigError(f"invalid min_spread {min_spread}: expected a fraction of the range in (0, 1]")
    candidates = [r for r in history if r.task not in set(exclude)]
    if not candidates:
        return MetaPrior()
    distances = task_distances(features, candidates)
    order = np.argsort(distances, kind="stable")[:k]
    neighbors = [(candidates[i].task, float(distances[i])) for i in order]
    if score_model is not None:
        return _model_prior(space, features, [candidates[i] for i in order], distances[order], neighbors,
                            score_model, pool, warm_starts, min_spread, check_transfer)

    # Best valid configs of each neighbour, with a weight that falls with distance.
    pooled: list[tuple[dict[str, Any], float]] = []
    sources: list[int] = []  # position in `order` of the neighbour each pooled config comes from
    weights = []
    for position, i in enumerate(order):
        weight = 1.0 / (1.0 + float(distances[i]))
        weights.append(weight)
        for trial in candidates[i].top(top):
            try:
                pooled.append((space.validate(trial["values"]), weight))
            except ConfigError:
                continue  # the config comes from another space, or violates this one's constraints
            sources.append(position)
    if not pooled:
        logger.info("no past config of tasks %s fits this space; the prior is empty", [n for n, _ in neighbors])
        return MetaPrior(neighbors=neighbors)

    unique: list[dict[str, Any]] = []
    origins: list[set[int]] = []  # neighbours whose best configs include each unique config
    for (values, _), source in zip(pooled, sources):
        if values not in unique:
            unique.append(values)
            origins.append(set())
        origins[unique.index(values)].add(source)
    tables = [_task_scores(space, candidates[i], unique) for i in order]
    scores = np.stack([candidate_scores for candidate_scores, _ in tables])  # [k, candidates]
    weights = np.array(weights)
    portfolio = greedy_portfolio(scores, weights, warm_starts)
    if check_transfer and len(order) > 2 and portfolio:
        gain = _leave_one_out_gain(scores, [trial_scores for _, trial_scores in tables], origins, weights,
                                   len(portfolio))
        if gain < MIN_TRANSFER_T:
            logger.info("past tasks %s do not transfer to each other (leave-one-out gain over random configs "
                        "%.2f standard errors, below %.1f); using no prior", [n for n, _ in neighbors], gain,
                        MIN_TRANSFER_T)
            return MetaPrior(neighbors=neighbors)
    return MetaPrior(neighbors=neighbors, warm_starts=[unique[c] for c in portfolio],
                     params=_param_priors(space, pooled, min_spread))


def _model_prior(space: Space, features: Mapping[str, float], nearest: list[TaskRecord], distances: np.ndarray,
                 neighbors: list[tuple[str, float]], model: ScoreModel, pool: int, warm_starts: int,
                 min_spread: float, check_transfer: bool) -> MetaPrior:
    """Build the prior from a score model's best-predicted configs, weighted on the nearest tasks."""
    if check_transfer and model.transfer_t < MIN_TRANSFER_T:
        logger.info("the score model does not rank the configs of held-out past tasks better than chance "
                    "(%.2f standard errors, below %.1f); using no prior", model.transfer_t, MIN_TRANSFER_T)
        return MetaPrior(neighbors=neighbors)
    predicted = model.predict(features)
    unique = []
    for c in np.argsort(-predicted, kind="stable"):
        if len(unique) == pool:
            break
        try:
            unique.append(space.validate(model.configs[c]))
        except ConfigError:
            continue  # violates a constraint of this space
    if not unique:
        logger.info("no config the score model ranks fits this space; the prior is empty")
        return MetaPrior(neighbors=neighbors)
    scores = np.stack([_task_scores(space, record, unique)[0] for record in nearest])  # [k, pool]
    portfolio = greedy_portfolio(scores, 1.0 / (1.0 + distances), warm_starts)
    return MetaPrior(neighbors=neighbors, warm_starts=[unique[c] for c in portfolio],
                     params=_param_priors(space, [(values, 1.0) for values in unique], min_spread))


def _leave_one_out_gain(scores: np.ndarray, trial_scores: list[np.ndarray], origins: list[set[int]],
                        weights: np.ndarray, count: int) -> float:
    """Compute the mean gain of a `count`-config portfolio over `count` random configs, in standard errors.

    Each neighbour is left out in turn, and the portfolio comes from the other
    neighbours' best configs and scores. Its best score on the left-out neighbour is
    compared with the expected best of `count` of that neighbour's own trials drawn
    without replacement.
    Returns 0 with fewer than two gains.
    """
    gains = []
    for left_out in range(scores.shape[0]):
        others = [i for i in range(scores.shape[0]) if i != left_out]
        allowed = [c for c, sources in enumerate(origins) if sources - {left_out}]
        if not allowed:
            continue
        picks = greedy_portfolio(scores[others][:, allowed], weights[others], count)
        best = scores[left_out, [allowed[p] for p in picks]].max()
        gains.append(best - _expected_best_of(trial_scores[left_out], count))
    if len(gains) < 2:
        return 0.0
    # Mean gain in units of its standard error, so a gain from chance alone stays small.
    spread = np.std(gains, ddof=1) / np.sqrt(len(gains))
    return float(np.mean(gains) / max(spread, 1e-12))


def _expected_best_of(values: np.ndarray, draws: int) -> float:
    """Compute the expected maximum of `draws` values drawn from `values` without replacement."""
    if len(values) == 0:
        return 0.0
    ordered = np.sort(values)[::-1]
    draws = min(draws, len(ordered))
    # P(the i-th largest value is the maximum) = C(n-1-i, draws-1) / C(n, draws), as a running product.
    n = len(ordered)
    probabilities = np.zeros(n)
    probability = draws / n
    for i in range(n - draws + 1):
        probabilities[i] = probability
        probability *= (n - draws - i) / (n - 1 - i) if n - 1 - i > 0 else 0.0
    return float(np.sum(probabilities * ordered))


def _task_scores(space: Space, record: TaskRecord, configs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Score each config on a past task: 1 for its best trial, 0 for its median trial.

    A config the task never ran takes the score of its nearest run config in unit
    coordinates (a 1-nearest-neighbour surrogate).

    Returns:
        (float[len(configs)] scores of the configs, float[runs] scores of the task's own trials).
    """
    runs, metrics = [], []
    for trial in record.trials:
        if trial.get("metric") is None or not np.isfinite(trial["metric"]):
            continue  # a failed or diverged trial has no score to learn from
        try:
            runs.append(space.encode(space.validate(trial["values"], check_constraints=False)))
        except ConfigError:
            continue
        metrics.append(float(trial["metric"]))
    if not runs:
        return np.zeros(len(configs)), np.zeros(0)
    sign = 1.0 if record.mode == "max" else -1.0
    values = sign * np.array(metrics)
    normalised = normalise_scores(values)
    table = np.nan_to_num(np.stack(runs), nan=-1.0)  # inactive parameters match only inactive ones
    scores = []
    for values_dict in configs:
        point = np.nan_to_num(space.encode(values_dict), nan=-1.0)
        scores.append(normalised[int(np.argmin(np.sum((table - point) ** 2, axis=1)))])
    return np.array(scores), normalised


def normalise_scores(values: np.ndarray) -> np.ndarray:
    """Scale a task's metrics (higher is better) so its best is 1 and its median 0; all 0 when equal."""
    best, median = values.max(), np.median(values)
    return (values - median) / (best - median) if best > median else np.zeros_like(values)


def greedy_portfolio(scores: np.ndarray, weights: np.ndarray, count: int) -> list[int]:
    """Pick configs that together do best on the neighbour tasks.

    Each step adds the config that most raises the weighted sum over tasks of the
    best score in the portfolio, so a second pick covers tasks the first one misses.
    """
    chosen: list[int] = []
    covered = np.full(scores.shape[0], -np.inf)
    for _ in range(min(count, scores.shape[1])):
        gains = [np.sum(weights * np.maximum(covered, scores[:, c])) if c not in chosen else -np.inf
                 for c in range(scores.shape[1])]
        best = int(np.argmax(gains))
        chosen.append(best)
        covered = np.maximum(covered, scores[:, best])
    return chosen


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _param_priors(space: Space, pooled: list[tuple[dict[str, Any], float]], min_spread: float) -> dict[str, ParamPrior]:
    priors: dict[str, ParamPrior] = {}
    for path, param in space.params.items():
        active = [(values[path], weight) for values, weight in pooled if path in values]
        if not active:
            continue
        weights = np.array([w for _, w in active])
        if isinstance(param, Choice) and not param.ordered:
            option_weights = np.zeros(len(param.options))
            for value, weight in active:
                option_weights[param.index(value)] += weight
            # Add-one smoothing on top of Choice's own mixing with the uniform distribution.
            option_weights += weights.sum() / len(param.options)
            center = param.options[int(np.argmax(option_weights))]
            priors[path] = ParamPrior(center=center, weights=option_weights.tolist())
            continue
        units = np.array([param.to_unit(value) for value, _ in active])
        center_unit = _weighted_median(units, weights)
        mean = np.average(units, weights=weights)
        spread = float(np.sqrt(np.average((units - mean) ** 2, weights=weights)))
        priors[path] = ParamPrior(center=param.from_unit(center_unit), spread=max(spread, min_spread))
    return priors

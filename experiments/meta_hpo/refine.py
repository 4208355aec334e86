"""Prior-guided refinement: after the warm starts, try the best trial's neighbours first.

An experiment of the meta-HPO study (`study.py --refine auto`), not part of the
package: it did not lower the study's regret (docs/benchmarks.md, "Meta-learned HPO
prior").

A short study spends its first trials on the prior's warm starts. The refiner then
proposes, one trial at a time, the config one step away from the best finished
trial that the nearest past tasks score highest. A step changes one parameter: the
next or previous option of an ordered `Choice` or an `Int` on its grid, another
option of an unordered `Choice`, or a move of one prior spread (in unit
coordinates) for a `Float`. When every neighbour of the best trial has run, it
moves on to the second best, and so on.

The proposals depend on the new task's own results, so a warm start that did well
on this task steers the search even when the past tasks disagree about it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.meta import MetaPrior, TaskRecord
from atlas_jax.meta.prior import normalise_scores
from atlas_jax.search import Choice, Float, Int, ParamPrior, Space
from atlas_jax.search.params import MAX_PRIOR_SPREAD, MIN_PRIOR_SPREAD

DEFAULT_STEP = 0.15  # unit-coordinate step of a Float or Int without a prior spread
# Largest unit-coordinate distance at which two values of a parameter count as equal, so
# that exp/log round-off (from_unit(0.0) of a log Float is not exactly `low`) is no move.
UNIT_TOLERANCE = 1e-9


def _key(values: Mapping[str, Any]) -> tuple:
    return tuple(sorted((path, repr(value)) for path, value in values.items()))


def neighbours(space: Space, values: Mapping[str, Any],
               steps: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """List the valid configs that differ from `values` in one parameter by one step.

    Args:
        space: the search space.
        values: a valid config of `space`.
        steps: {path: unit-coordinate step} for Float and Int parameters, such as a prior's
            spread. Each is clamped to [MIN_PRIOR_SPREAD, MAX_PRIOR_SPREAD], as the nevergrad
            parametrization clamps a spread. A missing or non-finite step takes
            `DEFAULT_STEP`. An Int always moves by at least one grid step.

    Returns:
        Configs in the space's canonical form, each validated (constraints included).
        A move within `UNIT_TOLERANCE` of the current value is no move.
        A change that activates a conditional parameter gives it the middle of its
        range; one that deactivates a parameter drops it.
    """
    base = space.validate(values, check_constraints=False)
    steps = steps or {}
    result: list[dict[str, Any]] = []
    seen = {_key(base)}
    for path, param in space.params.items():
        if path not in base:
            continue
        current = base[path]
        options: list[Any] = []
        if isinstance(param, Choice):
            index = param.index(current)
            if param.ordered:
                options = [param.options[i] for i in (index - 1, index + 1) if 0 <= i < len(param.options)]
            else:
                options = [option for i, option in enumerate(param.options) if i != index]
        elif isinstance(param, (Float, Int)):
            step = float(steps.get(path, DEFAULT_STEP))
            step = min(max(step, MIN_PRIOR_SPREAD), MAX_PRIOR_SPREAD) if math.isfinite(step) else DEFAULT_STEP
            unit = param.to_unit(current)
            for direction in (-1.0, 1.0):
                moved = param.from_unit(min(max(unit + direction * step, 0.0), 1.0))
                if isinstance(param, Int) and abs(param.to_unit(moved) - unit) < UNIT_TOLERANCE:
                    # The step was under one grid point: take the next grid point that way.
                    moved = param.check(current + int(direction) * param.step, path) \
                        if param.low <= current + int(direction) * param.step <= param.high else current
                if abs(param.to_unit(moved) - unit) >= UNIT_TOLERANCE:
                    options.append(moved)
        for option in options:
            candidate = dict(base)
            candidate[path] = option
            fixed = _fix_activity(space, candidate)
            try:
                checked = space.validate(fixed)
            except ConfigError:
                continue  # violates a constraint of the space
            if _key(checked) not in seen:
                seen.add(_key(checked))
                result.append(checked)
    return result


def _fix_activity(space: Space, values: dict[str, Any]) -> dict[str, Any]:
    """Drop parameters a change made inactive and give newly active ones the middle of their range."""
    fixed = {path: value for path, value in values.items() if path in space.params}
    for _ in range(len(space.params)):  # a condition can depend on a parameter that is itself conditional
        changed = False
        for path, param in space.params.items():
            active = space.is_active(path, fixed)
            if active and path not in fixed:
                fixed[path], changed = param.from_unit(0.5), True
            elif not active and path in fixed:
                del fixed[path]
                changed = True
        if not changed:
            break
    return fixed


class Refiner:
    """Proposer of configs near the best trials, ranked by the nearest past tasks' weighted score.

    Each past task scores a config by its nearest trial in unit coordinates, scaled so
    the task's best trial is 1 and its median trial 0. The scores are averaged with
    the tasks' weights.
    """

    def __init__(self, space: Space, tables: Sequence[tuple[np.ndarray, np.ndarray]], weights: Sequence[float],
                 params: Mapping[str, ParamPrior] | None = None) -> None:
        """Args:
            space: the search space.
            tables: per past task, (float[runs, params] encoded trials with inactive
                parameters as -1, float[runs] normalised scores).
            weights: one non-negative weight per past task.
            params: the prior's per-parameter distributions; their spreads set the step
                of Float and Int parameters.
        """
        if len(tables) != len(weights):
            raise ValueError(f"{len(tables)} score tables but {len(weights)} weights")
        self.space = space
        self.tables = [(np.asarray(runs, dtype=np.float64), np.asarray(scores, dtype=np.float64))
                       for runs, scores in tables]
        self.weights = np.asarray(weights, dtype=np.float64)
        self.steps = {path: float(prior.spread) for path, prior in (params or {}).items()
                      if isinstance(space.params.get(path), (Float, Int))}

    @classmethod
    def from_prior(cls, space: Space, prior: MetaPrior, history: Sequence[TaskRecord]) -> Refiner:
        """Build the refiner of a prior from the past tasks it names as neighbours.

        Each neighbour weighs 1 / (1 + its meta-feature distance), as in the prior's portfolio.
        Past trials outside `space` and trials without a finite metric are skipped.
        """
        records = {record.task: record for record in history}
        tables = []
        for task, _ in prior.neighbors:
            runs, metrics = [], []
            for trial in records[task].trials:
                metric = trial.get("metric")
                if metric is None or not math.isfinite(float(metric)):
                    continue
                try:
                    runs.append(space.encode(space.validate(trial["values"], check_constraints=False)))
                except ConfigError:
                    continue
                metrics.append(float(metric))
            sign = 1.0 if records[task].mode == "max" else -1.0
            tables.append((np.nan_to_num(np.array(runs).reshape(len(runs), len(space.params)), nan=-1.0),
                           normalise_scores(sign * np.array(metrics)) if metrics else np.zeros(0)))
        return cls(space, tables, [1.0 / (1.0 + distance) for _, distance in prior.neighbors], prior.params)

    def _points(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode configs as float[configs, params] unit coordinates, with inactive parameters as -1."""
        points = [self.space.encode(self.space.validate(c, check_constraints=False)) for c in configs]
        return np.nan_to_num(np.array(points).reshape(len(points), len(self.space.params)), nan=-1.0)

    def score(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Compute the weighted past-task score of each config (higher is better)."""
        if not configs:
            return np.zeros(0)
        points = np.nan_to_num(np.stack([self.space.encode(c) for c in configs]), nan=-1.0)
        total = np.zeros(len(configs))
        for (runs, scores), weight in zip(self.tables, self.weights):
            if len(runs) == 0:
                continue
            distances = np.sum((points[:, None, :] - runs[None, :, :]) ** 2, axis=-1)
            total += weight * scores[np.argmin(distances, axis=1)]
        return total / max(float(self.weights.sum()), 1e-12)

    def propose(self, finished: Sequence[tuple[Mapping[str, Any], float]], *, mode: str = "max",
                seen: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any] | None:
        """Propose the next config: the best-scored unseen neighbour of the best finished trial.

        Args:
            finished: (config, metric) of this study's finished trials.
            mode: "max" or "min", the direction of the metric.
            seen: configs already run or running, which are never proposed.

        Returns:
            A valid config, or None when no finished trial has an unseen neighbour. A config
            within `UNIT_TOLERANCE` of a seen or finished one, in every unit coordinate,
            counts as seen.
        """
        if mode not in ("max", "min"):
            raise ConfigError(f"invalid mode {mode!r}: expected max or min")
        usable = [(values, float(metric)) for values, metric in finished
                  if metric is not None and np.isfinite(metric)]
        sign = -1.0 if mode == "max" else 1.0
        usable.sort(key=lambda item: sign * item[1])
        excluded = self._points(list(seen) + [values for values, _ in finished])
        for values, _ in usable:
            candidates = neighbours(self.space, values, self.steps)
            if not candidates:
                continue
            gaps = np.abs(self._points(candidates)[:, None, :] - excluded[None, :, :])
            known = np.all(gaps < UNIT_TOLERANCE, axis=-1).any(axis=1)
            candidates = [c for c, is_known in zip(candidates, known) if not is_known]
            if candidates:
                return candidates[int(np.argmax(self.score(candidates)))]
        return None

"""Architecture search over a trained supernet: evolution, nevergrad and random search.

Candidates are scored on validation data with the weights they inherit from the supernet (no
retraining). Constraints on parameters, FLOPs and measured latency are checked before a
candidate is scored; a candidate that violates one is never scored or returned.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Mapping

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.nas.decisions import Arch, DecisionSet
from atlas_jax.nas.runner import SubnetRunner, arch_key
from atlas_jax.nas.spaces import arch_from_values, values_from_arch
from atlas_jax.search import Space

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Constraints:
    """Upper limits on a sub-network; None leaves a quantity free."""

    max_params: int | None = None  # parameters
    max_flops: int | None = None  # FLOPs per example (2 per multiply-add)
    max_latency_ms: float | None = None  # median forward time of one batch, in milliseconds


class ArchEvaluator:
    """Checks constraints and scores architectures with inherited weights, caching both.

    Args:
        space: the NAS space (its own constraints apply too).
        runner: masked-mode runner holding the trained supernet weights.
        x_val: float32[n, ...] validation inputs.
        y_val: int32[n] validation labels.
        constraints: limits on parameters, FLOPs and latency.
        latency_runner: exact-slice runner used to time candidates (only with max_latency_ms).
        latency_batch: float32[batch, ...] inputs the latency is measured on.
        screen_examples: with a floor passed to `score_many`, candidates are first scored on this
            many validation examples (a fixed random subset), and on the rest only when they may
            still reach the floor. None scores every candidate on all of (x_val, y_val).
        screen_z: a candidate is screened out when its subset accuracy plus this many standard
            errors stays below the floor.
        seed: seed of the screening subset.
    """

    def __init__(
        self,
        space: Space,
        runner: SubnetRunner,
        x_val: np.ndarray,
        y_val: np.ndarray,
        constraints: Constraints | None = None,
        latency_runner: SubnetRunner | None = None,
        latency_batch: Any = None,
        screen_examples: int | None = None,
        screen_z: float = 2.0,
        seed: int = 0,
    ):
        if screen_examples is not None and screen_examples < 1:
            raise ConfigError(f"screen_examples must be at least 1 or None (no screening), got {screen_examples}")
        if screen_z <= 0:
            raise ConfigError(f"screen_z must be positive, got {screen_z}")
        self.space, self.runner, self.decisions = space, runner, runner.decisions
        self.x_val, self.y_val = x_val, y_val
        self.constraints = constraints or Constraints()
        if self.constraints.max_latency_ms is not None and (latency_runner is None or latency_batch is None):
            raise ConfigError("a latency constraint needs latency_runner and latency_batch to measure with")
        self.latency_runner, self.latency_batch = latency_runner, latency_batch
        self.scores: dict[tuple, float] = {}  # {arch key: accuracy}; an estimate for a screened-out one
        self.screened: set[tuple] = set()  # keys whose score comes from the screening subset only
        self._latency: dict[tuple, float] = {}
        self.rejected = 0
        self.screen_examples = screen_examples if screen_examples and screen_examples < len(y_val) else None
        self.screen_z = screen_z
        # A fixed random order: the screening subset first, then the rest. A candidate that passes
        # screening gets its exact full-split count, because the two counts add up.
        self._order = np.random.default_rng(seed).permutation(len(y_val))

    def cost(self, arch: Arch) -> dict[str, float]:
        """Return params, FLOPs and (when constrained) latency in milliseconds of `arch`."""
        cost: dict[str, float] = dict(self.runner.net.cost(arch))
        if self.constraints.max_latency_ms is not None:
            key = arch_key(arch)
            if key not in self._latency:
                self._latency[key] = 1000 * self.latency_runner.latency(arch, self.latency_batch)
            cost["latency_ms"] = self._latency[key]
        return cost

    def violation(self, arch: Arch) -> float:
        """Return the summed relative amount by which `arch` exceeds the limits (0 when feasible)."""
        arch = self.decisions.canonical(arch)
        total = float(sum(self.space.violations(values_from_arch(self.space, arch))))
        c = self.constraints
        cost = self.cost(arch) if any(v is not None for v in (c.max_params, c.max_flops, c.max_latency_ms)) else {}
        for limit, name in ((c.max_params, "params"), (c.max_flops, "flops"), (c.max_latency_ms, "latency_ms")):
            if limit is not None:
                total += max(0.0, cost[name] / limit - 1.0)
        return total

    def feasible(self, arch: Arch) -> bool:
        return self.violation(arch) == 0.0

    def score(self, arch: Arch) -> float:
        """Return the validation accuracy of `arch` with inherited weights (cached).

        For a screened-out architecture this is the accuracy on the screening subset.
        """
        arch = self.decisions.canonical(arch)
        key = arch_key(arch)
        if key not in self.scores:
            self.scores[key] = self.runner.accuracy(self.runner.params, self.x_val, self.y_val, arch)
        return self.scores[key]

    def score_many(self, archs: list[Arch], floor: float | None = None) -> list[float]:
        """Return the validation accuracy of several architectures, scoring only uncached ones.

        Args:
            archs: architectures to score.
            floor: with `screen_examples`, the score a candidate must be able to reach to matter
                (evolution passes the weakest parent's score). A candidate whose subset accuracy
                plus `screen_z` standard errors falls below it is not scored on the rest. Its
                score is then the subset estimate, which is below the floor.
        """
        archs = [self.decisions.canonical(a) for a in archs]
        todo = {arch_key(a): a for a in archs if arch_key(a) not in self.scores}
        if todo and (self.screen_examples is None or floor is None):
            values = self.runner.accuracy_many(self.runner.params, self.x_val, self.y_val, list(todo.values()))
            self.scores.update(zip(todo, values))
        elif todo:
            self._score_screened(todo, floor)
        return [self.scores[arch_key(a)] for a in archs]

    def _score_screened(self, todo: dict[tuple, Arch], floor: float) -> None:
        """Score `todo` on the screening subset, and on the rest only where the floor is still in reach."""
        params, n, m = self.runner.params, len(self.y_val), self.screen_examples
        first, rest = self._order[:m], self._order[m:]
        estimates = dict(zip(todo, self.runner.accuracy_many(params, self.x_val[first], self.y_val[first],
                                                             list(todo.values()))))
        survivors = []
        for key, estimate in estimates.items():
            # Standard error from the add-two estimate, so a subset score of 0 or 1 is not certain.
            smoothed = (estimate * m + 1) / (m + 2)
            upper = estimate + self.screen_z * np.sqrt(smoothed * (1 - smoothed) / m)
            if upper < floor:
                self.scores[key] = float(estimate)
                self.screened.add(key)
            else:
                survivors.append(key)
        if not survivors:
            return
        tails = self.runner.accuracy_many(params, self.x_val[rest], self.y_val[rest], [todo[k] for k in survivors])
        for key, tail in zip(survivors, tails):
            # Accuracies are counts over the examples, so these sums are exact counts.
            correct = round(estimates[key] * m) + round(tail * (n - m))
            self.scores[key] = correct / n

    def sample_feasible(self, rng: np.random.Generator, max_tries: int = 1000) -> Arch:
        """Draw a random architecture that satisfies every constraint."""
        for _ in range(max_tries):
            arch = arch_from_values(self.decisions, self.space.sample(rng))
            if self.feasible(arch):
                return arch
            self.rejected += 1
        raise ConfigError(
            f"no architecture out of {max_tries} random draws satisfies {self.constraints}; relax the limits"
        )


@dataclasses.dataclass
class SearchResult:
    """Best architecture found, its validation score, and every scored candidate in order."""

    best_arch: Arch
    best_score: float
    history: list[dict[str, Any]]
    seconds: float


def _mutate(decisions: DecisionSet, arch: Arch, probability: float, rng: np.random.Generator) -> Arch:
    child = dict(arch)
    for decision in decisions:
        if rng.uniform() < probability:
            child[decision.name] = decision.values[rng.integers(len(decision.values))]
    return decisions.canonical(child)


def _crossover(decisions: DecisionSet, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
    return decisions.canonical({d.name: (a if rng.uniform() < 0.5 else b)[d.name] for d in decisions})


def _record(history: list, evaluator: ArchEvaluator, arch: Arch, start: float) -> float:
    score = evaluator.score(arch)
    screened = arch_key(evaluator.decisions.canonical(arch)) in evaluator.screened
    history.append({"arch": arch, "score": score, "screened": screened, "seconds": time.perf_counter() - start,
                    **evaluator.cost(arch)})
    return score


def evolutionary_search(
    evaluator: ArchEvaluator,
    *,
    population: int = 20,
    generations: int = 10,
    parents: int = 10,
    mutations: int = 10,
    crossovers: int = 10,
    mutation_prob: float = 0.2,
    seed: int = 0,
    max_tries: int = 50,
) -> SearchResult:
    """Run AutoFormer-style evolution: keep the top `parents`, breed by mutation and crossover.

    Every child must satisfy the constraints; a child that does not is redrawn up to
    `max_tries` times, after which fewer children are bred that generation. With the
    evaluator's `screen_examples`, children that clearly cannot beat the weakest parent are
    scored on the screening subset only: such a child can never breed or be the best.
    """
    if parents > population:
        raise ConfigError(f"parents ({parents}) cannot exceed the population ({population})")
    rng = np.random.default_rng(seed)
    decisions = evaluator.decisions
    history: list[dict[str, Any]] = []
    start = time.perf_counter()

    members: dict[tuple, Arch] = {}
    while len(members) < population:
        arch = evaluator.sample_feasible(rng)
        members[arch_key(arch)] = arch
    evaluator.score_many(list(members.values()))
    for arch in members.values():
        _record(history, evaluator, arch, start)

    for generation in range(generations):
        ranked = sorted(members.values(), key=evaluator.score, reverse=True)
        top = ranked[:parents]
        children: dict[tuple, Arch] = {}
        for count, breed in ((mutations, "mutation"), (crossovers, "crossover")):
            bred = 0
            for _ in range(count * max_tries):
                if bred == count:
                    break
                if breed == "mutation":
                    child = _mutate(decisions, top[rng.integers(len(top))], mutation_prob, rng)
                else:
                    i, j = rng.choice(len(top), size=2, replace=len(top) < 2)
                    child = _crossover(decisions, top[i], top[j], rng)
                key = arch_key(child)
                if key in members or key in children:
                    continue
                if not evaluator.feasible(child):
                    evaluator.rejected += 1
                    continue
                children[key] = child
                bred += 1
        # Only the top `parents` breed, and the weakest parent's score can only rise. So a child
        # below it now will never breed or win, and screening may skip it.
        floor = evaluator.score(top[-1])
        evaluator.score_many(list(children.values()), floor=floor)
        for child in children.values():
            _record(history, evaluator, child, start)
        pool = list(members.values()) + list(children.values())
        pool.sort(key=evaluator.score, reverse=True)
        members = {arch_key(a): a for a in pool[:population]}
        logger.info("generation %d/%d best val acc %.4f", generation + 1, generations, evaluator.score(pool[0]))

    best = max(members.values(), key=evaluator.score)
    return SearchResult(best, evaluator.score(best), history, time.perf_counter() - start)


def nevergrad_search(
    evaluator: ArchEvaluator, *, optimizer: str = "DiscreteOnePlusOne", budget: int = 200, seed: int = 0
) -> SearchResult:
    """Search with a nevergrad optimizer through ask/tell on the space's parametrization.

    Infeasible candidates get a loss above every feasible one (1 + violation), so the optimizer
    learns to avoid them. They are never scored.
    """
    import nevergrad as ng

    if optimizer not in ng.optimizers.registry:
        raise ConfigError(f"unknown nevergrad optimizer '{optimizer}'; see nevergrad.optimizers.registry")
    parametrization = evaluator.space.to_nevergrad()
    parametrization.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=budget)
    history: list[dict[str, Any]] = []
    start = time.perf_counter()
    best, best_score = None, -1.0
    for _ in range(budget):
        candidate = opt.ask()
        arch = arch_from_values(evaluator.decisions, evaluator.space.from_nevergrad(candidate.value))
        violation = evaluator.violation(arch)
        if violation > 0:
            evaluator.rejected += 1
            opt.tell(candidate, 1.0 + violation)
            continue
        score = _record(history, evaluator, arch, start)
        opt.tell(candidate, 1.0 - score)
        if score > best_score:
            best, best_score = arch, score
    if best is None:
        raise ConfigError(f"nevergrad found no architecture within {evaluator.constraints}; relax the limits")
    return SearchResult(best, best_score, history, time.perf_counter() - start)


def random_search(evaluator: ArchEvaluator, *, samples: int = 200, seed: int = 0) -> SearchResult:
    """Score `samples` random feasible architectures with inherited weights; return the best."""
    rng = np.random.default_rng(seed)
    history: list[dict[str, Any]] = []
    start = time.perf_counter()
    best, best_score = None, -1.0
    archs = [evaluator.sample_feasible(rng) for _ in range(samples)]
    evaluator.score_many(archs)
    for arch in archs:
        score = _record(history, evaluator, arch, start)
        if score > best_score:
            best, best_score = arch, score
    return SearchResult(best, best_score, history, time.perf_counter() - start)


def plain_random_search(
    space: Space,
    decisions: DecisionSet,
    train_and_score: Callable[[Arch, int], float],
    feasible: Callable[[Arch], bool],
    *,
    seconds: float,
    seed: int = 0,
    max_trials: int = 10_000,
    excluded_seconds: Callable[[], float] | None = None,
) -> SearchResult:
    """Train random feasible architectures from scratch until `seconds` of wall time have passed.

    Args:
        space: the NAS space to sample from.
        decisions: the supernet's decision set (to complete sampled configs).
        train_and_score: trains `arch` with seed `trial` and returns its validation accuracy.
        feasible: constraint check.
        seconds: wall-clock budget; the trial running when it ends is completed and counted.
        seed: sampling seed.
        max_trials: safety cap on the number of trials.
        excluded_seconds: returns the seconds spent so far that do not count against the
            budget (compile time, so the budget matches other methods' run time).
    """
    rng = np.random.default_rng(seed)
    history: list[dict[str, Any]] = []
    start = time.perf_counter()
    best, best_score = None, -1.0
    for trial in range(max_trials):
        spent = time.perf_counter() - start - (excluded_seconds() if excluded_seconds else 0.0)
        if trial > 0 and spent >= seconds:
            break
        arch = arch_from_values(decisions, space.sample(rng))
        if not feasible(arch):
            continue
        score = train_and_score(arch, trial)
        history.append({"arch": arch, "score": score, "seconds": time.perf_counter() - start})
        if score > best_score:
            best, best_score = arch, score
    return SearchResult(best, best_score, history, time.perf_counter() - start)


def is_degenerate(decisions: DecisionSet, arch: Mapping[str, Any]) -> dict[str, bool]:
    """Flag the two collapsed outcomes of one-shot search.

    `widest` means every active decision is at its largest value, so the search just picked the
    biggest network. `skip_only` means depth is at its minimum and every active width at its
    smallest. It is the analogue of DARTS's all-skip-connection collapse in a space without
    explicit skip operations.
    """
    arch = decisions.canonical(arch)
    active = [d for d in decisions if decisions.is_active(d.name, arch)]
    widest = all(arch[d.name] == d.values[-1] for d in active)
    shallow = [d for d in active if d.kind in ("depth", "width", "heads", "ratio")]
    skip_only = all(arch[d.name] == d.values[0] for d in shallow)
    return {"widest": widest, "skip_only": skip_only}

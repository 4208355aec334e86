"""One search, start to end: build the space's supernet, train or relax it, search, report.

Both the `nas` task and the study scripts call `run_search`, so every method is run by the
same code on the same data. Times are split into run time and compile time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.nas.config import NASConfig
from atlas_jax.nas.darts import darts_search
from atlas_jax.nas.runner import MODES, SubnetRunner, arch_key
from atlas_jax.nas.search import (
    ArchEvaluator,
    Constraints,
    evolutionary_search,
    is_degenerate,
    nevergrad_search,
    plain_random_search,
    random_search,
)
from atlas_jax.nas.spaces import supernet_for_space
from atlas_jax.nas.standalone import build_standalone, model_config
from atlas_jax.nas.training import fit, model_accuracy, train_supernet
from atlas_jax.search import Space

logger = logging.getLogger(__name__)

METHODS = ("evolution", "nevergrad", "random", "darts1", "darts2", "plain_random")
DARTS_WEIGHTS = ("shared", "separate")
WEIGHT_SHARING = ("evolution", "nevergrad", "random")


def validate(cfg: NASConfig) -> None:
    """Raise ConfigError, naming the `nas.*` key, for a setting outside its range."""
    from atlas_jax.nas.training import RULES

    if cfg.method not in METHODS:
        raise ConfigError(f"unknown nas.method '{cfg.method}'; valid: {', '.join(METHODS)}")
    if cfg.mode not in MODES:
        raise ConfigError(f"unknown nas.mode '{cfg.mode}'; valid: {', '.join(MODES)}")
    if cfg.darts_weights not in DARTS_WEIGHTS:
        raise ConfigError(f"unknown nas.darts_weights '{cfg.darts_weights}'; valid: {', '.join(DARTS_WEIGHTS)}")
    for key in ("supernet_steps", "batch_size", "population", "budget"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"nas.{key} must be at least 1, got {getattr(cfg, key)}")
    if not 1 <= cfg.parents <= cfg.population:
        raise ConfigError(f"nas.parents must be between 1 and nas.population ({cfg.population}), got {cfg.parents}")
    if cfg.rule not in RULES:
        raise ConfigError(f"unknown nas.rule '{cfg.rule}'; valid: {', '.join(RULES)}")
    if not 0.0 <= cfg.largest_fraction < 1.0:
        raise ConfigError(f"nas.largest_fraction must be in [0, 1), got {cfg.largest_fraction}")
    if not 0.0 <= cfg.largest_prob < 1.0:
        raise ConfigError(f"nas.largest_prob must be in [0, 1), got {cfg.largest_prob}")
    if cfg.score_examples is not None and cfg.score_examples < 1:
        raise ConfigError(f"nas.score_examples must be at least 1 or null (all), got {cfg.score_examples}")
    if cfg.rescore_top < 0:
        raise ConfigError(f"nas.rescore_top must be 0 (no rescoring) or more, got {cfg.rescore_top}")
    if cfg.screen_examples is not None and cfg.screen_examples < 1:
        raise ConfigError(f"nas.screen_examples must be at least 1 or null (off), got {cfg.screen_examples}")
    if not 0.0 <= cfg.mutation_prob <= 1.0:
        raise ConfigError(f"nas.mutation_prob must be in [0, 1], got {cfg.mutation_prob}")
    for key in ("generations", "mutations", "crossovers"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"nas.{key} must be 0 or more, got {getattr(cfg, key)}")
    if not cfg.screen_z > 0:
        raise ConfigError(f"nas.screen_z must be positive, got {cfg.screen_z}")


def constraints_of(cfg: NASConfig) -> Constraints:
    return Constraints(cfg.max_params, cfg.max_flops, cfg.max_latency_ms)


def run_search(cfg: NASConfig, space: Space, data: Any, seed: int | None = None) -> dict[str, Any]:
    """Search `space` on `data` with `cfg.method` and return a JSON-ready report.

    Args:
        cfg: NAS settings.
        space: a NAS space (see `atlas_jax.nas.spaces`).
        data: an object with `.train`, `.val` splits (each `.x`, `.y`), `.feature_shape` and
            `.num_classes`, such as `atlas_jax.data.Dataset`.
        seed: overrides `cfg.seed`.

    Returns:
        A dict with the best architecture, its model config, validation score, search run and
        compile seconds, degeneracy flags, and the scored candidates (`history`).
    """
    validate(cfg)
    seed = cfg.seed if seed is None else seed
    x_train, y_train = data.train.x, data.train.y
    x_val, y_val = data.val.x, data.val.y
    net = supernet_for_space(space, data.feature_shape, data.num_classes, seed=seed)
    decisions = net.decisions
    mode = "masked" if cfg.method.startswith("darts") else cfg.mode
    runner = SubnetRunner(net, mode=mode, num_buckets=cfg.num_buckets, cache_size=cfg.cache_size)
    latency_runner = None
    if cfg.max_latency_ms is not None:
        latency_runner = SubnetRunner(net, mode="slice", num_buckets=cfg.num_buckets, cache_size=cfg.cache_size)
    score_x, score_y = x_val, y_val
    if cfg.score_examples is not None and cfg.score_examples < len(y_val):
        # A fixed random subset (the split itself is stored in the source's order).
        pick = np.sort(np.random.default_rng(seed).permutation(len(y_val))[: cfg.score_examples])
        score_x, score_y = x_val[pick], y_val[pick]
    evaluator = ArchEvaluator(
        space, runner, score_x, score_y, constraints_of(cfg), latency_runner, x_val[: cfg.latency_batch],
        screen_examples=cfg.screen_examples if cfg.method == "evolution" else None, screen_z=cfg.screen_z, seed=seed,
    )
    report: dict[str, Any] = {"method": cfg.method, "seed": seed, "mode": mode, "space_size": decisions.count()}
    if cfg.method == "evolution" and cfg.screen_examples is not None:
        if evaluator.screen_examples is None:
            logger.info("screening is off: nas.screen_examples=%d is not below the %d examples each candidate is "
                        "scored on", cfg.screen_examples, len(score_y))
        report["screen_examples"], report["screen_z"] = evaluator.screen_examples, cfg.screen_z
    start = time.perf_counter()

    if cfg.method in WEIGHT_SHARING:
        trained = train_supernet(
            runner, x_train, y_train, steps=cfg.supernet_steps, batch_size=cfg.batch_size, rule=cfg.rule,
            num_random=cfg.num_random, distill=cfg.distill, learning_rate=cfg.learning_rate,
            largest_fraction=cfg.largest_fraction, largest_prob=cfg.largest_prob,
            weight_decay=cfg.weight_decay, seed=seed, sampler=lambda rng: evaluator.sample_feasible(rng),
        )
        report["supernet_run_seconds"] = trained.run_seconds
        compile_before_search = runner.stats.seconds
        if cfg.method == "evolution":
            result = evolutionary_search(
                evaluator, population=cfg.population, generations=cfg.generations, parents=cfg.parents,
                mutations=cfg.mutations, crossovers=cfg.crossovers, mutation_prob=cfg.mutation_prob, seed=seed,
            )
        elif cfg.method == "nevergrad":
            result = nevergrad_search(evaluator, optimizer=cfg.ng_optimizer, budget=cfg.budget, seed=seed)
        else:
            result = random_search(evaluator, samples=cfg.budget, seed=seed)
        best, score, history = result.best_arch, result.best_score, result.history
        report["score_examples"] = len(score_y)
        if score_y is not y_val and cfg.rescore_top > 0:
            best, score = rescore(evaluator, history, x_val, y_val, cfg.rescore_top)
            report["score_examples"] = len(y_val)
        report["search_compile_seconds"] = runner.stats.seconds - compile_before_search
    elif cfg.method.startswith("darts"):
        outcome = darts_search(
            runner, x_train, y_train, x_val, y_val, steps=cfg.supernet_steps, order=int(cfg.method[-1]),
            weights=cfg.darts_weights, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay, arch_learning_rate=cfg.arch_learning_rate,
            arch_weight_decay=cfg.arch_weight_decay, seed=seed,
        )
        best = outcome.arch
        # NOTE: DARTS ignores the resource limits while it trains; only the derived network is checked.
        if not evaluator.feasible(best):
            logger.warning("DARTS derived an architecture that violates %s: %s", evaluator.constraints, best)
        # Separate-weight DARTS leaves no shared weights that the derived network could inherit.
        score = evaluator.score(best) if cfg.darts_weights == "shared" else None
        history = [{"alphas": snapshot} for snapshot in outcome.alpha_history]
        report["final_alphas"] = {k: v.tolist() for k, v in outcome.alphas.items()}
    else:
        compile_seconds = [0.0]

        def train_and_score(arch: dict, trial: int) -> float:
            model = build_standalone(net, arch, seed=seed * 1000 + trial)
            fitted = fit(model, x_train, y_train, steps=cfg.plain_steps, batch_size=cfg.batch_size,
                         learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay, seed=seed + trial)
            compile_seconds[0] += fitted.compile_seconds
            return model_accuracy(model, x_val, y_val)

        # The budget counts run time only, as the other methods' search time does.
        result = plain_random_search(
            space, decisions, train_and_score, evaluator.feasible, seconds=cfg.plain_seconds, seed=seed,
            excluded_seconds=lambda: compile_seconds[0],
        )
        best, score, history = result.best_arch, result.best_score, result.history
        runner.stats.seconds += compile_seconds[0]

    wall = time.perf_counter() - start
    report.update({
        "best_arch": best,
        "val_accuracy": score,
        "model": model_config(net, best, dropout=cfg.dropout),
        "cost": net.cost(best),
        "feasible": evaluator.feasible(best),
        "degenerate": is_degenerate(decisions, best),
        "search_wall_seconds": wall,
        "compile_seconds": runner.stats.seconds,
        "search_run_seconds": wall - runner.stats.seconds,
        "compile_stats": runner.stats.as_dict(),
        "candidates_scored": len(evaluator.scores) if cfg.method != "plain_random" else len(history),
        "candidates_rejected": evaluator.rejected,
        "candidates_screened": len(evaluator.screened),
        "history": history,
    })
    report["_runner"] = runner
    return report


def rescore(evaluator: ArchEvaluator, history: list[dict[str, Any]], x_val: Any, y_val: Any, top: int):
    """Rescore the `top` best candidates of a subset-scored search on the whole validation split.

    Scores on a subset are noisy near the top, so the final pick gets the full split.
    Returns the best architecture and its full-split accuracy.
    """
    ranked = sorted({arch_key(h["arch"]): h for h in history}.values(), key=lambda h: h["score"], reverse=True)
    finalists = [h["arch"] for h in ranked[:top]]
    scores = evaluator.runner.accuracy_many(evaluator.runner.params, x_val, y_val, finalists)
    best = int(np.argmax(scores))
    return finalists[best], scores[best]


def retrain(net_report: dict[str, Any], space: Space, data: Any, *, steps: int, batch_size: int,
            learning_rate: float, weight_decay: float, seed: int) -> dict[str, float]:
    """Train the report's best architecture from scratch; return val and test accuracy."""
    net = net_report["_runner"].net
    model = build_standalone(net, net_report["best_arch"], seed=seed)
    fitted = fit(model, data.train.x, data.train.y, steps=steps, batch_size=batch_size,
                 learning_rate=learning_rate, weight_decay=weight_decay, seed=seed)
    return {
        "val_accuracy": model_accuracy(model, data.val.x, data.val.y),
        "test_accuracy": model_accuracy(model, data.test.x, data.test.y),
        "run_seconds": fitted.run_seconds,
        "compile_seconds": fitted.compile_seconds,
    }


def jsonable(report: dict[str, Any]) -> dict[str, Any]:
    """Drop the live objects from a report so it can be written as JSON."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (Linux ru_maxrss is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seeds_ci(values: list[float]) -> tuple[float, float]:
    """Return the mean and the half-width of its 95% t confidence interval."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)

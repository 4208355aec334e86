"""Evolutionary, nevergrad and random search respect their constraints."""

import numpy as np
import pytest

from atlas_jax.nas.runner import SubnetRunner, arch_key
from atlas_jax.nas.search import (
    ArchEvaluator,
    Constraints,
    evolutionary_search,
    is_degenerate,
    nevergrad_search,
    random_search,
)
from atlas_jax.nas.spaces import nas_space, supernet_for_space
from atlas_jax.search import Space


@pytest.fixture(scope="module")
def setup(digits):
    space = nas_space("mlp", depths=(1, 2, 3), widths=(16, 32, 64, 128))
    net = supernet_for_space(space, (8, 8, 1), 10, seed=0)
    runner = SubnetRunner(net, mode="masked")
    return space, runner


def _evaluator(setup, digits, constraints):
    space, runner = setup
    return ArchEvaluator(space, runner, *digits["val"], constraints=constraints)


def test_evolution_respects_params_limit(setup, digits):
    limit = 6000
    evaluator = _evaluator(setup, digits, Constraints(max_params=limit))
    result = evolutionary_search(evaluator, population=8, generations=3, parents=4, mutations=4, crossovers=4)
    assert result.history, "no candidate was scored"
    for entry in result.history:
        assert entry["params"] <= limit, entry
    assert setup[1].net.cost(result.best_arch)["params"] <= limit
    assert evaluator.rejected > 0


def test_evolution_respects_flops_and_space_constraint(setup, digits):
    space, runner = setup
    constrained = Space({**space.params, **space.constants}, constraints=[lambda v: v["depth"] >= 2])
    evaluator = ArchEvaluator(constrained, runner, *digits["val"], constraints=Constraints(max_flops=12000))
    result = evolutionary_search(evaluator, population=6, generations=2, parents=3, mutations=3, crossovers=3)
    for entry in result.history:
        assert entry["flops"] <= 12000, entry
        assert entry["arch"]["depth"] >= 2, entry


def test_nevergrad_respects_params_limit(setup, digits):
    evaluator = _evaluator(setup, digits, Constraints(max_params=5000))
    result = nevergrad_search(evaluator, optimizer="DiscreteOnePlusOne", budget=30)
    for entry in result.history:
        assert entry["params"] <= 5000, entry


def test_random_search_respects_latency_limit(setup, digits):
    space, runner = setup
    latency_runner = SubnetRunner(runner.net, mode="slice", num_buckets=2)
    batch = digits["val"][0][:64]
    free = ArchEvaluator(space, runner, *digits["val"], constraints=Constraints(max_latency_ms=1e9),
                         latency_runner=latency_runner, latency_batch=batch)
    largest = free.cost(runner.decisions.largest())["latency_ms"]
    smallest = free.cost(runner.decisions.smallest())["latency_ms"]
    limit = float(np.sqrt(largest * smallest)) if largest > smallest else largest
    evaluator = ArchEvaluator(space, runner, *digits["val"], constraints=Constraints(max_latency_ms=limit),
                              latency_runner=latency_runner, latency_batch=batch)
    result = random_search(evaluator, samples=6)
    for entry in result.history:
        assert entry["latency_ms"] <= limit, entry


def test_degenerate_flags(setup):
    decisions = setup[1].decisions
    assert is_degenerate(decisions, decisions.largest()) == {"widest": True, "skip_only": False}
    assert is_degenerate(decisions, decisions.smallest()) == {"widest": False, "skip_only": True}


def test_batched_scoring_matches_one_by_one(setup, digits):
    space, runner = setup
    rng = np.random.default_rng(4)
    archs = [runner.decisions.sample(rng) for _ in range(5)]
    x, y = digits["val"][0][:250], digits["val"][1][:250]
    one_by_one = [runner.accuracy(runner.params, x, y, a, batch_size=100) for a in archs]
    for group in (1, 3):
        # 250 examples in batches of at most 100: three batches of 84, the last padded.
        assert runner.accuracy_many(runner.params, x, y, archs, group=group, batch_size=100) == one_by_one


def test_subset_scoring_rescores_finalists_on_all_of_validation(digits):
    from types import SimpleNamespace

    from atlas_jax.data.datasets import Split
    from atlas_jax.nas.config import NASConfig
    from atlas_jax.nas.pipeline import run_search

    space = nas_space("mlp", depths=(1, 2), widths=(8, 16, 32))
    data = SimpleNamespace(train=Split(*digits["train"]), val=Split(*digits["val"]), feature_shape=(8, 8, 1),
                           num_classes=10)
    cfg = NASConfig(method="random", rule="uniform", supernet_steps=20, batch_size=32, budget=12,
                    score_examples=50, rescore_top=3)
    report = run_search(cfg, space, data)
    runner = report["_runner"]
    full = runner.accuracy(runner.params, *digits["val"], report["best_arch"])
    assert report["val_accuracy"] == full
    subset_scores = sorted((h["score"] for h in report["history"]), reverse=True)
    assert all(abs(s * 50 - round(s * 50)) < 1e-9 for s in subset_scores)  # history scores use 50 examples


def test_screening_scores_exact_or_below_floor(setup, digits):
    space, runner = setup
    rng = np.random.default_rng(7)
    canonical = (runner.decisions.canonical(runner.decisions.sample(rng)) for _ in range(12))
    archs = list({arch_key(a): a for a in canonical}.values())
    x, y = digits["val"]
    plain = ArchEvaluator(space, runner, x, y).score_many(archs)

    # A floor no candidate can miss by chance: nothing is screened and every score is the full one.
    open_floor = ArchEvaluator(space, runner, x, y, screen_examples=40, seed=3)
    assert open_floor.score_many(archs, floor=-1.0) == plain
    assert not open_floor.screened

    # A floor above every candidate: all are screened, each scored on the same 40 examples.
    closed = ArchEvaluator(space, runner, x, y, screen_examples=40, seed=3)
    scores = closed.score_many(archs, floor=1.5)
    assert len(closed.screened) == len(archs)
    subset = closed._order[:40]
    assert scores == runner.accuracy_many(runner.params, x[subset], y[subset], archs)

    # A floor between the candidates: survivors get exactly their full-split score, and each
    # screened candidate's subset estimate plus 2 standard errors is below the floor.
    floor = float(np.median(plain))
    mixed = ArchEvaluator(space, runner, x, y, screen_examples=40, seed=3)
    scores = mixed.score_many(archs, floor=floor)
    for arch, score, full in zip(archs, scores, plain):
        key = arch_key(runner.decisions.canonical(arch))
        if key in mixed.screened:
            smoothed = (score * 40 + 1) / 42
            assert score + 2.0 * np.sqrt(smoothed * (1 - smoothed) / 40) < floor
        else:
            assert score == full


def test_screened_evolution_matches_full_scoring(setup, digits):
    space, runner = setup
    kwargs = dict(population=8, generations=4, parents=4, mutations=6, crossovers=6, seed=1)
    full = evolutionary_search(ArchEvaluator(space, runner, *digits["val"]), **kwargs)
    evaluator = ArchEvaluator(space, runner, *digits["val"], screen_examples=60, seed=1)
    screened = evolutionary_search(evaluator, **kwargs)
    assert evaluator.screened, "the test should exercise screening"
    assert screened.best_arch == full.best_arch
    assert screened.best_score == full.best_score
    assert [h["arch"] for h in screened.history] == [h["arch"] for h in full.history]
    assert sum(h["screened"] for h in screened.history) == len(evaluator.screened)


def test_search_report_records_screening(digits):
    from types import SimpleNamespace

    from atlas_jax.data.datasets import Split
    from atlas_jax.nas.config import NASConfig
    from atlas_jax.nas.pipeline import run_search

    space = nas_space("mlp", depths=(1, 2), widths=(8, 16, 32))
    data = SimpleNamespace(train=Split(*digits["train"]), val=Split(*digits["val"]), feature_shape=(8, 8, 1),
                           num_classes=10)
    small = dict(method="evolution", rule="uniform", supernet_steps=20, batch_size=32, population=6, generations=2,
                 parents=3, mutations=3, crossovers=3)
    on = run_search(NASConfig(**small, screen_examples=40), space, data)
    assert on["screen_examples"] == 40
    assert on["candidates_screened"] == sum(1 for h in {str(h["arch"]): h for h in on["history"]}.values()
                                            if h["screened"])
    # More screening examples than the candidates are scored on: screening is off, and the report shows it.
    off = run_search(NASConfig(**small, screen_examples=10_000), space, data)
    assert off["screen_examples"] is None
    assert off["candidates_screened"] == 0


@pytest.mark.parametrize("field,value,message", [
    ("rule", "zigzag", "unknown nas.rule 'zigzag'"),
    ("largest_fraction", 1.5, "nas.largest_fraction must be in"),
    ("largest_prob", -0.1, "nas.largest_prob must be in"),
    ("score_examples", 0, "nas.score_examples must be at least 1"),
    ("rescore_top", -1, "nas.rescore_top must be 0"),
    ("screen_examples", 0, "nas.screen_examples must be at least 1"),
    ("screen_z", 0.0, "nas.screen_z must be positive"),
    ("method", "grid", "unknown nas.method 'grid'"),
    ("mode", "dense", "unknown nas.mode 'dense'"),
    ("darts_weights", "tied", "unknown nas.darts_weights 'tied'"),
    ("population", 0, "nas.population must be at least 1"),
    ("parents", 30, r"nas.parents must be between 1 and nas.population \(20\)"),
    ("budget", 0, "nas.budget must be at least 1"),
])
def test_bad_nas_settings_name_their_key(field, value, message):
    from atlas_jax.errors import ConfigError
    from atlas_jax.nas.config import NASConfig
    from atlas_jax.nas.pipeline import validate

    validate(NASConfig())
    with pytest.raises(ConfigError, match=message):
        validate(NASConfig(**{field: value}))

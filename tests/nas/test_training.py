"""Supernet training: masked and exact-slice steps agree, chunking changes nothing, the
progressive rule trains the largest first, and sandwich training learns."""

import jax
import numpy as np
import pytest

from atlas_jax.nas.runner import SubnetRunner
from atlas_jax.nas.spaces import nas_space, supernet_for_space
from atlas_jax.errors import ConfigError
from atlas_jax.nas.training import chunk_sizes, sample_paths, train_supernet

SPACE = dict(depths=(1, 2), widths=(16, 32, 64))


@pytest.mark.parametrize("rule,distill", [("uniform", False), ("sandwich", True), ("progressive", False)])
def test_masked_and_slice_steps_agree(digits, rule, distill):
    space = nas_space("mlp", **SPACE)
    results = {}
    for mode in ("masked", "slice"):
        runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode=mode)
        train_supernet(runner, *digits["train"], steps=4, batch_size=32, rule=rule, distill=distill, seed=1,
                       largest_fraction=0.5)
        results[mode] = runner.params
    for a, b in zip(jax.tree.leaves(results["masked"]), jax.tree.leaves(results["slice"])):
        # Same paths and batches, so only float rounding of the masked zeros differs.
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_sandwich_training_learns(digits):
    space = nas_space("mlp", **SPACE)
    runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
    result = train_supernet(runner, *digits["train"], steps=300, batch_size=64, rule="sandwich", seed=0)
    decisions = runner.decisions
    for arch in (decisions.largest(), decisions.smallest()):
        assert runner.accuracy(runner.params, *digits["val"], arch) > 0.8, arch
    assert result.compile_seconds > 0
    assert runner.stats.compiles <= 2  # the train step and the accuracy program


def test_chunked_steps_match_one_step_per_call(digits):
    space = nas_space("mlp", **SPACE)
    results = []
    for chunk in (1, 3, 7):
        runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
        result = train_supernet(runner, *digits["train"], steps=7, batch_size=32, rule="uniform", seed=2, chunk=chunk)
        results.append((runner.params, result.final_loss))
    for params, loss in results[1:]:
        assert loss == pytest.approx(results[0][1], rel=1e-5)
        for a, b in zip(jax.tree.leaves(results[0][0]), jax.tree.leaves(params)):
            # Same paths and batches; one scanned program against separate calls may fuse
            # differently, so only rounding may differ.
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_chunk_sizes():
    assert chunk_sizes(7, 3) == [3, 3, 1]
    assert chunk_sizes(6, 3) == [3, 3]
    assert chunk_sizes(2, 50) == [2]
    with pytest.raises(ConfigError, match="at least 1"):
        chunk_sizes(5, 0)


def test_progressive_rule_paths():
    space = nas_space("mlp", **SPACE)
    runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
    rng = np.random.default_rng(0)
    largest = runner.decisions.largest()
    assert sample_paths(runner, "progressive", 0, rng, warmup=True) == [largest]
    later = [sample_paths(runner, "progressive", 0, rng, warmup=False)[0] for _ in range(20)]
    assert any(path != largest for path in later)


def test_progressive_largest_steps_equal_training_the_largest(digits):
    """Warm-up steps and steps that draw the largest train exactly what training the largest alone does."""
    space = nas_space("mlp", **SPACE)
    params = []
    for rule, sampler in (("progressive", None), ("uniform", lambda rng: largest)):
        runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
        largest = runner.decisions.largest()
        # With largest_prob near 1 every step after the warm-up draws the largest too (seeded).
        train_supernet(runner, *digits["train"], steps=4, batch_size=32, rule=rule, sampler=sampler, seed=3,
                       largest_fraction=0.5, largest_prob=0.999)
        params.append(runner.params)
    for a, b in zip(jax.tree.leaves(params[0]), jax.tree.leaves(params[1])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_progressive_largest_prob_mixes_paths():
    space = nas_space("mlp", **SPACE)
    runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
    rng = np.random.default_rng(1)
    largest = runner.decisions.largest()
    paths = [sample_paths(runner, "progressive", 0, rng, largest_prob=0.5)[0] for _ in range(400)]
    share = sum(p == largest for p in paths) / len(paths)
    # Half the steps pick the largest on purpose, and a random draw is the largest 1 time in 18.
    assert 0.45 < share < 0.62


@pytest.mark.parametrize("kwargs,message", [
    (dict(rule="zigzag"), "unknown sampling rule 'zigzag'"),
    (dict(rule="progressive", largest_fraction=1.0), "largest_fraction must be in"),
    (dict(rule="progressive", largest_prob=1.0), "largest_prob must be in"),
])
def test_bad_training_settings(digits, kwargs, message):
    space = nas_space("mlp", **SPACE)
    runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode="masked")
    with pytest.raises(ConfigError, match=message):
        train_supernet(runner, *digits["train"], steps=2, batch_size=32, **kwargs)

"""Sub-networks run through the entangled layers against plain NNX networks with sliced weights."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from atlas_jax.nas.runner import SubnetRunner
from atlas_jax.nas.standalone import build_standalone, count_params, load_slices
from atlas_jax.nas.supernets import create_supernet

SHAPES = {"mlp": (8, 8, 1), "cnn": (8, 8, 1), "transformer": (8, 8, 1)}
# Float32 sums in a different order (masked zeros, einsum layouts) differ by rounding only.
ATOL = 2e-5


def _archs(net, count, seed):
    rng = np.random.default_rng(seed)
    decisions = net.decisions
    archs = [decisions.largest(), decisions.smallest()]
    archs += [decisions.canonical(decisions.sample(rng)) for _ in range(count)]
    return archs


@pytest.mark.parametrize("family", sorted(SHAPES))
def test_subnet_matches_standalone(family):
    net = create_supernet(family, SHAPES[family], 10, seed=1)
    runners = {
        "masked": SubnetRunner(net, mode="masked"),
        "exact slice": SubnetRunner(net, mode="slice", num_buckets=None),
        "2 buckets": SubnetRunner(net, mode="slice", num_buckets=2),
    }
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5,) + SHAPES[family]), jnp.float32)
    for arch in _archs(net, 2, seed=2):
        reference = load_slices(build_standalone(net, arch, seed=9), net, arch)
        expected = np.asarray(nnx.jit(lambda model, inputs: model(inputs))(reference, x))
        for mode, runner in runners.items():
            got = np.asarray(runner.logits(runner.params, x, arch))
            np.testing.assert_allclose(got, expected, atol=ATOL, rtol=1e-5, err_msg=f"{mode}: {arch}")


@pytest.mark.parametrize("family", sorted(SHAPES))
def test_cost_params_match_standalone(family):
    net = create_supernet(family, SHAPES[family], 10)
    for arch in _archs(net, 3, seed=3):
        assert net.cost(arch)["params"] == count_params(build_standalone(net, arch)), arch


def test_masked_mode_compiles_once():
    net = create_supernet("cnn", SHAPES["cnn"], 10)
    runner = SubnetRunner(net, mode="masked")
    x = jnp.zeros((4,) + SHAPES["cnn"])
    for arch in _archs(net, 5, seed=4):
        runner.logits(runner.params, x, arch)
    assert runner.stats.compiles == 1
    assert runner.stats.hits == 6


def test_slice_cache_is_bounded():
    net = create_supernet("mlp", SHAPES["mlp"], 10)
    runner = SubnetRunner(net, mode="slice", num_buckets=None, cache_size=3)
    x = jnp.zeros((4,) + SHAPES["mlp"])
    archs = [{"depth": 1, "width_0": w, "width_1": 32, "width_2": 32} for w in (32, 64, 128, 256)]
    for arch in archs + archs[:1]:
        runner.logits(runner.params, x, arch)
    assert runner.cache_len() == 3
    assert runner.stats.compiles == 5
    assert runner.stats.evictions == 2
    assert runner.stats.seconds > 0


def test_buckets_reduce_compiles():
    net = create_supernet("mlp", SHAPES["mlp"], 10)
    exact = SubnetRunner(net, mode="slice", num_buckets=None)
    bucketed = SubnetRunner(net, mode="slice", num_buckets=2)
    x = jnp.zeros((4,) + SHAPES["mlp"])
    for arch in _archs(net, 12, seed=5):
        exact.logits(exact.params, x, arch)
        bucketed.logits(bucketed.params, x, arch)
    assert bucketed.stats.compiles < exact.stats.compiles

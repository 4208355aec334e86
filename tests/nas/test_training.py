"""Supernet training: masked and exact-slice steps agree, and sandwich training learns."""

import jax
import numpy as np
import pytest

from atlas_jax.nas.runner import SubnetRunner
from atlas_jax.nas.spaces import nas_space, supernet_for_space
from atlas_jax.nas.training import train_supernet

SPACE = dict(depths=(1, 2), widths=(16, 32, 64))


@pytest.mark.parametrize("rule,distill", [("uniform", False), ("sandwich", True)])
def test_masked_and_slice_steps_agree(digits, rule, distill):
    space = nas_space("mlp", **SPACE)
    results = {}
    for mode in ("masked", "slice"):
        runner = SubnetRunner(supernet_for_space(space, (8, 8, 1), 10, seed=0), mode=mode)
        train_supernet(runner, *digits["train"], steps=3, batch_size=32, rule=rule, distill=distill, seed=1)
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

"""DARTS on the entangled CNN space: architecture logits move and the network learns."""

import numpy as np
import pytest

from atlas_jax.nas.darts import darts_search
from atlas_jax.nas.runner import SubnetRunner
from atlas_jax.nas.spaces import nas_space, supernet_for_space


@pytest.mark.parametrize("order,weights", [(1, "shared"), (2, "shared"), (1, "separate")])
def test_darts_alphas_move(digits, order, weights):
    space = nas_space("cnn", depths=(1, 2), channels=(8, 16), kernels=(3, 5), dense=(16, 32))
    net = supernet_for_space(space, (8, 8, 1), 10, seed=0)
    runner = SubnetRunner(net, mode="masked")
    result = darts_search(runner, *digits["train"], *digits["val"], steps=40, order=order, weights=weights, batch_size=32,
                          arch_learning_rate=3e-2)
    for name, initial in result.initial_alphas.items():
        assert np.abs(result.alphas[name] - initial).max() > 1e-3, name
    assert set(result.arch) == {d.name for d in net.decisions}
    assert runner.stats.compiles == 1
    assert result.compile_seconds > 0

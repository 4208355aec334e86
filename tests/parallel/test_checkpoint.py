"""A state saved under 8-device FSDP restores onto other meshes with the same values."""

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from atlas_jax.config import ViTConfig
from atlas_jax.errors import AtlasError
from atlas_jax.models import create_model
from atlas_jax.parallel import ParallelConfig, ParallelContext, restore_model_state, save_state, shard_state, state_shardings

CFG = ViTConfig(depth=2, embed_dim=32, num_heads=8, mlp_dim=64)


def _abstract_state():
    return nnx.state(nnx.eval_shape(lambda: create_model(CFG, (8, 8, 1), 10, seed=1)))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    state = nnx.state(create_model(CFG, (8, 8, 1), 10, seed=0))
    fsdp = ParallelContext.from_config(ParallelConfig(fsdp=8))
    sharded = shard_state(state, state_shardings(fsdp, state))
    w_in = sharded["encoder"]["blocks"]["mlp"]["w_in"].get_value()
    assert w_in.sharding.spec == P(None, "fsdp")
    path = tmp_path_factory.mktemp("ckpt") / "state"
    save_state(path, sharded)
    return path, jax.device_get(state)


@pytest.mark.parametrize(("cfg", "w_in_spec"), [
    (ParallelConfig(num_devices=1), P()),
    (ParallelConfig(data=4, tensor=2), P(None, None, "tensor")),
], ids=["one_device", "data4_tensor2"])
def test_restore_onto_other_mesh(saved, cfg, w_in_spec):
    path, expected = saved
    ctx = ParallelContext.from_config(cfg)
    restored = restore_model_state(path, _abstract_state(), ctx)
    w_in = restored["encoder"]["blocks"]["mlp"]["w_in"].get_value()
    assert w_in.sharding.mesh.shape == ctx.mesh.shape
    assert w_in.sharding.spec == w_in_spec
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_restore_missing_path_fails(tmp_path):
    ctx = ParallelContext.from_config(ParallelConfig(num_devices=1))
    with pytest.raises(AtlasError, match="not found"):
        restore_model_state(tmp_path / "absent", _abstract_state(), ctx)

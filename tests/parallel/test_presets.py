"""Every `conf/parallel/` preset reproduces the single-device loss, gradients and update."""

import jax
import numpy as np
import pytest
from flax import nnx

from atlas_jax.config import CNNConfig, MLPConfig, TextTransformerConfig, ViTConfig
from atlas_jax.models import create_model
from atlas_jax.parallel import ParallelContext, bytes_per_device, load_preset, optimizer_shardings, shard_state, state_shardings
from tests.parallel.common import RTOL, digits_batch, perturb, relative_errors, run_step

FAST = ["single", "dp", "fsdp", "tp"]
PIPELINED = ["pp_gpipe", "pp_circular", "dp_tp_pp"]


def _check_matches_single_device(ctx, model, x, y):
    expected = run_step(None, model, x, y)
    params, opt_state, loss, grads = run_step(ctx, model, x, y)
    assert abs(float(loss) - float(expected[2])) <= RTOL * abs(float(expected[2]))
    grad_errors = relative_errors(grads, expected[3])
    assert max(grad_errors.values()) <= RTOL, grad_errors
    param_errors = relative_errors(params, expected[0])
    assert max(param_errors.values()) <= RTOL, param_errors
    # Gradients that are all zero would make the comparison vacuous.
    assert all(np.abs(np.asarray(g)).max() > 0 for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("preset", FAST)
def test_preset_matches_single_device(preset):
    model = perturb(create_model(ViTConfig(depth=2, embed_dim=32, num_heads=8, mlp_dim=64), (8, 8, 1), 10, seed=0))
    x, y = digits_batch(16)
    _check_matches_single_device(ParallelContext.from_config(load_preset(preset)), model, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("preset", PIPELINED)
def test_pipeline_preset_matches_single_device(preset):
    model = perturb(create_model(ViTConfig(depth=8, embed_dim=32, num_heads=8, mlp_dim=64), (8, 8, 1), 10, seed=0))
    x, y = digits_batch(32)
    _check_matches_single_device(ParallelContext.from_config(load_preset(preset)), model, x, y)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["tp", "pp_circular"])
def test_text_transformer_preset_matches(preset):
    cfg = TextTransformerConfig(vocab_size=64, max_len=12, depth=8, embed_dim=32, num_heads=8, mlp_dim=64)
    model = perturb(create_model(cfg, (12,), 5, seed=0))
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 64, size=(32, 12))
    tokens[:, 9:] = 0  # padding exercises the attention mask through the pipeline
    y = rng.integers(0, 5, size=(32,)).astype(np.int32)
    _check_matches_single_device(ParallelContext.from_config(load_preset(preset)), model, tokens.astype(np.int32), y)


@pytest.mark.parametrize(
    ("preset", "model_cfg"),
    [("fsdp", MLPConfig(hidden=[64, 32], dropout=0.0)), ("dp", CNNConfig(channels=[8, 16], dense=32, dropout=0.0))],
    ids=["mlp-fsdp", "cnn-dp"],
)
def test_foundation_model_preset_matches(preset, model_cfg):
    model = perturb(create_model(model_cfg, (8, 8, 1), 10, seed=0))
    x, y = digits_batch(16)
    _check_matches_single_device(ParallelContext.from_config(load_preset(preset)), model, x, y)


def test_fsdp_shards_params_and_optimizer():
    import optax

    model = create_model(ViTConfig(depth=2, embed_dim=64, num_heads=8, mlp_dim=256), (8, 8, 1), 10, seed=0)
    params = nnx.state(model)
    optimizer = optax.adamw(1e-3)
    ctx = ParallelContext.from_config(load_preset("fsdp"))
    p_sharding = state_shardings(ctx, params)
    o_sharding = optimizer_shardings(ctx, optimizer, params, p_sharding)
    placed = (shard_state(params, p_sharding), shard_state(optimizer.init(params), o_sharding))
    total = sum(leaf.nbytes for leaf in jax.tree.leaves((params, optimizer.init(params))))
    per_device = bytes_per_device(placed)
    assert len(per_device) == 8
    assert max(per_device.values()) <= 1.15 * total / 8

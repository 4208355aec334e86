"""The data-parallel train step: equal to one device on the same batches, and the true mean-loss gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from atlas_jax.config import OptimConfig
from atlas_jax.gnn.batching import BatchLayout, pad_subgraph, stack_batches, to_graphs_tuple
from atlas_jax.gnn.config import GNNModelConfig
from atlas_jax.gnn.models import create_gnn
from atlas_jax.gnn.steps import create_data_mesh, dropout_keys, make_train_step, replicate, shard_batch
from atlas_jax.train.optim import create_optimizer

from . import reference

NUM_CLASSES = 4


def _stacked_batches(step: int, count: int = 8):
    indptr, indices = reference.random_graph(300, 1200, seed=0)
    rng = np.random.default_rng(step)
    features = np.random.default_rng(1).standard_normal((300, 5)).astype(np.float32)
    labels = np.random.default_rng(2).integers(0, NUM_CLASSES, 300).astype(np.int32)
    layout = BatchLayout.create(6, [3, 2], num_nodes=300)
    batches = []
    for index in range(count):
        # Sub-batches hold different numbers of seeds, so a plain mean of means would be wrong.
        seeds = rng.choice(300, 2 + index % 5, replace=False)
        subgraph = reference.sample(indptr, indices, seeds, [3, 2], seed=100 * step + index)
        batches.append(pad_subgraph(subgraph, features[subgraph.nodes], labels[subgraph.nodes], layout, len(seeds)))
    stacked = stack_batches(batches)
    stacked = {k: v for k, v in stacked.items() if k not in ("node_ids", "num_real_nodes", "num_real_edges")}
    return stacked, layout


def _run(num_devices: int, optim: OptimConfig, steps: int = 2, dropout: float = 0.3):
    model = create_gnn(GNNModelConfig(name="sage_mean", hidden=16, num_layers=2, dropout=dropout), 5, NUM_CLASSES, seed=0)
    graphdef, params = nnx.split(model)
    tx, _ = create_optimizer(optim, total_steps=10)
    mesh = create_data_mesh(num_devices)
    layout = _stacked_batches(0)[1]
    step_fn = make_train_step(graphdef, tx, layout.layer_sizes(2), mesh)
    params, opt_state = replicate(params, mesh), replicate(tx.init(params), mesh)
    losses = []
    for step in range(steps):
        batch, _ = _stacked_batches(step)
        params, opt_state, metrics = step_fn(params, opt_state, shard_batch(batch, mesh), dropout_keys(0, step, 8))
        losses.append(float(metrics["loss"]))
    return jax.device_get(params), losses


def test_data_parallel_matches_single_device():
    # SGD with momentum, unlike Adam, would expose a gradient scaled by the device count.
    optim = OptimConfig(name="sgd", learning_rate=0.1, momentum=0.9, warmup_steps=0, schedule="constant")
    single_params, single_losses = _run(1, optim)
    parallel_params, parallel_losses = _run(8, optim)
    # Only the summation order differs between the two layouts.
    np.testing.assert_allclose(parallel_losses, single_losses, rtol=1e-5)
    for single, parallel in zip(jax.tree.leaves(single_params), jax.tree.leaves(parallel_params)):
        np.testing.assert_allclose(parallel, single, rtol=1e-4, atol=1e-5)


def test_train_step_applies_mean_loss_gradient():
    # Plain SGD with learning rate 1 turns the parameter change into minus the gradient.
    optim = OptimConfig(name="sgd", learning_rate=1.0, momentum=0.0, weight_decay=0.0, warmup_steps=0,
                        schedule="constant", grad_clip_norm=None)
    model = create_gnn(GNNModelConfig(name="gcn", hidden=8, num_layers=2, dropout=0.0), 5, NUM_CLASSES, seed=0)
    graphdef, params = nnx.split(model)
    batch, layout = _stacked_batches(0)
    sizes = layout.layer_sizes(2)

    def mean_loss(params):
        total, count = 0.0, 0.0
        for index in range(8):
            sub = jax.tree.map(lambda x: x[index], batch)
            logits = nnx.merge(graphdef, params)(to_graphs_tuple(sub), sizes)
            mask = sub["loss_mask"][: logits.shape[0]]
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, sub["y"][: logits.shape[0]])
            total += jnp.sum(jnp.where(mask, losses, 0.0))
            count += mask.sum()
        return total / count

    expected = jax.jit(jax.grad(mean_loss))(params)
    mesh = create_data_mesh(4)
    tx, _ = create_optimizer(optim, total_steps=1)
    step_fn = make_train_step(graphdef, tx, sizes, mesh)
    before = jax.device_get(params)
    after, _, metrics = step_fn(replicate(params, mesh), replicate(tx.init(params), mesh),
                                shard_batch(batch, mesh), dropout_keys(0, 0, 8))
    assert float(metrics["labelled_seeds"]) == batch["loss_mask"].sum()
    np.testing.assert_allclose(float(metrics["loss"]), float(jax.jit(mean_loss)(params)), rtol=1e-5)
    for b, a, g in zip(jax.tree.leaves(before), jax.tree.leaves(jax.device_get(after)), jax.tree.leaves(expected)):
        np.testing.assert_allclose(b - a, g, rtol=1e-4, atol=1e-6)


def test_train_step_rejects_stack_not_divisible_by_devices():
    mesh = create_data_mesh(8)
    model = create_gnn(GNNModelConfig(name="sage_mean", hidden=8, num_layers=2), 5, NUM_CLASSES, seed=0)
    graphdef, params = nnx.split(model)
    tx = optax.sgd(0.1)
    batch, layout = _stacked_batches(0, count=4)
    step_fn = make_train_step(graphdef, tx, layout.layer_sizes(2), mesh)
    with pytest.raises(ValueError):
        step_fn(replicate(params, mesh), replicate(tx.init(params), mesh), shard_batch(batch, mesh), dropout_keys(0, 0, 4))

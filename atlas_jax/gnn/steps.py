"""Jitted train and eval steps of the GNN task, data-parallel over the `data` mesh axis.

A training batch is a stack of G padded sub-batches (leading axis G). The train
step runs under `jax.shard_map`. Each device of the `data` axis takes G / D
sub-batches and sums the masked cross-entropy of its seeds. The gradient sums are
added across devices and divided by the total count of labelled seeds. The result is
the gradient of the mean loss over all G sub-batches, whatever D is, so a run on
eight devices matches a run on one device that sees the same stacked batches (up to
float summation order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from atlas_jax.errors import ConfigError
from atlas_jax.gnn.batching import to_graphs_tuple
from atlas_jax.gnn.models import LayerSizes

DATA_AXIS = "data"


def create_data_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
    """Create a 1-D mesh over the `data` axis with `num_devices` devices (0: every local device).

    The axis is Auto-typed: the step body runs under `shard_map`, which states the
    per-device layout itself, so nothing relies on sharding propagation in types.
    """
    available = jax.local_device_count()
    count = available if num_devices <= 0 else num_devices
    if count > available:
        raise ConfigError(f"gnn.data_parallel={num_devices} devices requested, only {available} available")
    return jax.make_mesh((count,), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=jax.devices()[:count])


def _masked_sums(model: nnx.Module, batch: dict[str, jax.Array], layer_sizes: LayerSizes, key):
    """(sum of cross-entropy, labelled seeds, correct predictions) over one padded sub-batch."""
    logits = model(to_graphs_tuple(batch), layer_sizes, key=key)
    num_out = logits.shape[0]
    labels = batch["y"][:num_out]
    mask = batch["loss_mask"][:num_out].astype(jnp.float32)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return jnp.sum(losses * mask), jnp.sum(mask), jnp.sum(correct * mask)


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    layer_sizes: LayerSizes,
    mesh: jax.sharding.Mesh,
    on_trace: Callable[[], None] | None = None,
) -> Callable:
    """Build `step(params, opt_state, batch, keys) -> (params, opt_state, metrics)`, jitted.

    Args:
        graphdef: the model's structure from `nnx.split`.
        tx: the optax optimizer.
        layer_sizes: static per-layer sizes of the batch layout (None in full-graph mode).
        mesh: the `data` mesh; the stack size G of every batch must be divisible by its size.
        on_trace: called each time the step is traced, which is each time it compiles;
            tests and logs count compilations with it.

    `batch` leaves have a leading axis G, `keys` is uint32[G, 2] (one dropout key per
    sub-batch). `params` and `opt_state` are donated.
    """

    def sub_batch_sums(params, batch, keys):
        def one(sub_batch, key_data):
            model = nnx.merge(graphdef, params)
            return _masked_sums(model, sub_batch, layer_sizes, jax.random.wrap_key_data(key_data))

        loss, count, correct = jax.vmap(one)(batch, keys)
        return jnp.sum(loss), (jnp.sum(count), jnp.sum(correct))

    def step(params, opt_state, batch, keys):
        if on_trace is not None:
            on_trace()
        (loss, (count, correct)), grads = jax.value_and_grad(sub_batch_sums, has_aux=True)(params, batch, keys)
        # `params` enter replicated, so shard_map's autodiff already sums their gradient
        # over the data axis (the transpose of replicated -> per-device is a psum).
        loss, count, correct = jax.lax.psum((loss, count, correct), DATA_AXIS)
        denominator = jnp.maximum(count, 1.0)
        grads = jax.tree.map(lambda g: g / denominator, grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics = {
            "loss": loss / denominator,
            "accuracy": correct / denominator,
            "labelled_seeds": count,
            "grad_norm": optax.global_norm(grads),
        }
        return params, opt_state, metrics

    sharded = jax.shard_map(
        step,
        mesh=mesh,
        in_specs=(P(), P(), P(DATA_AXIS), P(DATA_AXIS)),
        out_specs=(P(), P(), P()),
    )
    return jax.jit(sharded, donate_argnums=(0, 1))


def make_predict_step(graphdef: nnx.GraphDef, layer_sizes: LayerSizes) -> Callable:
    """Build `predict(params, batch) -> int32[n_out]`, the argmax class of the first n_out nodes."""

    @jax.jit
    def predict(params, batch):
        model = nnx.merge(graphdef, params)
        logits = model(to_graphs_tuple(batch), layer_sizes)
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)

    return predict


def dropout_keys(seed: int, step: int, count: int) -> np.ndarray:
    """uint32[count, 2]: one dropout key per sub-batch of `step`, independent of the device count."""
    base = jax.random.fold_in(jax.random.key(seed), step)
    return np.asarray(jax.random.key_data(jax.random.split(base, count)))


def shard_batch(batch: dict[str, Any], mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
    """Place a stacked batch on the mesh, sub-batches split over the `data` axis."""
    sharding = NamedSharding(mesh, P(DATA_AXIS))
    return {key: jax.device_put(value, sharding) for key, value in batch.items()}


def replicate(tree: Any, mesh: jax.sharding.Mesh) -> Any:
    """Copy a pytree to every device of the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


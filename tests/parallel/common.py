"""Helpers shared by the parallel tests: a perturbed model, one reference step, error measures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from atlas_jax.parallel import ParallelContext, batch_sharding, jit_sharded, optimizer_shardings, shard_state, state_shardings

# Float32 tolerance for "equal to the single-device run": the largest absolute difference
# in a leaf, divided by that leaf's largest magnitude. Sharded sums add in another order,
# which moves float32 results by a few ulps (about 1e-7 relative).
RTOL = 1e-5


def perturb(model: nnx.Module, seed: int = 0, scale: float = 0.05) -> nnx.Module:
    """Add noise to every parameter, so zero-initialised heads and biases carry gradient."""
    graphdef, state = nnx.split(model)
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    leaves = [leaf + scale * jax.random.normal(key, leaf.shape) for leaf, key in zip(leaves, keys)]
    return nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves))


def make_step(graphdef, optimizer):
    """A train step returning (params, opt_state, loss, grads)."""

    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    return step


def run_step(ctx: ParallelContext | None, model: nnx.Module, x, y, optimizer=None):
    """Run one step, sharded on `ctx` (None: plain jit on one device); return host values.

    The default optimizer is SGD with momentum: its first update is `-lr * grad`, so the
    updated parameters are as well conditioned as the gradients. Adam's first update is
    `-lr * sign(grad)`, which flips on gradients that are zero up to rounding.
    """
    optimizer = optimizer or optax.sgd(0.1, momentum=0.9)
    graphdef, params = nnx.split(model)
    opt_state = optimizer.init(params)
    step = make_step(graphdef, optimizer)
    if ctx is None:
        out = jax.jit(step)(params, opt_state, x, y)
        return jax.device_get(out)
    p_sharding = state_shardings(ctx, params)
    o_sharding = optimizer_shardings(ctx, optimizer, params, p_sharding)
    x_sharding, y_sharding = batch_sharding(ctx, x.shape), batch_sharding(ctx, y.shape)
    replicated = NamedSharding(ctx.mesh, P())
    sharded = jit_sharded(
        step,
        ctx,
        in_shardings=(p_sharding, o_sharding, x_sharding, y_sharding),
        out_shardings=(p_sharding, o_sharding, replicated, p_sharding),
    )
    params, opt_state = shard_state(params, p_sharding), shard_state(opt_state, o_sharding)
    out = sharded(params, opt_state, jax.device_put(x, x_sharding), jax.device_put(y, y_sharding))
    return jax.device_get(out)


def relative_errors(actual, expected) -> dict[str, float]:
    """Max abs difference over max magnitude, per leaf path."""
    errors = {}
    flat_actual = jax.tree_util.tree_flatten_with_path(actual)[0]
    flat_expected = jax.tree.leaves(expected)
    assert len(flat_actual) == len(flat_expected)
    for (path, a), e in zip(flat_actual, flat_expected):
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        scale = max(np.abs(e).max(), 1e-30)
        errors[jax.tree_util.keystr(path)] = float(np.abs(a - e).max() / scale)
    return errors


def digits_batch(batch: int = 16, seed: int = 0):
    """A batch of random 8x8x1 images and labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(batch, 8, 8, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 10, size=(batch,)).astype(np.int32))
    return x, y

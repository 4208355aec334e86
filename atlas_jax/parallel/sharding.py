"""Shardings of model state, optimizer state and batches, and the jit wrapper that applies them."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from atlas_jax.parallel.context import ParallelContext, use_context

logger = logging.getLogger(__name__)


def is_variable(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def variable_names(variable: nnx.Variable) -> tuple[str | None, ...] | None:
    """Return the logical axis names stored in a Flax variable's `out_sharding`, or None."""
    names = variable.get_metadata().get("out_sharding")
    return None if names is None else tuple(names)


def unannotated_spec(ctx: ParallelContext, shape: tuple[int, ...]) -> P:
    """Split the largest dimension that `fsdp` divides, for parameters without logical names.

    The foundation CNN and MLP carry no logical names; this lets them train under FSDP all
    the same. Small parameters (biases below the axis size) stay replicated.
    """
    size = int(ctx.mesh.shape.get("fsdp", 1))
    if not ctx.fsdp_unannotated or size == 1 or not shape:
        return P()
    for dim in np.argsort(shape)[::-1]:
        if shape[dim] % size == 0 and shape[dim] >= size:
            return P(*([None] * int(dim) + ["fsdp"]))
    return P()


def array_spec(ctx: ParallelContext, shape: tuple[int, ...], names: tuple[str | None, ...] | None) -> P:
    """Return the spec of a parameter of `shape` with logical `names` (None: unannotated)."""
    if names is None:
        return unannotated_spec(ctx, shape)
    if len(names) != len(shape):
        raise ValueError(f"logical names {names} do not match parameter shape {shape}")
    return ctx.spec(names, shape)


def state_shardings(ctx: ParallelContext, state: Any) -> Any:
    """Return a tree like `state` (an `nnx.State`, abstract or concrete) with each value
    replaced by its `NamedSharding`, read from the variables' logical names.

    Non-parameter leaves that are not Flax variables are replicated.
    """

    def leaf_sharding(leaf):
        if is_variable(leaf):
            spec = array_spec(ctx, tuple(leaf.shape), variable_names(leaf))
            return leaf.replace(NamedSharding(ctx.mesh, spec))
        return NamedSharding(ctx.mesh, P())

    return jax.tree.map(leaf_sharding, state, is_leaf=is_variable)


def optimizer_shardings(
    ctx: ParallelContext, optimizer: optax.GradientTransformation, params: Any, param_shardings: Any
) -> Any:
    """Return shardings for `optimizer.init(params)`: each per-parameter buffer (Adam's moments,
    momentum) takes its parameter's sharding; scalars such as step counts are replicated.

    Args:
        params: the parameter tree, abstract (`jax.ShapeDtypeStruct` leaves) or concrete.
        param_shardings: `state_shardings(ctx, params)`.
    """
    abstract = jax.eval_shape(optimizer.init, params)
    replicated = NamedSharding(ctx.mesh, P())
    return optax.tree_map_params(
        optimizer,
        lambda _, sharding: sharding,
        abstract,
        param_shardings,
        transform_non_params=lambda _: replicated,
        is_leaf=lambda x: isinstance(x, NamedSharding),
    )


def batch_sharding(ctx: ParallelContext, shape: tuple[int, ...]) -> NamedSharding:
    """Return the sharding of a batch array: first axis over the `batch` mesh axes."""
    return ctx.sharding(("batch",) + (None,) * (len(shape) - 1), shape)


def jit_sharded(
    fn: Callable,
    ctx: ParallelContext,
    *,
    in_shardings: Any,
    out_shardings: Any,
    donate_argnums: tuple[int, ...] = (),
    static_argnums: tuple[int, ...] = (),
) -> Callable:
    """`jax.jit` of `fn` with explicit shardings, tracing `fn` inside `use_context(ctx)`.

    With both shardings None the result is a plain `jax.jit` (the one-device case).

    Entering the context at trace time ties the compiled function to `ctx`: models see this
    mesh, its rules, remat policy and pipeline settings however the caller is set up.
    """

    @functools.wraps(fn)
    def traced(*args, **kwargs):
        with use_context(ctx):
            return fn(*args, **kwargs)

    if in_shardings is None and out_shardings is None:
        # A one-device layout: plain jit, as code without a layout would compile.
        return jax.jit(traced, donate_argnums=donate_argnums, static_argnums=static_argnums)
    return jax.jit(
        traced,
        in_shardings=in_shardings,
        out_shardings=out_shardings,
        donate_argnums=donate_argnums,
        static_argnums=static_argnums,
    )


def shard_state(state: Any, shardings: Any) -> Any:
    """Place `state` on the mesh with `shardings` (a tree like `state`).

    Every process must pass the same values: each one copies out the shards of its own
    devices, which also works when the mesh spans several processes.
    """

    def put(value, sharding):
        host = np.asarray(jax.device_get(value))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    shardings = jax.tree.map(lambda v: v.get_value() if is_variable(v) else v, shardings, is_leaf=is_variable)
    values = jax.tree.map(lambda v: v.get_value() if is_variable(v) else v, state, is_leaf=is_variable)
    placed = jax.tree.map(put, values, shardings)
    return jax.tree.map(
        lambda v, new: v.replace(new) if is_variable(v) else new, state, placed, is_leaf=is_variable
    )


def bytes_per_device(tree: Any) -> dict[int, int]:
    """Return the bytes each device holds of the arrays in `tree` (by device id)."""
    totals: dict[int, int] = {}
    for leaf in jax.tree.leaves(tree):
        for shard in leaf.addressable_shards:
            totals[shard.device.id] = totals.get(shard.device.id, 0) + shard.data.nbytes
    return totals

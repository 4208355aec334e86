"""Pipeline parallelism over the `pipe` mesh axis with `jax.shard_map` and `ppermute`.

Layers are stacked along a leading axis of size `L = repeats * stages * chunk`. Layer `l`
belongs to repeat `l // (stages * chunk)` and stage `(l // chunk) % stages`, so a
microbatch that visits stages 0, 1, ..., S-1 once per repeat runs the layers in order.

Each tick every stage runs one chunk of layers on one work item, then passes its output to
the next stage with `ppermute`. Stage `s` works on item `i = t - s` at tick `t`; item `i` is
microbatch `i % M` on repeat `i // M`. With `repeats=1` this is GPipe: `M + S - 1` ticks, of
which each stage idles `S - 1`, a bubble of `(S-1)/(M+S-1)`. The circular schedule
(`repeats=R > 1`) gives each stage R chunks that are R times smaller. A run then takes
`M*R + S - 1` ticks that are R times shorter, so the bubble falls to `(S-1)/(M*R+S-1)`. The
last stage sends its output around the ring to stage 0, which holds it in a buffer until
that microbatch's next repeat starts; that needs `M >= S`.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

from atlas_jax.errors import ConfigError

PIPE_AXIS = "pipe"

# layer_fn(one layer's parameters, activations) -> activations of the same structure,
# shapes and dtypes. Activations are an array or a pytree of arrays with a batch axis first.
LayerFn = Callable[[Any, Any], Any]


def scan_layers(layer_fn: LayerFn, stacked: Any, x: Any) -> Any:
    """Run the stacked layers in sequence with `lax.scan` (no pipeline)."""

    def step(h, layer_params):
        return layer_fn(layer_params, h), None

    y, _ = lax.scan(step, x, stacked)
    return y


def check_pipeline_shapes(num_layers: int, batch: int, stages: int, microbatches: int, repeats: int) -> None:
    """Raise ConfigError when the layers or the batch do not split into the schedule."""
    if num_layers % (stages * repeats):
        raise ConfigError(
            f"{num_layers} layers do not split into {stages} pipeline stages x {repeats} repeats; "
            "choose a depth divisible by parallel.pipe * parallel.repeats"
        )
    if batch % microbatches:
        raise ConfigError(
            f"batch size {batch} does not split into parallel.microbatches={microbatches}; "
            "choose a batch size divisible by the microbatch count"
        )
    if repeats > 1 and microbatches < stages:
        raise ConfigError(
            f"the circular schedule needs parallel.microbatches >= parallel.pipe, got "
            f"{microbatches} microbatches for {stages} stages; a microbatch would return to "
            "stage 0 before its previous repeat had left the last stage"
        )


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda u, v: jnp.where(pred, u, v), a, b)


def _index(tree: Any, i: jax.Array) -> Any:
    return jax.tree.map(lambda a: lax.dynamic_index_in_dim(a, i, 0, keepdims=False), tree)


def _update(tree: Any, value: Any, i: jax.Array) -> Any:
    return jax.tree.map(lambda a, v: lax.dynamic_update_index_in_dim(a, v, i, 0), tree, value)


def pipeline_layers(
    layer_fn: LayerFn,
    stacked: Any,
    x: Any,
    *,
    mesh: Mesh,
    microbatches: int,
    repeats: int = 1,
    batch_spec: Any = None,
    return_schedule: bool = False,
) -> Any:
    """Run stacked layers as a pipeline over the `pipe` axis of `mesh`.

    Only `pipe` is manual inside the stages. The other mesh axes stay automatic, so the
    data and tensor sharding of activations and parameters carries into each stage.

    Args:
        layer_fn: applies one layer.
        stacked: parameters with a leading layer axis of size `L`.
        x: activations, an array `[batch, ...]` or a pytree of such arrays.
        mesh: a mesh with a `pipe` axis.
        microbatches: M; the batch splits into M interleaved microbatches.
        repeats: R; 1 for GPipe, > 1 for the circular schedule.
        batch_spec: mesh axes of each microbatch's batch dimension, or None.
        return_schedule: also return the busy table.

    Returns:
        The activations after all layers, shaped like `x`. With `return_schedule`, also
        `busy: bool[stages, ticks]`, true where a stage worked on a real item.

    Raises:
        ConfigError: the layers or the batch do not split into the schedule.
    """
    stages = int(mesh.shape[PIPE_AXIS])
    num_layers = jax.tree.leaves(stacked)[0].shape[0]
    batch = jax.tree.leaves(x)[0].shape[0]
    check_pipeline_shapes(num_layers, batch, stages, microbatches, repeats)
    chunk = num_layers // (stages * repeats)
    items = microbatches * repeats
    ticks = items + stages - 1

    # [L, ...] -> [R, S, chunk, ...], with S split over the pipe axis. Layers stored in
    # contiguous blocks over pipe (the `layers` rule) reshape without moving for GPipe.
    # NOTE: with repeats > 1 a stage's layers are not one contiguous block, so GSPMD moves
    # (R-1)/R of the layer parameters between stages on every call.
    params = jax.tree.map(lambda p: p.reshape(repeats, stages, chunk, *p.shape[1:]), stacked)

    # Microbatch m takes rows m, m + M, m + 2M, ...: each microbatch keeps the batch
    # sharding over the data axes instead of landing on a subset of devices.
    def split(a):
        a = a.reshape(batch // microbatches, microbatches, *a.shape[1:]).swapaxes(0, 1)
        return lax.with_sharding_constraint(a, P(None, batch_spec))

    xs = jax.tree.map(split, x)

    def run_stage(params, xs):
        stage = lax.axis_index(PIPE_AXIS)
        params = jax.tree.map(lambda p: p[:, 0], params)  # [R, chunk, ...] of this stage
        zeros = jax.tree.map(lambda a: jnp.zeros_like(a[0]), xs)
        ring = [(j, (j + 1) % stages) for j in range(stages)]
        forward = ring if repeats > 1 else ring[:-1]

        def tick(carry, t):
            received, buffer, outputs = carry
            item = t - stage
            busy = (item >= 0) & (item < items)
            item = jnp.clip(item, 0, items - 1)
            repeat, micro = item // microbatches, item % microbatches

            # Stage 0 starts a microbatch from the input (first repeat) or from the buffer
            # of outputs that came round the ring. Later stages take what they received.
            start = _index(xs, micro)
            if repeats > 1:
                start = _select(repeat == 0, start, _index(buffer, micro))
            h = _select(stage == 0, start, received)
            y = scan_layers(layer_fn, _index(params, repeat), h)
            y = _select(busy, y, zeros)

            done = busy & (stage == stages - 1) & (repeat == repeats - 1)
            outputs = _update(outputs, _select(done, y, _index(outputs, micro)), micro)
            received = jax.tree.map(lambda a: lax.ppermute(a, PIPE_AXIS, forward), y)

            if repeats > 1:
                # What stage 0 received this tick left the last stage as item t - (S-1).
                came = t - (stages - 1)
                came_micro = jnp.clip(came, 0, items - 1) % microbatches
                keep = (stage == 0) & (came >= 0) & (came < items)
                buffer = _update(buffer, _select(keep, received, _index(buffer, came_micro)), came_micro)
            return (received, buffer, outputs), busy

        buffer = jax.tree.map(jnp.zeros_like, xs) if repeats > 1 else jnp.zeros((), jnp.float32)
        init = (zeros, buffer, jax.tree.map(jnp.zeros_like, xs))
        # The carry differs between stages, so its initial value is marked varying over pipe.
        init = jax.tree.map(lambda a: lax.pcast(a, PIPE_AXIS, to="varying"), init)
        (_, _, outputs), busy = lax.scan(tick, init, jnp.arange(ticks))

        # Only the last stage has the results, so the sum over stages copies them to every stage.
        last = stage == stages - 1
        outputs = jax.tree.map(lambda a: lax.psum(jnp.where(last, a, jnp.zeros_like(a)), PIPE_AXIS), outputs)
        return outputs, busy[None]

    param_specs = jax.tree.map(lambda _: P(None, PIPE_AXIS), params)
    staged = jax.shard_map(
        run_stage,
        mesh=mesh,
        in_specs=(param_specs, P()),
        out_specs=(P(), P(PIPE_AXIS)),
        axis_names={PIPE_AXIS},
    )
    ys, busy = staged(params, xs)
    y = jax.tree.map(lambda a, ref: a.swapaxes(0, 1).reshape(ref.shape), ys, x)
    return (y, busy) if return_schedule else y


def bubble_fraction(stages: int, microbatches: int, repeats: int = 1) -> float:
    """Return the theoretical idle share of stage-ticks, `(S-1) / (M*R + S-1)`."""
    return (stages - 1) / (microbatches * repeats + stages - 1)

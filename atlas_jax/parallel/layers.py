"""Run a model's stacked layers under the active layout: remat per layer, scan or pipeline."""

from __future__ import annotations

from typing import Any

import jax

from atlas_jax.parallel.context import current_context
from atlas_jax.parallel.pipeline import LayerFn, pipeline_layers, scan_layers
from atlas_jax.parallel.remat import with_remat


def apply_layers(layer_fn: LayerFn, stacked: Any, x: jax.Array) -> jax.Array:
    """Apply stacked layers to `x`: a pipeline when the mesh has `pipe > 1`, else a scan.

    Args:
        layer_fn: applies one layer, `layer_fn(params, x) -> x`.
        stacked: parameters with a leading layer axis.
        x: activations, an array `[batch, ...]` or a pytree of such arrays.
    """
    ctx = current_context()
    if ctx is None:
        return scan_layers(layer_fn, stacked, x)
    layer_fn = with_remat(layer_fn, ctx.remat, ctx.remat_names)
    if ctx.stages == 1:
        return scan_layers(layer_fn, stacked, x)
    leaf = jax.tree.leaves(x)[0]
    batch_axes = ctx.spec(("batch",), (leaf.shape[0] // ctx.microbatches,))
    return pipeline_layers(
        layer_fn,
        stacked,
        x,
        mesh=ctx.mesh,
        microbatches=ctx.microbatches,
        repeats=ctx.repeats,
        batch_spec=batch_axes[0] if len(batch_axes) else None,
    )

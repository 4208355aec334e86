"""Tree arrays and jitted batch prediction.

A tree is a set of flat node arrays. Node 0 is the root; an internal node sends a
row to `left` when its feature value is <= `threshold` (or, for a missing value,
when `default_left`), else to `right`. Unused node slots are leaves that no row
reaches. An ensemble stacks trees on a leading axis; with `outputs` outputs,
tree i adds to output i % outputs.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from atlas_jax.kernels.gbdt_histogram import resolve_backend
from atlas_jax.kernels.gbdt_predict import NODE_FIELDS
from atlas_jax.kernels.gbdt_predict import predict as predict_ensemble

PREDICT_BATCH = 262_144  # rows per jitted prediction call; bounds the reference walk's [rows, trees] arrays


class Trees(NamedTuple):
    """Node arrays of one tree ([nodes]) or of an ensemble ([trees, nodes])."""

    feature: jax.Array  # int32 split feature, -1 at leaves
    bin: jax.Array  # int32 split bin t: bin codes 1..t go left
    threshold: float | jax.Array  # float32 split value: values <= threshold go left
    default_left: jax.Array  # bool: missing values go left
    left: jax.Array  # int32 left child, -1 at leaves
    right: jax.Array  # int32 right child, -1 at leaves
    is_leaf: jax.Array  # bool
    value: jax.Array  # float32 leaf value (learning rate applied); also set on internal nodes
    gain: jax.Array  # float32 loss reduction of the split, 0 at leaves
    cover: jax.Array  # float32 hessian sum of the training rows in the node


def empty_trees(num_nodes: int) -> Trees:
    """Create one tree of `num_nodes` leaf slots, none split yet."""
    minus_one = jnp.full((num_nodes,), -1, jnp.int32)
    zeros = jnp.zeros((num_nodes,), jnp.float32)
    return Trees(
        feature=minus_one,
        bin=jnp.zeros((num_nodes,), jnp.int32),
        threshold=zeros,
        default_left=jnp.zeros((num_nodes,), bool),
        left=minus_one,
        right=minus_one,
        is_leaf=jnp.ones((num_nodes,), bool),
        value=zeros,
        gain=zeros,
        cover=zeros,
    )


def tree_depth(trees: Trees) -> int:
    """Depth of the deepest leaf over all trees (0 for stumps that never split)."""
    left = np.asarray(trees.left).reshape(-1, np.shape(trees.left)[-1])
    right = np.asarray(trees.right).reshape(left.shape)
    depth = 0
    for t in range(left.shape[0]):
        frontier, level = [0], 0
        while frontier:
            children = [c for n in frontier for c in (left[t, n], right[t, n]) if c >= 0]
            if children:
                level += 1
            frontier = children
        depth = max(depth, level)
    return depth


def _walk_binned(trees: Trees, codes: jax.Array, steps: int) -> jax.Array:
    """Leaf index of every row in every tree, int32[rows, trees], splitting bin codes on `trees.bin`."""
    rows, num_trees = codes.shape[0], trees.feature.shape[0]
    tree_index = jnp.arange(num_trees)[None, :]

    def step(_, node):
        feature = jnp.maximum(trees.feature[tree_index, node], 0)
        code = jnp.take_along_axis(codes, feature, axis=1).astype(jnp.int32)
        go_left = jnp.where(code == 0, trees.default_left[tree_index, node], code <= trees.bin[tree_index, node])
        child = jnp.where(go_left, trees.left[tree_index, node], trees.right[tree_index, node])
        return jnp.where(trees.is_leaf[tree_index, node], node, child)

    return jax.lax.fori_loop(0, steps, step, jnp.zeros((rows, num_trees), jnp.int32))


@functools.partial(jax.jit, static_argnames=("steps", "outputs", "binned", "backend"))
def predict_margin_batch(
    trees: Trees,
    x: jax.Array,
    base_margin: jax.Array,
    steps: int,
    outputs: int,
    binned: bool = False,
    backend: str = "auto",
) -> jax.Array:
    """Margins of one batch.

    Args:
        trees: ensemble, arrays [trees, nodes]; the tree count is a multiple of `outputs`.
        x: float32[rows, features] values (NaN = missing), or uint8 bin codes when `binned`.
        base_margin: float32[outputs] starting margin.
        steps: walk length, at least the depth of the deepest tree.
        outputs: margins per row.
        binned: `x` contains bin codes and splits compare against `trees.bin` (pure JAX).
        backend: prediction kernel for float input: auto, cpp or jax (`atlas_jax.kernels.gbdt_predict`).

    Returns:
        float32[rows, outputs].
    """
    rows, num_trees = x.shape[0], trees.feature.shape[0]
    if binned:
        node = _walk_binned(trees, x, steps)
        leaf = trees.value[jnp.arange(num_trees)[None, :], node]
        return base_margin[None, :] + leaf.reshape(rows, num_trees // outputs, outputs).sum(axis=1)
    nodes = {name: getattr(trees, name) for name in NODE_FIELDS}
    return base_margin[None, :] + predict_ensemble(x, nodes, outputs, steps, backend)


def predict_margin(
    trees: Trees, x: np.ndarray, base_margin: np.ndarray, steps: int, outputs: int, batch: int = PREDICT_BATCH
) -> np.ndarray:
    """Margins of all rows, float32[rows, outputs], in fixed-size batches so one compile serves every batch."""
    rows = x.shape[0]
    if trees.feature.shape[0] == 0 or rows == 0:
        return np.broadcast_to(np.asarray(base_margin, np.float32), (rows, outputs)).copy()
    batch = min(batch, max(rows, 1))
    backend = resolve_backend("auto", jax.devices()[0].platform)
    out = np.empty((rows, outputs), np.float32)
    base = jnp.asarray(base_margin, jnp.float32)
    for start in range(0, rows, batch):
        chunk = x[start : start + batch]
        size = chunk.shape[0]
        if size < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - size,) + chunk.shape[1:], chunk.dtype)])
        margin = predict_margin_batch(trees, jnp.asarray(chunk), base, steps=steps, outputs=outputs, backend=backend)
        out[start : start + size] = np.asarray(margin)[:size]
    return out

"""Growing one tree from gradients, on the rows of one shard.

Both growth policies run inside `jax.shard_map` with rows sharded over a mesh
axis: every histogram is summed over that axis (`psum`, the counterpart of
XGBoost's allreduce) before any split is chosen, so each device picks the same
splits and builds the same tree. With `axis_name=None` the same code runs on one
device. Shapes are static: depth-wise growth unrolls a fixed number of levels
(each level has its own node count), and leaf-wise growth loops over a fixed
node budget.

Histogram subtraction: for each split node only the child with the smaller
hessian sum is built from rows. Its sibling's histogram is the parent's minus it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from atlas_jax.boosting.split import SplitParams, Splits, accept, find_splits, leaf_value
from atlas_jax.boosting.tree import Trees, empty_trees
from atlas_jax.kernels.gbdt_histogram import histogram


class GrowSettings(NamedTuple):
    """Static settings of tree growth (hashable, so jit can specialise on them)."""

    params: SplitParams
    num_bins: int  # histogram width, missing-value bin included
    max_depth: int  # depth-wise: levels; leaf-wise: depth limit, 0 = none
    max_leaves: int  # leaf-wise only
    backend: str  # histogram and split kernels: auto, cpp or jax
    axis_name: str | None  # mesh axis the rows are sharded over, None on one device


class FeatureInfo(NamedTuple):
    """Per-feature arrays shared by every device."""

    mask: jax.Array  # bool[features]: features this tree may split on
    value_bins: jax.Array  # int32[features]
    edges: jax.Array  # float32[features, num_bins - 1]: threshold of split bin t at [f, t - 1]


def _all_sum(x: jax.Array, settings: GrowSettings) -> jax.Array:
    return x if settings.axis_name is None else jax.lax.psum(x, settings.axis_name)


def _build(bins, grad, hess, slot, num_slots: int, settings: GrowSettings) -> jax.Array:
    hist = histogram(bins, grad, hess, slot, num_slots, settings.num_bins, settings.backend)
    return _all_sum(hist, settings)


def _goes_left(codes: jax.Array, split_bin: jax.Array, default_left: jax.Array) -> jax.Array:
    codes = codes.astype(jnp.int32)
    return jnp.where(codes == 0, default_left, codes <= split_bin)


def _set_split(tree: Trees, nodes, splits: Splits, do_split, left, right, features: FeatureInfo) -> Trees:
    """Write the splits (where `do_split`) of `nodes` into `tree`."""
    threshold = features.edges[splits.feature, jnp.maximum(splits.bin - 1, 0)]
    return tree._replace(
        feature=tree.feature.at[nodes].set(jnp.where(do_split, splits.feature, -1)),
        bin=tree.bin.at[nodes].set(jnp.where(do_split, splits.bin, 0)),
        threshold=tree.threshold.at[nodes].set(jnp.where(do_split, threshold, 0.0)),
        default_left=tree.default_left.at[nodes].set(do_split & splits.default_left),
        left=tree.left.at[nodes].set(jnp.where(do_split, left, -1)),
        right=tree.right.at[nodes].set(jnp.where(do_split, right, -1)),
        is_leaf=tree.is_leaf.at[nodes].set(~do_split),
        gain=tree.gain.at[nodes].set(jnp.where(do_split, splits.gain, 0.0)),
    )


def grow_depthwise(
    bins: jax.Array,
    grad: jax.Array,
    hess: jax.Array,
    sampled: jax.Array,
    features: FeatureInfo,
    settings: GrowSettings,
) -> tuple[Trees, jax.Array]:
    """Grow one tree level by level to `settings.max_depth`.

    Args:
        bins: uint8[rows, features] bin codes of this shard.
        grad: float32[rows] gradients, 0 for rows not sampled.
        hess: float32[rows] hessians, 0 for rows not sampled.
        sampled: bool[rows], rows that contribute to the histograms.
        features: per-feature arrays.
        settings: static settings.

    Returns:
        The tree in heap order (children of node i are 2i+1 and 2i+2), and
        int32[rows]: the leaf each row of the shard lands in, sampled or not.
    """
    depth, params = settings.max_depth, settings.params
    tree = empty_trees(2 ** (depth + 1) - 1)
    pos = jnp.zeros(bins.shape[0], jnp.int32)

    hist = _build(bins, grad, hess, jnp.where(sampled, 0, -1), 1, settings)
    node_grad = _all_sum(jnp.sum(grad), settings)[None]
    node_hess = _all_sum(jnp.sum(hess), settings)[None]
    active = jnp.ones((1,), bool)

    for level in range(depth + 1):
        width, offset = 2**level, 2**level - 1
        nodes = slice(offset, offset + width)  # static slices update cheaper than scatters
        node_ids = offset + jnp.arange(width)
        tree = tree._replace(
            value=tree.value.at[nodes].set(jnp.where(active, leaf_value(node_grad, node_hess, params), 0.0)),
            cover=tree.cover.at[nodes].set(jnp.where(active, node_hess, 0.0)),
        )
        if level == depth:
            break

        # Choose and record this level's splits.
        splits = find_splits(hist, features.mask, features.value_bins, params, settings.backend)
        do_split = active & accept(splits, params)
        tree = _set_split(tree, nodes, splits, do_split, 2 * node_ids + 1, 2 * node_ids + 2, features)

        # Route the rows of split nodes to their children.
        local = jnp.clip(pos - offset, 0, width - 1)
        moves = (pos >= offset) & (pos < offset + width) & do_split[local]
        codes = jnp.take_along_axis(bins, splits.feature[local][:, None], axis=1)[:, 0]
        left = _goes_left(codes, splits.bin[local], splits.default_left[local])
        pos = jnp.where(moves, 2 * pos + jnp.where(left, 1, 2), pos)

        active = jnp.repeat(do_split, 2)
        node_grad = jnp.stack([splits.left_grad, splits.right_grad], axis=1).reshape(-1)
        node_hess = jnp.stack([splits.left_hess, splits.right_hess], axis=1).reshape(-1)
        if level + 1 == depth:
            continue

        # Next level's histograms: build the smaller child of each split, subtract for its sibling.
        left_smaller = splits.left_hess <= splits.right_hess
        child = pos - (2 * width - 1)
        parent = jnp.clip(child // 2, 0, width - 1)
        in_next = (child >= 0) & (child < 2 * width)
        take = in_next & sampled & do_split[parent] & ((child % 2 == 0) == left_smaller[parent])
        built = _build(bins, grad, hess, jnp.where(take, parent, -1), width, settings)
        sibling = hist - built
        chosen = left_smaller[:, None, None, None]
        hist = jnp.stack([jnp.where(chosen, built, sibling), jnp.where(chosen, sibling, built)], axis=1)
        hist = hist.reshape((2 * width,) + hist.shape[2:])

    return tree, pos


class _LeafwiseState(NamedTuple):
    splits_done: jax.Array  # int32 scalar
    pos: jax.Array  # int32[rows] node of each row
    tree: Trees
    depth: jax.Array  # int32[nodes]
    hist: jax.Array  # float32[nodes, features, bins, 2], kept for leaves
    candidate: Splits  # best split of each leaf; gain -inf where none is allowed


def grow_leafwise(
    bins: jax.Array,
    grad: jax.Array,
    hess: jax.Array,
    sampled: jax.Array,
    features: FeatureInfo,
    settings: GrowSettings,
) -> tuple[Trees, jax.Array]:
    """Grow one tree by always splitting the leaf of largest gain, up to `settings.max_leaves` leaves.

    Arguments and returns as for `grow_depthwise`; nodes are numbered in the order
    they are created, and `settings.max_depth` > 0 also limits the depth.
    """
    params, max_leaves, max_depth = settings.params, settings.max_leaves, settings.max_depth
    num_nodes = 2 * max_leaves - 1

    def allowed(splits: Splits, depth: jax.Array) -> Splits:
        ok = accept(splits, params)
        if max_depth > 0:
            ok &= depth < max_depth
        return splits._replace(gain=jnp.where(ok, splits.gain, -jnp.inf))

    root_hist = _build(bins, grad, hess, jnp.where(sampled, 0, -1), 1, settings)
    root_grad = _all_sum(jnp.sum(grad), settings)
    root_hess = _all_sum(jnp.sum(hess), settings)
    tree = empty_trees(num_nodes)
    tree = tree._replace(
        value=tree.value.at[0].set(leaf_value(root_grad, root_hess, params)),
        cover=tree.cover.at[0].set(root_hess),
    )
    depth = jnp.zeros((num_nodes,), jnp.int32)
    root_split = allowed(find_splits(root_hist, features.mask, features.value_bins, params, settings.backend), depth[:1])
    candidate = jax.tree.map(
        lambda field, first: jnp.zeros((num_nodes,), field.dtype).at[0].set(first[0]), root_split, root_split
    )
    candidate = candidate._replace(gain=jnp.full((num_nodes,), -jnp.inf).at[0].set(root_split.gain[0]))
    hist = jnp.zeros((num_nodes,) + root_hist.shape[1:], jnp.float32).at[0].set(root_hist[0])
    pos = jnp.zeros(bins.shape[0], jnp.int32)
    if settings.axis_name is not None:
        pos = jax.lax.pcast(pos, (settings.axis_name,), to="varying")  # row positions differ per shard
    state = _LeafwiseState(jnp.int32(0), pos, tree, depth, hist, candidate)

    def keep_going(state: _LeafwiseState) -> jax.Array:
        return (state.splits_done < max_leaves - 1) & (jnp.max(state.candidate.gain) > -jnp.inf)

    def split_best_leaf(state: _LeafwiseState) -> _LeafwiseState:
        cand = state.candidate
        leaf = jnp.argmax(cand.gain)
        left, right = 1 + 2 * state.splits_done, 2 + 2 * state.splits_done
        best = jax.tree.map(lambda a: a[leaf][None], cand)
        tree = _set_split(state.tree, leaf[None], best, jnp.ones((1,), bool), left[None], right[None], features)
        children = jnp.stack([left, right])
        child_grad = jnp.concatenate([best.left_grad, best.right_grad])
        child_hess = jnp.concatenate([best.left_hess, best.right_hess])
        tree = tree._replace(
            value=tree.value.at[children].set(leaf_value(child_grad, child_hess, params)),
            cover=tree.cover.at[children].set(child_hess),
        )
        depth = state.depth.at[children].set(state.depth[leaf] + 1)

        # Route the leaf's rows to its children.
        codes = jax.lax.dynamic_index_in_dim(bins, best.feature[0], axis=1, keepdims=False)
        goes_left = _goes_left(codes, best.bin[0], best.default_left[0])
        pos = jnp.where(state.pos == leaf, jnp.where(goes_left, left, right), state.pos)

        # Histograms of both children from one pass over the smaller one's rows.
        left_smaller = best.left_hess[0] <= best.right_hess[0]
        small = jnp.where(left_smaller, left, right)
        built = _build(bins, grad, hess, jnp.where(sampled & (pos == small), 0, -1), 1, settings)[0]
        sibling = state.hist[leaf] - built
        left_hist = jnp.where(left_smaller, built, sibling)
        right_hist = jnp.where(left_smaller, sibling, built)
        hist = state.hist.at[left].set(left_hist).at[right].set(right_hist)

        splits = find_splits(
            jnp.stack([left_hist, right_hist]), features.mask, features.value_bins, params, settings.backend
        )
        splits = allowed(splits, depth[children])
        candidate = jax.tree.map(lambda field, new: field.at[children].set(new), cand, splits)
        candidate = candidate._replace(gain=candidate.gain.at[leaf].set(-jnp.inf))
        return _LeafwiseState(state.splits_done + 1, pos, tree, depth, hist, candidate)

    state = jax.lax.while_loop(keep_going, split_best_leaf, state)
    return state.tree, state.pos

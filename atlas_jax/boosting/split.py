"""Split choice and leaf values of one tree node.

The split search itself (gain formula, validity, tie-breaking) is the kernel in
`atlas_jax.kernels.gbdt_split`. This module names its outputs and applies
`gamma`, the minimum gain and the learning rate.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from atlas_jax.kernels.gbdt_split import best_split

# A split must gain more than this; XGBoost uses the same floor (kRtEps = 1e-6).
MIN_GAIN = 1e-6


class SplitParams(NamedTuple):
    """Regularisation of split finding and leaf values."""

    reg_lambda: float
    gamma: float
    min_child_weight: float
    learning_rate: float


class Splits(NamedTuple):
    """Best split of each of `nodes` nodes; every field is an array of shape [nodes]."""

    gain: jax.Array  # float32, -inf where no valid split exists
    feature: jax.Array  # int32
    bin: jax.Array  # int32 t: bins 1..t go left
    default_left: jax.Array  # bool: where missing values go
    left_grad: jax.Array  # float32 gradient sum of the left child
    left_hess: jax.Array  # float32 hessian sum of the left child
    right_grad: jax.Array
    right_hess: jax.Array


def leaf_value(grad_sum: jax.Array, hess_sum: jax.Array, params: SplitParams) -> jax.Array:
    """Newton step of a leaf, shrunk by the learning rate."""
    return -params.learning_rate * grad_sum / (hess_sum + params.reg_lambda)


def find_splits(
    hist: jax.Array, feature_mask: jax.Array, value_bins: jax.Array, params: SplitParams, backend: str = "auto"
) -> Splits:
    """Find the best split of each node.

    Args:
        hist: float32[nodes, features, bins, 2] (gradient, hessian) sums; bin 0 is missing values.
        feature_mask: bool[features], False for features this tree may not split on.
        value_bins: int32[features], value bins of each feature; splits at t >= value_bins are invalid.
        params: regularisation.
        backend: split kernel, auto, cpp or jax (see `atlas_jax.kernels.gbdt_split`).

    Returns:
        The best split per node; ties go to the lowest feature, then bin, then missing values left.
    """
    sums, choice = best_split(hist, feature_mask, value_bins, params.reg_lambda, params.min_child_weight, backend)
    return Splits(
        gain=sums[:, 0],
        feature=choice[:, 0],
        bin=choice[:, 1],
        default_left=choice[:, 2] == 1,
        left_grad=sums[:, 1],
        left_hess=sums[:, 2],
        right_grad=sums[:, 3],
        right_hess=sums[:, 4],
    )


def accept(splits: Splits, params: SplitParams) -> jax.Array:
    """bool[nodes]: which splits clear `gamma` and the minimum gain."""
    return (splits.gain > params.gamma) & (splits.gain > MIN_GAIN)

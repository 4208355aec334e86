"""Best split of each node from its gradient/hessian histogram.

The gain of a split follows XGBoost's second-order formula without the 1/2 factor:

    gain = G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)

A split at bin t sends value bins 1..t left and the rest right; missing values
(bin 0) go to whichever side gains more. A split is valid when both children
have hessian sums above 0 and at least `min_child_weight`, t < value_bins[f],
and feature f is in the mask. Ties go to the lowest feature, then the lowest t,
then missing values going left, so every device picks the same split.

Two implementations with one contract: `best_split_cpp` (C++ FFI kernel in
`gbdt_split.cc`, float64 sums, CPU only) and `best_split_reference` (pure JAX,
float32, any backend). Both return

    sums:   float32[nodes, 5] = (gain, left_grad, left_hess, right_grad, right_hess)
    choice: int32[nodes, 3]   = (feature, bin t, default_left as 0/1)

with gain -inf where a node has no valid split.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from atlas_jax.kernels.gbdt_histogram import BACKENDS, SPLIT_FFI_TARGET, cpp_available


def best_split_reference(
    hist: jax.Array, feature_mask: jax.Array, value_bins: jax.Array, reg_lambda: float, min_child_weight: float
) -> tuple[jax.Array, jax.Array]:
    """Find each node's best split in pure JAX.

    Args:
        hist: float32[nodes, features, bins, 2] (gradient, hessian) sums; bin 0 is missing values.
        feature_mask: bool[features], False for features that may not be split on.
        value_bins: int32[features], value bins of each feature.
        reg_lambda: L2 penalty on leaf values.
        min_child_weight: minimum hessian sum of each child.

    Returns:
        (sums, choice) as described in the module docstring.
    """
    grad, hess = hist[..., 0], hist[..., 1]
    missing_grad, missing_hess = grad[..., :1], hess[..., :1]
    cuts = grad.shape[-1] - 1
    # Prefix sums over value bins as one matmul with an upper-triangular matrix:
    # XLA's CPU cumsum is a quadratic reduce-window that is slower to run and compile.
    upper = jnp.triu(jnp.ones((cuts, cuts), jnp.float32))
    left_grad = jnp.matmul(grad[..., 1:], upper, precision=jax.lax.Precision.HIGHEST)
    left_hess = jnp.matmul(hess[..., 1:], upper, precision=jax.lax.Precision.HIGHEST)
    total_grad = left_grad[..., -1:] + missing_grad
    total_hess = left_hess[..., -1:] + missing_hess

    # Last axis: missing values left (0) or right (1).
    left_grad = jnp.stack([left_grad + missing_grad, left_grad], axis=-1)
    left_hess = jnp.stack([left_hess + missing_hess, left_hess], axis=-1)
    right_grad = total_grad[..., None] - left_grad
    right_hess = total_hess[..., None] - left_hess
    parent = (total_grad**2 / (total_hess + reg_lambda))[..., None]
    gain = left_grad**2 / (left_hess + reg_lambda) + right_grad**2 / (right_hess + reg_lambda) - parent

    nodes = gain.shape[0]
    threshold = jnp.arange(1, cuts + 1, dtype=jnp.int32)
    valid = (left_hess >= min_child_weight) & (right_hess >= min_child_weight)
    valid &= (left_hess > 0) & (right_hess > 0)
    valid &= (threshold[None, :] < value_bins[:, None])[None, :, :, None]
    valid &= feature_mask[None, :, None, None]
    gain = jnp.where(valid, gain, -jnp.inf)

    flat = gain.reshape(nodes, -1)
    best = jnp.argmax(flat, axis=1)
    feature, rest = jnp.divmod(best, cuts * 2)
    cut, side = jnp.divmod(rest, 2)
    rows = jnp.arange(nodes)
    sums = jnp.stack(
        [flat[rows, best]] + [a.reshape(nodes, -1)[rows, best] for a in (left_grad, left_hess, right_grad, right_hess)],
        axis=1,
    )
    choice = jnp.stack([feature, cut + 1, (side == 0).astype(jnp.int32)], axis=1).astype(jnp.int32)
    return sums, choice


def best_split_cpp(
    hist: jax.Array, feature_mask: jax.Array, value_bins: jax.Array, reg_lambda: float, min_child_weight: float
) -> tuple[jax.Array, jax.Array]:
    """Find each node's best split with the C++ FFI kernel (CPU); same contract as the reference.

    Raises:
        RuntimeError: the extension module was not built into this installation.
    """
    if not cpp_available():
        raise RuntimeError(
            "the C++ GBDT split kernel is not built (atlas_jax.kernels._gbdt_kernels is missing); "
            "reinstall atlas_jax with `pip install .`, or use backend='jax'"
        )
    nodes = hist.shape[0]
    out = (jax.ShapeDtypeStruct((nodes, 5), jnp.float32), jax.ShapeDtypeStruct((nodes, 3), jnp.int32))
    call = jax.ffi.ffi_call(SPLIT_FFI_TARGET, out, vmap_method="sequential")
    sums, choice = call(
        hist.astype(jnp.float32),
        feature_mask.astype(bool),
        value_bins.astype(jnp.int32),
        reg_lambda=np.float32(reg_lambda),
        min_child_weight=np.float32(min_child_weight),
    )
    # Inside shard_map, keep the inputs' variance over mesh axes (see histogram_cpp).
    varying = tuple(jax.typeof(hist).manual_axis_type.varying)
    if varying:
        sums, choice = (jax.lax.pcast(a, varying, to="varying") for a in (sums, choice))
    return sums, choice


def best_split(
    hist: jax.Array,
    feature_mask: jax.Array,
    value_bins: jax.Array,
    reg_lambda: float,
    min_child_weight: float,
    backend: str = "auto",
) -> tuple[jax.Array, jax.Array]:
    """Find each node's best split with the kernel named by `backend` (auto: C++ on CPU when built)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown split backend '{backend}'; valid backends: {', '.join(BACKENDS)}")
    args = (hist, feature_mask, value_bins)
    reference = functools.partial(best_split_reference, reg_lambda=reg_lambda, min_child_weight=min_child_weight)
    fast = functools.partial(best_split_cpp, reg_lambda=reg_lambda, min_child_weight=min_child_weight)
    if backend == "jax" or (backend == "auto" and not cpp_available()):
        return reference(*args)
    if backend == "cpp":
        return fast(*args)
    return jax.lax.platform_dependent(*args, cpu=fast, default=reference)

"""Stride-1 SAME 2-D convolution that avoids a slow XLA:CPU case on small feature maps.

Deep layers of small-image networks often have a kernel at least as large as the feature map,
such as a 5x5 kernel on a 4x4 map. Most of each window then lies in the padding, and XLA:CPU's
convolution runs far below its usual speed. Take the NAS study's shapes: batch 64, 4x4x16
maps, 5x5 kernels and 16 output channels. There it took 1.3 ms forward and 3.8 ms forward
plus backward, against 0.27 ms and 0.66 ms for the same convolution written as one matrix
product over the window offsets (docs/benchmarks.md, "Small-map convolution"). On larger
maps XLA's convolution is faster, and on GPU or TPU it is always used.

`conv_general_dilated` is a drop-in for `jax.lax.conv_general_dilated` that takes the matrix
product path only where it helps; pass it to `nnx.Conv(..., conv_general_dilated=...)`.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")
_NHWC_SPECS = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def prefers_patches(height: int, width: int, kernel_h: int, kernel_w: int) -> bool:
    """Return True on CPU for a kernel at least as tall and as wide as a non-empty map.

    The matrix-product form was measured faster there and slower on larger maps, where most of
    each window covers the map (scripts/bench_conv.py).
    """
    return jax.default_backend() == "cpu" and 0 < height <= kernel_h and 0 < width <= kernel_w


def _offsets(size: int, kernel: int) -> range:
    """Window offsets along one axis that reach the map under SAME padding (the others only
    ever see padding, so they add nothing)."""
    low = (kernel - 1) // 2
    return range(max(0, low - size + 1), min(kernel, low + size))


def patch_conv(x: jax.Array, kernel: jax.Array, precision: Any = None,
               preferred_element_type: Any = None) -> jax.Array:
    """Return the stride-1 SAME convolution of x: [batch, height, width, in] with
    kernel: [kh, kw, in, out], computed as one matrix product over the window offsets.

    It equals `lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=
    ("NHWC", "HWIO", "NHWC"))` up to float rounding (sums are taken in another order).
    """
    kernel_h, kernel_w, _, out = kernel.shape
    height, width = x.shape[1:3]
    rows, cols = _offsets(height, kernel_h), _offsets(width, kernel_w)
    top, left = (kernel_h - 1) // 2, (kernel_w - 1) // 2
    padded = jnp.pad(x, ((0, 0), (top, kernel_h - 1 - top), (left, kernel_w - 1 - left), (0, 0)))
    # Columns ordered (row offset, column offset, channel), as the kernel's reshape below.
    patches = jnp.concatenate(
        [padded[:, i : i + height, j : j + width, :] for i in rows for j in cols], axis=-1
    )
    window = kernel[rows.start : rows.stop, cols.start : cols.stop].reshape(-1, out)
    return jnp.matmul(patches, window, precision=precision, preferred_element_type=preferred_element_type)


def conv2d_same(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Convolve NHWC x with an HWIO kernel (stride 1, SAME padding) on the faster path."""
    if prefers_patches(x.shape[1], x.shape[2], kernel.shape[0], kernel.shape[1]):
        return patch_conv(x, kernel)
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=_NHWC)


def _is_same_padding(padding: Any, kernel_hw: Sequence[int]) -> bool:
    if isinstance(padding, str):
        return padding.upper() == "SAME"
    try:
        pairs = [tuple(p) for p in padding]
    except TypeError:
        return False
    return pairs == [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel_hw]


def _is_nhwc(dimension_numbers: Any) -> bool:
    if dimension_numbers is None:
        return False
    if isinstance(dimension_numbers, lax.ConvDimensionNumbers):
        return tuple(dimension_numbers) == tuple(_NHWC_SPECS)
    return tuple(dimension_numbers) == _NHWC


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: Any,
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
    out_sharding: Any = None,
) -> jax.Array:
    """Convolve as `lax.conv_general_dilated` does, taking the matrix-product path for
    stride-1 SAME NHWC convolutions on small maps.

    Every other case, and any call with an output sharding, goes to XLA's convolution unchanged.
    """
    simple = (
        out_sharding is None
        and lhs.ndim == 4
        and lhs.dtype == rhs.dtype
        and tuple(window_strides) == (1, 1)
        and tuple(lhs_dilation or (1, 1)) == (1, 1)
        and tuple(rhs_dilation or (1, 1)) == (1, 1)
        and feature_group_count == 1
        and batch_group_count == 1
        and _is_nhwc(dimension_numbers)
        and _is_same_padding(padding, rhs.shape[:2])
    )
    if simple and prefers_patches(lhs.shape[1], lhs.shape[2], rhs.shape[0], rhs.shape[1]):
        return patch_conv(lhs, rhs, precision, preferred_element_type)
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
        batch_group_count=batch_group_count, precision=precision, preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )

"""Gradient/hessian histograms of binned rows: the hot loop of histogram GBDT.

Two implementations with one contract:

- `histogram_cpp`: the C++ kernel in `gbdt_histogram.cc`, called from jit through
  the XLA FFI. CPU only; it is built into `atlas_jax.kernels._gbdt_kernels`.
- `histogram_reference`: pure JAX (one scatter-add), runs on any backend.

`histogram` picks the C++ kernel on CPU when it is built and the reference
elsewhere (`backend="auto"`), or the one named by `backend`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

FFI_TARGET = "atlas_gbdt_histogram"
# Registered here too, because one extension module contains all three kernels.
SPLIT_FFI_TARGET = "atlas_gbdt_split"
PREDICT_FFI_TARGET = "atlas_gbdt_predict"
BACKENDS = ("auto", "cpp", "jax")


@functools.cache
def cpp_available() -> bool:
    """Register the C++ kernels with XLA once; False when the extension was not built."""
    try:
        from atlas_jax.kernels import _gbdt_kernels
    except ImportError:
        return False
    jax.ffi.register_ffi_target(FFI_TARGET, _gbdt_kernels.histogram_handler(), platform="cpu")
    jax.ffi.register_ffi_target(SPLIT_FFI_TARGET, _gbdt_kernels.split_handler(), platform="cpu")
    jax.ffi.register_ffi_target(PREDICT_FFI_TARGET, _gbdt_kernels.predict_handler(), platform="cpu")
    return True


def resolve_backend(backend: str, platform: str) -> str:
    """Turn "auto" into "cpp" (CPU with the kernels built) or "jax" for devices of `platform`.

    Resolving before tracing compiles one implementation; `platform_dependent`
    in the dispatchers below serves code traced without a known platform.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown kernel backend '{backend}'; valid backends: {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    return "cpp" if platform == "cpu" and cpp_available() else "jax"


def histogram_reference(
    bins: jax.Array, grad: jax.Array, hess: jax.Array, slot: jax.Array, num_slots: int, num_bins: int
) -> jax.Array:
    """Build histograms with one scatter-add in pure JAX.

    Args:
        bins: uint8[rows, features] bin codes, each below `num_bins`.
        grad: float32[rows] gradients.
        hess: float32[rows] hessians.
        slot: int32[rows] histogram each row adds to; rows outside [0, num_slots) are skipped.
        num_slots: number of histograms to build.
        num_bins: bins per feature in the output.

    Returns:
        float32[num_slots, features, num_bins, 2]: sums of (grad, hess) per slot, feature and bin.
    """
    rows, features = bins.shape
    cells = num_slots * features * num_bins
    valid = (slot >= 0) & (slot < num_slots)
    index = (slot[:, None] * features + jnp.arange(features, dtype=jnp.int32)[None, :]) * num_bins
    index = index + bins.astype(jnp.int32)
    # Skipped rows go to one spare cell past the end, which is dropped below.
    index = jnp.where(valid[:, None], index, cells)
    pairs = jnp.stack([grad, hess], axis=-1).astype(jnp.float32)
    pairs = jnp.broadcast_to(pairs[:, None, :], (rows, features, 2))
    hist = jnp.zeros((cells + 1, 2), jnp.float32).at[index.reshape(-1)].add(pairs.reshape(-1, 2))
    return hist[:cells].reshape(num_slots, features, num_bins, 2)


def histogram_cpp(
    bins: jax.Array,
    grad: jax.Array,
    hess: jax.Array,
    slot: jax.Array,
    num_slots: int,
    num_bins: int,
    num_threads: int = 0,
) -> jax.Array:
    """Build histograms with the C++ FFI kernel (CPU); same contract as `histogram_reference`.

    Each call accumulates in float64 per thread and rounds the sums to float32 once.
    `num_threads=0` uses one thread per 16,384 rows, up to the core count.

    Raises:
        RuntimeError: the extension module was not built into this installation.
    """
    if not cpp_available():
        raise RuntimeError(
            "the C++ GBDT histogram kernel is not built (atlas_jax.kernels._gbdt_kernels is "
            "missing); reinstall atlas_jax with `pip install .`, or use backend='jax'"
        )
    features = bins.shape[1]
    out = jax.ShapeDtypeStruct((num_slots, features, num_bins, 2), jnp.float32)
    call = jax.ffi.ffi_call(FFI_TARGET, out, vmap_method="sequential")
    hist = call(
        bins.astype(jnp.uint8),
        grad.astype(jnp.float32),
        hess.astype(jnp.float32),
        slot.astype(jnp.int32),
        num_threads=np.int64(num_threads),
    )
    # ffi_call types its result as equal on all devices. Inside shard_map it differs
    # per device wherever the rows do, so mark it varying, as the reference's result is.
    varying = tuple(jax.typeof(bins).manual_axis_type.varying)
    return jax.lax.pcast(hist, varying, to="varying") if varying else hist


def histogram(
    bins: jax.Array,
    grad: jax.Array,
    hess: jax.Array,
    slot: jax.Array,
    num_slots: int,
    num_bins: int,
    backend: str = "auto",
) -> jax.Array:
    """Build histograms with the kernel named by `backend` (see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown histogram backend '{backend}'; valid backends: {', '.join(BACKENDS)}")
    reference = functools.partial(histogram_reference, num_slots=num_slots, num_bins=num_bins)
    fast = functools.partial(histogram_cpp, num_slots=num_slots, num_bins=num_bins)
    if backend == "jax":
        return reference(bins, grad, hess, slot)
    if backend == "cpp":
        return fast(bins, grad, hess, slot)
    if not cpp_available():
        return reference(bins, grad, hess, slot)
    # Chosen when the computation is lowered, so one jitted function serves CPU and GPU.
    return jax.lax.platform_dependent(bins, grad, hess, slot, cpu=fast, default=reference)

"""Pallas histogram kernel for GPU: one-hot matmuls in place of scatter-adds.

Same contract as `gbdt_histogram.histogram_reference`. One program per feature
walks the rows in blocks of `block_rows`. For each block it forms the one-hot
matrix of bin codes [block, bins] and the one-hot matrix of slots weighted by
gradient or hessian [block, slots], and adds their product to the feature's
[slots, bins] sums.
That costs rows x slots x bins multiply-adds per feature, which matrix units
absorb, and needs no atomics.

NOTE: this kernel has only been run in Pallas interpret mode on CPU (the tests
compare it with the reference there). It has not been compiled or timed on a
GPU, and it is not selected by `backend="auto"`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl


def _kernel(bins_ref, slot_ref, grad_ref, hess_ref, out_ref, *, num_slots: int, num_bins: int, block_rows: int):
    rows = bins_ref.shape[1]
    bin_ids = jnp.arange(num_bins, dtype=jnp.int32)[None, :]
    slot_ids = jnp.arange(num_slots, dtype=jnp.int32)[None, :]

    def add_block(i, sums):
        start = pl.multiple_of(i * block_rows, block_rows)
        codes = bins_ref[0, pl.ds(start, block_rows)]
        slot = slot_ref[pl.ds(start, block_rows)]
        grad = grad_ref[pl.ds(start, block_rows)]
        hess = hess_ref[pl.ds(start, block_rows)]
        onehot_bin = (codes[:, None] == bin_ids).astype(jnp.float32)  # [block, bins]
        in_slot = slot[:, None] == slot_ids  # [block, slots]; rows outside [0, slots) match none
        grad_by_slot = jnp.where(in_slot, grad[:, None], 0.0)
        hess_by_slot = jnp.where(in_slot, hess[:, None], 0.0)
        grad_sums = jnp.dot(grad_by_slot.T, onehot_bin, preferred_element_type=jnp.float32)
        hess_sums = jnp.dot(hess_by_slot.T, onehot_bin, preferred_element_type=jnp.float32)
        return sums[0] + grad_sums, sums[1] + hess_sums

    zeros = jnp.zeros((num_slots, num_bins), jnp.float32)
    grad_sums, hess_sums = jax.lax.fori_loop(0, rows // block_rows, add_block, (zeros, zeros))
    out_ref[0, 0] = grad_sums
    out_ref[0, 1] = hess_sums


@functools.partial(jax.jit, static_argnames=("num_slots", "num_bins", "block_rows", "interpret"))
def histogram_pallas(
    bins: jax.Array,
    grad: jax.Array,
    hess: jax.Array,
    slot: jax.Array,
    num_slots: int,
    num_bins: int,
    block_rows: int = 256,
    interpret: bool = False,
) -> jax.Array:
    """Build histograms with the Pallas kernel; same arguments and result as `histogram_reference`.

    Rows are padded to a multiple of `block_rows` with slot -1, which adds nothing.
    `interpret=True` runs the kernel in Pallas's interpreter (any backend, slow).
    """
    rows, features = bins.shape
    padded = pl.cdiv(rows, block_rows) * block_rows
    pad = padded - rows
    codes = jnp.pad(bins.astype(jnp.int32).T, ((0, 0), (0, pad)))  # [features, rows]: one row per program
    slot = jnp.pad(slot.astype(jnp.int32), (0, pad), constant_values=-1)
    grad = jnp.pad(grad.astype(jnp.float32), (0, pad))
    hess = jnp.pad(hess.astype(jnp.float32), (0, pad))

    kernel = functools.partial(_kernel, num_slots=num_slots, num_bins=num_bins, block_rows=block_rows)
    whole = pl.BlockSpec((padded,), lambda f: (0,))
    out = pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((features, 2, num_slots, num_bins), jnp.float32),
        grid=(features,),
        in_specs=[pl.BlockSpec((1, padded), lambda f: (f, 0)), whole, whole, whole],
        out_specs=pl.BlockSpec((1, 2, num_slots, num_bins), lambda f: (f, 0, 0, 0)),
        interpret=interpret,
    )(codes, slot, grad, hess)
    return jnp.transpose(out, (2, 0, 3, 1))  # -> [slots, features, bins, 2]

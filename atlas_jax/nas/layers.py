"""Weight-entangled Flax NNX layers: each holds the largest weights and runs a leading slice.

A sub-network of a supernet uses the leading slice of every weight (the first `d` output
units, the first `h` heads, the centred `k x k` window of the kernel), as in AutoFormer's
weight entanglement. Two ways to run a slice, chosen by the caller per call:

* exact slice: the static size passed in (`out_dim`, `heads`, `kernel_size`) cuts the weights
  to that shape, so XLA compiles one program per distinct shape;
* masked: the static size is the maximum and a `gate` (0/1 for a sub-network, soft weights for
  DARTS) zeroes the units beyond the sub-network's size, so one program serves all of them.

Both can be mixed (a bucket's size plus a gate for the rest of the way). Zeroed units stay
exactly zero through every layer here, because the activations used map 0 to 0 and every
layer multiplies its output by its gate, so masked and exact-slice runs agree up to float
rounding.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.models.conv import conv2d_same

Array = jax.Array

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
}


def lecun_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> Array:
    """Draw float32 weights from N(0, 1 / fan_in) with numpy.

    Initialising with numpy compiles nothing: drawing with jax.random compiles one program per
    weight shape (or one large threefry program), which takes seconds on a busy CPU.
    """
    return jnp.asarray(rng.normal(0.0, 1.0 / math.sqrt(fan_in), shape), jnp.float32)


def _gate(y: Array, gate: Array | None) -> Array:
    return y if gate is None else y * gate


def prefix_mask(size: int, active: int) -> Array:
    """Return float32[size] with ones on the first `active` entries and zeros after."""
    return (jnp.arange(size) < active).astype(jnp.float32)


def center_mask(size: int, active: int) -> Array:
    """Return float32[size, size] with ones on the centred `active x active` window (both odd)."""
    offset = (size - active) // 2
    line = ((jnp.arange(size) >= offset) & (jnp.arange(size) < offset + active)).astype(jnp.float32)
    return line[:, None] * line[None, :]


class EntangledDense(nnx.Module):
    """Dense layer over the leading `[in, out]` slice of a `[in_max, out_max]` kernel."""

    def __init__(self, in_max: int, out_max: int, *, rng: np.random.Generator):
        self.in_max, self.out_max = in_max, out_max
        self.kernel = nnx.Param(lecun_normal(rng, (in_max, out_max), in_max))
        self.bias = nnx.Param(jnp.zeros((out_max,)))

    def __call__(self, x: Array, out_dim: int, gate: Array | None = None) -> Array:
        """Apply the slice.

        Args:
            x: float32[..., in_dim] with in_dim <= in_max; its size picks the input slice.
            out_dim: static output width (<= out_max).
            gate: optional float32[out_dim] multiplied into the output.
        """
        in_dim = x.shape[-1]
        y = x @ self.kernel[...][:in_dim, :out_dim] + self.bias[...][:out_dim]
        return _gate(y, gate)


class EntangledConv(nnx.Module):
    """2-D convolution (NHWC, stride 1, SAME padding) over a leading-channel, centred-window slice.

    An odd `k x k` kernel embedded in the centre of a larger odd kernel whose ring is zero gives
    the same SAME-padded output, so the kernel-size mask in masked mode is exact.
    """

    def __init__(self, in_max: int, out_max: int, kernel_max: int, *, rng: np.random.Generator):
        if kernel_max % 2 != 1:
            raise ValueError(f"kernel_max must be odd for a centred slice, got {kernel_max}")
        self.in_max, self.out_max, self.kernel_max = in_max, out_max, kernel_max
        shape = (kernel_max, kernel_max, in_max, out_max)
        self.kernel = nnx.Param(lecun_normal(rng, shape, kernel_max * kernel_max * in_max))
        self.bias = nnx.Param(jnp.zeros((out_max,)))

    def __call__(
        self,
        x: Array,
        out_dim: int,
        kernel_size: int,
        gate: Array | None = None,
        kernel_gate: Array | None = None,
    ) -> Array:
        """Apply the slice.

        Args:
            x: float32[batch, height, width, in_dim] with in_dim <= in_max.
            out_dim: static number of output channels.
            kernel_size: static odd kernel size (<= kernel_max).
            gate: optional float32[out_dim] multiplied into the output channels.
            kernel_gate: optional float32[kernel_size, kernel_size] multiplied into the kernel.
        """
        in_dim = x.shape[-1]
        offset = (self.kernel_max - kernel_size) // 2
        window = slice(offset, offset + kernel_size)
        kernel = self.kernel[...][window, window, :in_dim, :out_dim]
        if kernel_gate is not None:
            kernel = kernel * kernel_gate[:, :, None, None]
        y = conv2d_same(x, kernel)
        return _gate(y + self.bias[...][:out_dim], gate)


class EntangledLayerNorm(nnx.Module):
    """LayerNorm over the leading `dim` features, with statistics over the gated features only."""

    def __init__(self, dim_max: int, epsilon: float = 1e-6):
        self.epsilon = epsilon
        self.scale = nnx.Param(jnp.ones((dim_max,)))
        self.bias = nnx.Param(jnp.zeros((dim_max,)))

    def __call__(self, x: Array, gate: Array | None = None) -> Array:
        """Normalise x: float32[..., dim]; a gate float32[dim] weights the mean and variance."""
        dim = x.shape[-1]
        if gate is None:
            mean = x.mean(-1, keepdims=True)
            var = ((x - mean) ** 2).mean(-1, keepdims=True)
        else:
            total = gate.sum()
            mean = (x * gate).sum(-1, keepdims=True) / total
            var = (gate * (x - mean) ** 2).sum(-1, keepdims=True) / total
        y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
        y = y * self.scale[...][:dim] + self.bias[...][:dim]
        return _gate(y, gate)


class EntangledAttention(nnx.Module):
    """Multi-head self-attention over the first `heads` heads and first `embed` features.

    Weights use the layout of `flax.nnx.MultiHeadAttention` (query/key/value kernels
    `[embed, heads, head_dim]`, output kernel `[heads, head_dim, embed]`) so a slice can be
    copied into that module unchanged. The head dimension is fixed, as in AutoFormer.
    """

    def __init__(self, embed_max: int, heads_max: int, head_dim: int, *, rng: np.random.Generator):
        self.head_dim = head_dim
        qkv_shape = (embed_max, heads_max, head_dim)
        self.query = nnx.Param(lecun_normal(rng, qkv_shape, embed_max))
        self.key = nnx.Param(lecun_normal(rng, qkv_shape, embed_max))
        self.value = nnx.Param(lecun_normal(rng, qkv_shape, embed_max))
        self.query_bias = nnx.Param(jnp.zeros((heads_max, head_dim)))
        self.key_bias = nnx.Param(jnp.zeros((heads_max, head_dim)))
        self.value_bias = nnx.Param(jnp.zeros((heads_max, head_dim)))
        self.out = nnx.Param(lecun_normal(rng, (heads_max, head_dim, embed_max), heads_max * head_dim))
        self.out_bias = nnx.Param(jnp.zeros((embed_max,)))

    def __call__(
        self,
        x: Array,
        heads: int,
        head_gate: Array | None = None,
        embed_gate: Array | None = None,
    ) -> Array:
        """Attend over tokens.

        Args:
            x: float32[batch, tokens, embed] with embed <= embed_max.
            heads: static number of heads.
            head_gate: optional float32[heads] multiplied into each head's output.
            embed_gate: optional float32[embed] multiplied into the output features.
        """
        embed = x.shape[-1]

        def project(kernel: nnx.Param, bias: nnx.Param) -> Array:
            return jnp.einsum("bte,ehd->bthd", x, kernel[...][:embed, :heads]) + bias[...][:heads]

        q = project(self.query, self.query_bias)
        k = project(self.key, self.key_bias)
        v = project(self.value, self.value_bias)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        weights = jax.nn.softmax(logits, axis=-1)
        heads_out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        if head_gate is not None:
            heads_out = heads_out * head_gate[:, None]
        y = jnp.einsum("bthd,hde->bte", heads_out, self.out[...][:heads, :, :embed])
        return _gate(y + self.out_bias[...][:embed], embed_gate)


class EntangledMLPBlock(nnx.Module):
    """Transformer feed-forward block `embed -> hidden -> embed` over leading slices."""

    def __init__(self, embed_max: int, hidden_max: int, activation: str = "gelu", *, rng: np.random.Generator):
        self.activation = activation
        self.fc1 = EntangledDense(embed_max, hidden_max, rng=rng)
        self.fc2 = EntangledDense(hidden_max, embed_max, rng=rng)

    def __call__(
        self,
        x: Array,
        hidden: int,
        hidden_gate: Array | None = None,
        embed_gate: Array | None = None,
    ) -> Array:
        """Apply fc1, the activation and fc2 to x: float32[..., embed]; `hidden` is static."""
        h = ACTIVATIONS[self.activation](self.fc1(x, hidden, hidden_gate))
        return self.fc2(h, x.shape[-1], embed_gate)

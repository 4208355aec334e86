"""Pre-LayerNorm transformer encoder with logical sharding names on every parameter.

Parameters carry Flax `out_sharding` metadata with logical axis names (`embed`, `mlp`,
`heads`, `kv`, and `layers` on the stacked axis). `atlas_jax.parallel` maps the names to mesh
axes, so the same definition runs replicated, data parallel, FSDP, tensor parallel or
pipelined. The layout follows Megatron: query/key/value and the first MLP matrix split their
output (`heads`, `mlp`) and the output projections split their input, so each block needs one
all-reduce per sublayer under tensor parallelism.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from atlas_jax.errors import ConfigError
from atlas_jax.parallel import apply_layers, constrain

_ACTIVATION_NAMES = ("batch", "seq", "embed")


def logical_param(rngs: nnx.Rngs, init, shape: Sequence[int], names: Sequence[str | None]) -> nnx.Param:
    """Create a float32 parameter tagged with logical axis `names`.

    Eager sharding stays off: parameters are laid out by the step builder from the
    metadata, so models build the same way with or without a mesh.
    """
    return nnx.Param(init(rngs.params(), tuple(shape), jnp.float32), out_sharding=tuple(names), eager_sharding=False)


def _fan_in(in_axis, out_axis):
    return nnx.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis)


class LayerNorm(nnx.Module):
    """LayerNorm over the last axis with `embed`-named scale and bias."""

    def __init__(self, dim: int, *, rngs: nnx.Rngs, epsilon: float = 1e-6):
        self.scale = logical_param(rngs, nnx.initializers.ones, (dim,), ("embed",))
        self.bias = logical_param(rngs, nnx.initializers.zeros, (dim,), ("embed",))
        self.epsilon = epsilon

    def __call__(self, x: jax.Array) -> jax.Array:
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * self.scale[...] + self.bias[...]


class SelfAttention(nnx.Module):
    """Multi-head self-attention, heads split over the `heads` logical axis."""

    def __init__(self, dim: int, num_heads: int, *, rngs: nnx.Rngs):
        head_dim = dim // num_heads
        qkv_init = _fan_in(0, (1, 2))
        shape, names = (dim, num_heads, head_dim), ("embed", "heads", "kv")
        self.query = logical_param(rngs, qkv_init, shape, names)
        self.key = logical_param(rngs, qkv_init, shape, names)
        self.value = logical_param(rngs, qkv_init, shape, names)
        self.query_bias = logical_param(rngs, nnx.initializers.zeros, shape[1:], names[1:])
        self.value_bias = logical_param(rngs, nnx.initializers.zeros, shape[1:], names[1:])
        self.out = logical_param(rngs, _fan_in((0, 1), 2), (num_heads, head_dim, dim), ("heads", "kv", "embed"))
        self.out_bias = logical_param(rngs, nnx.initializers.zeros, (dim,), ("embed",))

    def __call__(self, x: jax.Array, mask: jax.Array | None) -> jax.Array:
        """Attend within each sequence.

        Args:
            x: float32[batch, seq, embed].
            mask: bool[batch, seq], true for tokens that may be attended to; None for all.
        """
        heads = ("batch", "seq", "heads", "kv")
        q = constrain(jnp.einsum("bse,ehd->bshd", x, self.query[...]) + self.query_bias[...], heads)
        # No key bias: it adds the same q.b to every logit of a query, which softmax ignores.
        k = constrain(jnp.einsum("bse,ehd->bshd", x, self.key[...]), heads)
        v = constrain(jnp.einsum("bse,ehd->bshd", x, self.value[...]) + self.value_bias[...], heads)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        if mask is not None:
            logits = jnp.where(mask[:, None, None, :], logits, jnp.finfo(logits.dtype).min)
        weights = jax.nn.softmax(logits, axis=-1)
        attended = constrain(jnp.einsum("bhqk,bkhd->bqhd", weights, v), heads)
        out = jnp.einsum("bqhd,hde->bqe", attended, self.out[...]) + self.out_bias[...]
        return checkpoint_name(constrain(out, _ACTIVATION_NAMES), "attn_out")


class MLP(nnx.Module):
    """Two-layer GELU MLP, hidden units split over the `mlp` logical axis."""

    def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
        self.w_in = logical_param(rngs, _fan_in(0, 1), (dim, hidden), ("embed", "mlp"))
        self.b_in = logical_param(rngs, nnx.initializers.zeros, (hidden,), ("mlp",))
        self.w_out = logical_param(rngs, _fan_in(0, 1), (hidden, dim), ("mlp", "embed"))
        self.b_out = logical_param(rngs, nnx.initializers.zeros, (dim,), ("embed",))

    def __call__(self, x: jax.Array) -> jax.Array:
        hidden = jax.nn.gelu(x @ self.w_in[...] + self.b_in[...])
        hidden = checkpoint_name(constrain(hidden, ("batch", "seq", "mlp")), "mlp_hidden")
        out = hidden @ self.w_out[...] + self.b_out[...]
        return checkpoint_name(constrain(out, _ACTIVATION_NAMES), "mlp_out")


class EncoderBlock(nnx.Module):
    """One pre-LayerNorm block: `x + attn(ln(x))`, then `x + mlp(ln(x))`."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, rngs: nnx.Rngs):
        self.attn_norm = LayerNorm(dim, rngs=rngs)
        self.attn = SelfAttention(dim, num_heads, rngs=rngs)
        self.mlp_norm = LayerNorm(dim, rngs=rngs)
        self.mlp = MLP(dim, mlp_dim, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        x = x + self.attn(self.attn_norm(x), mask)
        return x + self.mlp(self.mlp_norm(x))


class Encoder(nnx.Module):
    """`depth` encoder blocks stacked on a leading `layers` axis and run by `apply_layers`.

    Stacking lets one compiled block serve every layer (a scan), and lets the pipeline
    split the layer axis into stages.
    """

    def __init__(self, depth: int, dim: int, num_heads: int, mlp_dim: int, *, rngs: nnx.Rngs):
        if dim % num_heads:
            raise ConfigError(f"embed_dim={dim} is not divisible by num_heads={num_heads}")

        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0, transform_metadata={nnx.PARTITION_NAME: "layers"})
        def create_blocks(rngs: nnx.Rngs) -> EncoderBlock:
            return EncoderBlock(dim, num_heads, mlp_dim, rngs=rngs)

        self.blocks = create_blocks(rngs)
        self.depth = depth

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        """Run all blocks.

        Args:
            x: float32[batch, seq, embed].
            mask: bool[batch, seq] of tokens to attend to, or None for all.
        """
        graphdef, stacked = nnx.split(self.blocks)

        if mask is None:

            def layer(params, h):
                return nnx.merge(graphdef, params)(h)

            return apply_layers(layer, stacked, x)

        # The mask travels with the activations so each pipeline microbatch keeps its own.
        def masked_layer(params, carry):
            h, m = carry
            return nnx.merge(graphdef, params)(h, m), m

        return apply_layers(masked_layer, stacked, (x, mask))[0]

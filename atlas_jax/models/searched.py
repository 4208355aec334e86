"""Networks found by architecture search, with a shape chosen per block.

`searched_cnn` gives each conv block its own kernel size and ends in global average pooling;
`searched_vit` is a small vision transformer whose blocks each have their own number of heads
and feed-forward width (AutoFormer's search space). The NAS task writes these model configs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.models.conv import conv_general_dilated
from atlas_jax.models.registry import activation, register_model


class SearchedCNN(nnx.Module):
    """Conv blocks (conv, activation, 2x2 average pool while the map is at least 4x4), global
    average pooling, a dense layer, dropout and a classifier."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        channels: list[int],
        kernels: list[int],
        dense: int,
        num_classes: int,
        *,
        dropout: float,
        activation_name: str,
        rngs: nnx.Rngs,
    ):
        ins = [input_shape[-1]] + list(channels[:-1])
        self.convs = nnx.List(
            [nnx.Conv(i, o, (k, k), padding="SAME", conv_general_dilated=conv_general_dilated, rngs=rngs) for i, o, k in zip(ins, channels, kernels)]
        )
        self.dense = nnx.Linear(channels[-1], dense, rngs=rngs)
        self.head = nnx.Linear(dense, num_classes, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.act = activation(activation_name)

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Return logits float32[batch, classes] for images float32[batch, height, width, channels]."""
        for conv in self.convs:
            x = self.act(conv(x))
            if min(x.shape[1:3]) >= 4:
                x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        x = self.act(self.dense(x.mean(axis=(1, 2))))
        rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
        x = self.dropout(x, deterministic=dropout_key is None, rngs=rngs)
        return self.head(x)


class TransformerBlock(nnx.Module):
    """Pre-norm block: self-attention and a GELU feed-forward layer, each with a residual."""

    def __init__(self, embed: int, heads: int, head_dim: int, hidden: int, *, rngs: nnx.Rngs):
        self.attn_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(
            heads, embed, qkv_features=heads * head_dim, out_features=embed, decode=False,
            keep_rngs=False, rngs=rngs,
        )
        self.mlp_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.fc1 = nnx.Linear(embed, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, embed, rngs=rngs)

    def __call__(self, h: jax.Array) -> jax.Array:
        h = h + self.attn(self.attn_norm(h))
        return h + self.fc2(jax.nn.gelu(self.fc1(self.mlp_norm(h))))


class SearchedViT(nnx.Module):
    """Patch embedding with learned positions, transformer blocks, mean pooling, a classifier."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        patch: int,
        embed: int,
        heads: list[int],
        hidden: list[int],
        head_dim: int,
        num_classes: int,
        *,
        rngs: nnx.Rngs,
    ):
        height, width, channels = input_shape
        if height % patch or width % patch:
            raise ConfigError(f"image size {height}x{width} is not divisible by model.patch={patch}")
        tokens = (height // patch) * (width // patch)
        self.input_shape, self.patch = tuple(input_shape), patch
        self.embed = nnx.Linear(patch * patch * channels, embed, rngs=rngs)
        self.position = nnx.Param(0.02 * jax.random.normal(rngs.params(), (tokens, embed)))
        self.blocks = nnx.List(
            [TransformerBlock(embed, h, head_dim, n, rngs=rngs) for h, n in zip(heads, hidden)]
        )
        self.final_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.head = nnx.Linear(embed, num_classes, rngs=rngs)

    def patches(self, x: jax.Array) -> jax.Array:
        """Cut images float32[batch, height, width, channels] into float32[batch, tokens, p*p*c]."""
        height, width, channels = self.input_shape
        p = self.patch
        x = x.reshape(x.shape[0], height // p, p, width // p, p, channels).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(x.shape[0], (height // p) * (width // p), p * p * channels)

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Return logits float32[batch, classes]; this model has no dropout, so the key is unused."""
        h = self.embed(self.patches(x)) + self.position[...]
        for block in self.blocks:
            h = block(h)
        return self.head(jnp.mean(self.final_norm(h), axis=1))


def _check_lengths(name: str, **lists: list) -> None:
    lengths = {key: len(value) for key, value in lists.items()}
    if not all(lengths.values()) or len(set(lengths.values())) != 1:
        raise ConfigError(f"model '{name}' needs non-empty lists of one length, got lengths {lengths}")


@register_model("searched_cnn")
def build_searched_cnn(cfg: Any, input_shape: tuple[int, ...], num_classes: int, rngs: nnx.Rngs) -> SearchedCNN:
    if len(input_shape) != 3:
        raise ConfigError(f"model 'searched_cnn' needs images (height, width, channels), got {input_shape}")
    _check_lengths("searched_cnn", channels=list(cfg.channels), kernels=list(cfg.kernels))
    return SearchedCNN(
        input_shape, list(cfg.channels), list(cfg.kernels), cfg.dense, num_classes,  # type: ignore[arg-type]
        dropout=cfg.dropout, activation_name=cfg.activation, rngs=rngs,
    )


@register_model("searched_vit")
def build_searched_vit(cfg: Any, input_shape: tuple[int, ...], num_classes: int, rngs: nnx.Rngs) -> SearchedViT:
    if len(input_shape) != 3:
        raise ConfigError(f"model 'searched_vit' needs images (height, width, channels), got {input_shape}")
    _check_lengths("searched_vit", heads=list(cfg.heads), hidden=list(cfg.hidden))
    return SearchedViT(
        input_shape, cfg.patch, cfg.embed, list(cfg.heads), list(cfg.hidden), cfg.head_dim,  # type: ignore[arg-type]
        num_classes, rngs=rngs,
    )


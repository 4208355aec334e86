"""Vision Transformer classifier (patch embedding, encoder, pooled linear head)."""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.models.registry import register_model
from atlas_jax.models.transformer import Encoder, LayerNorm, logical_param
from atlas_jax.config import ViTConfig
from atlas_jax.parallel import constrain


def image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return (height, width, channels) for an image shape or a flattened square grey image.

    Raises:
        ConfigError: a shape that is neither.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (*shape, 1)
    side = math.isqrt(shape[0]) if len(shape) == 1 else 0
    if len(shape) == 1 and side * side == shape[0]:
        return (side, side, 1)
    raise ConfigError(f"the ViT needs images [height, width(, channels)] or flat square images, got {shape}")


class ViT(nnx.Module):
    """Vision Transformer: non-overlapping patches, learned positions, pre-LN encoder, linear head."""

    def __init__(self, cfg: ViTConfig, input_shape: Sequence[int], num_classes: int, *, rngs: nnx.Rngs):
        height, width, channels = image_shape(input_shape)
        p = cfg.patch_size
        if height % p or width % p:
            raise ConfigError(f"model.patch_size={p} does not divide the {height}x{width} images")
        if cfg.pool not in ("mean", "cls"):
            raise ConfigError(f"model.pool='{cfg.pool}' is invalid; use mean or cls")
        self.image = (height, width, channels)
        self.patch_size = p
        self.pool = cfg.pool
        num_patches = (height // p) * (width // p)
        patch_dim = p * p * channels
        init = nnx.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")

        self.patch_kernel = logical_param(rngs, init, (patch_dim, cfg.embed_dim), (None, "embed"))
        self.patch_bias = logical_param(rngs, nnx.initializers.zeros, (cfg.embed_dim,), ("embed",))
        seq = num_patches + (cfg.pool == "cls")
        self.cls_token = (
            logical_param(rngs, nnx.initializers.zeros, (cfg.embed_dim,), ("embed",)) if cfg.pool == "cls" else None
        )
        self.positions = logical_param(rngs, nnx.initializers.normal(0.02), (seq, cfg.embed_dim), ("seq", "embed"))
        self.encoder = Encoder(cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.mlp_dim, rngs=rngs)
        self.norm = LayerNorm(cfg.embed_dim, rngs=rngs)
        self.dropout = nnx.Dropout(cfg.dropout)
        self.head = logical_param(rngs, nnx.initializers.zeros, (cfg.embed_dim, num_classes), ("embed", "classes"))
        self.head_bias = logical_param(rngs, nnx.initializers.zeros, (num_classes,), ("classes",))

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Classify images; dropout is active only when `dropout_key` is given (training).

        Args:
            x: float32[batch, height, width, channels], or flattened as the model was built.
            dropout_key: PRNG key for dropout, or None.

        Returns:
            float32[batch, num_classes] logits.
        """
        height, width, channels = self.image
        p = self.patch_size
        x = x.reshape(x.shape[0], height // p, p, width // p, p, channels)
        patches = x.transpose(0, 1, 3, 2, 4, 5).reshape(x.shape[0], -1, p * p * channels)

        h = patches @ self.patch_kernel[...] + self.patch_bias[...]
        if self.cls_token is not None:
            cls = jnp.broadcast_to(self.cls_token[...], (h.shape[0], 1, h.shape[-1]))
            h = jnp.concatenate([cls, h], axis=1)
        h = constrain(h + self.positions[...], ("batch", "seq", "embed"))

        h = self.norm(self.encoder(h))
        pooled = h[:, 0] if self.pool == "cls" else h.mean(axis=1)
        rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
        pooled = self.dropout(pooled, deterministic=dropout_key is None, rngs=rngs)
        return pooled @ self.head[...] + self.head_bias[...]


@register_model("vit")
def build_vit(cfg: ViTConfig, input_shape: Sequence[int], num_classes: int, rngs: nnx.Rngs) -> ViT:
    """Build a ViT for `input_shape` images and `num_classes` classes."""
    return ViT(cfg, input_shape, num_classes, rngs=rngs)

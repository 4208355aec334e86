"""Transformer encoder that classifies token sequences (padding id 0)."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.models.registry import register_model
from atlas_jax.models.transformer import Encoder, LayerNorm, logical_param
from atlas_jax.config import TextTransformerConfig
from atlas_jax.parallel import constrain

PAD_ID = 0


class TextTransformer(nnx.Module):
    """Token and position embeddings, pre-LN encoder, masked mean pooling, linear head."""

    def __init__(self, cfg: TextTransformerConfig, input_shape: Sequence[int], num_classes: int, *, rngs: nnx.Rngs):
        if len(input_shape) != 1 or input_shape[0] > cfg.max_len:
            raise ConfigError(
                f"the text transformer needs token sequences [length <= model.max_len={cfg.max_len}], "
                f"got feature shape {tuple(input_shape)}"
            )
        self.embedding = logical_param(rngs, nnx.initializers.normal(0.02), (cfg.vocab_size, cfg.embed_dim), ("vocab", "embed"))
        self.positions = logical_param(rngs, nnx.initializers.normal(0.02), (cfg.max_len, cfg.embed_dim), ("seq", "embed"))
        self.encoder = Encoder(cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.mlp_dim, rngs=rngs)
        self.norm = LayerNorm(cfg.embed_dim, rngs=rngs)
        self.dropout = nnx.Dropout(cfg.dropout)
        self.head = logical_param(rngs, nnx.initializers.zeros, (cfg.embed_dim, num_classes), ("embed", "classes"))
        self.head_bias = logical_param(rngs, nnx.initializers.zeros, (num_classes,), ("classes",))

    def __call__(self, tokens: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Classify sequences; dropout is active only when `dropout_key` is given (training).

        Args:
            tokens: int32[batch, seq] token ids (float input is cast), 0 marks padding.
            dropout_key: PRNG key for dropout, or None.

        Returns:
            float32[batch, num_classes] logits.
        """
        tokens = tokens.astype(jnp.int32)
        mask = tokens != PAD_ID
        h = jnp.take(self.embedding[...], tokens, axis=0) + self.positions[: tokens.shape[1]]
        h = constrain(h, ("batch", "seq", "embed"))

        h = self.norm(self.encoder(h, mask))
        weights = mask.astype(h.dtype)[..., None]
        pooled = (h * weights).sum(axis=1) / jnp.maximum(weights.sum(axis=1), 1.0)
        rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
        pooled = self.dropout(pooled, deterministic=dropout_key is None, rngs=rngs)
        return pooled @ self.head[...] + self.head_bias[...]


@register_model("text_transformer")
def build_text_transformer(
    cfg: TextTransformerConfig, input_shape: Sequence[int], num_classes: int, rngs: nnx.Rngs
) -> TextTransformer:
    """Build a text classifier for sequences of `input_shape[0]` tokens."""
    return TextTransformer(cfg, input_shape, num_classes, rngs=rngs)

"""Structured configs of the transformer models (`model=vit`, `model=text_transformer`)."""

from __future__ import annotations

from dataclasses import dataclass

from atlas_jax.config import ModelConfig


@dataclass
class ViTConfig(ModelConfig):
    name: str = "vit"
    patch_size: int = 2  # square patch side, in pixels; must divide the image height and width
    embed_dim: int = 64  # width of the residual stream
    depth: int = 8  # number of encoder blocks
    num_heads: int = 8  # attention heads; must divide embed_dim
    mlp_dim: int = 256  # hidden width of each block's MLP
    pool: str = "mean"  # mean (average of patch tokens) or cls (a learned class token)


@dataclass
class TextTransformerConfig(ModelConfig):
    name: str = "text_transformer"
    vocab_size: int = 1024  # token ids run from 0 to vocab_size - 1; id 0 is padding
    max_len: int = 128  # longest sequence, in tokens (size of the position table)
    embed_dim: int = 64  # width of the residual stream
    depth: int = 4  # number of encoder blocks
    num_heads: int = 4  # attention heads; must divide embed_dim
    mlp_dim: int = 256  # hidden width of each block's MLP

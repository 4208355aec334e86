"""Small convolutional network for images such as digits or MNIST."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.models.conv import conv_general_dilated
from atlas_jax.models.registry import activation, check_dropout, check_sizes, register_model


class CNN(nnx.Module):
    """Conv blocks (conv, activation, optional 2x2 average pool), a dense layer and a classifier."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        channels: list[int],
        num_classes: int,
        *,
        kernel_size: int,
        pool: bool,
        dense: int,
        dropout: float,
        activation_name: str,
        rngs: nnx.Rngs,
    ):
        height, width, in_channels = input_shape
        convs, pools = [], []
        for out_channels in channels:
            convs.append(nnx.Conv(in_channels, out_channels, (kernel_size, kernel_size), padding="SAME", conv_general_dilated=conv_general_dilated, rngs=rngs))
            # Pool only while the map stays at least 2x2 afterwards.
            do_pool = pool and height >= 4 and width >= 4
            pools.append(do_pool)
            if do_pool:
                height, width = height // 2, width // 2
            in_channels = out_channels
        self.convs = nnx.List(convs)
        self.pools = tuple(pools)
        self.dense = nnx.Linear(height * width * in_channels, dense, rngs=rngs)
        self.head = nnx.Linear(dense, num_classes, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.act = activation(activation_name)

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Return logits float32[batch, classes] for images float32[batch, height, width, channels]."""
        for conv, do_pool in zip(self.convs, self.pools):
            x = self.act(conv(x))
            if do_pool:
                x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        x = self.act(self.dense(x.reshape(x.shape[0], -1)))
        rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
        x = self.dropout(x, deterministic=dropout_key is None, rngs=rngs)
        return self.head(x)


@register_model("cnn")
def build_cnn(cfg: Any, input_shape: tuple[int, ...], num_classes: int, rngs: nnx.Rngs) -> CNN:
    if len(input_shape) != 3:
        raise ConfigError(
            f"model 'cnn' needs image inputs (height, width, channels) but the data has feature shape "
            f"{input_shape}; use model=mlp for tables"
        )
    if not cfg.channels:
        raise ConfigError("model.channels must list at least one conv block width")
    check_sizes("channels", list(cfg.channels))
    check_sizes("kernel_size", [cfg.kernel_size])
    check_sizes("dense", [cfg.dense])
    check_dropout(cfg.dropout)
    return CNN(
        input_shape,  # type: ignore[arg-type]
        list(cfg.channels),
        num_classes,
        kernel_size=cfg.kernel_size,
        pool=cfg.pool,
        dense=cfg.dense,
        dropout=cfg.dropout,
        activation_name=cfg.activation,
        rngs=rngs,
    )

"""Multi-layer perceptron for tables and flattened images."""

from __future__ import annotations

import math
from typing import Any

import jax
from flax import nnx

from atlas_jax.models.registry import activation, check_dropout, check_sizes, register_model


class MLP(nnx.Module):
    """Dense layers with an activation and dropout after each hidden layer."""

    def __init__(
        self,
        in_features: int,
        hidden: list[int],
        num_classes: int,
        *,
        dropout: float,
        activation_name: str,
        rngs: nnx.Rngs,
    ):
        widths = [in_features, *hidden]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.head = nnx.Linear(widths[-1], num_classes, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.act = activation(activation_name)

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Return logits float32[batch, classes] for inputs float32[batch, ...].

        Dropout is active only when `dropout_key` is given (training).
        """
        x = x.reshape(x.shape[0], -1)
        rngs = nnx.Rngs(dropout=dropout_key) if dropout_key is not None else None
        for layer in self.hidden:
            x = self.act(layer(x))
            x = self.dropout(x, deterministic=dropout_key is None, rngs=rngs)
        return self.head(x)


@register_model("mlp")
def build_mlp(cfg: Any, input_shape: tuple[int, ...], num_classes: int, rngs: nnx.Rngs) -> MLP:
    check_sizes("hidden", list(cfg.hidden))
    check_dropout(cfg.dropout)
    return MLP(
        math.prod(input_shape),
        list(cfg.hidden),
        num_classes,
        dropout=cfg.dropout,
        activation_name=cfg.activation,
        rngs=rngs,
    )

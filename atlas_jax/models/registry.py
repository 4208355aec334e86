"""Model registry: a name maps to a builder `(cfg, input_shape, num_classes, rngs) -> nnx.Module`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flax import nnx

from atlas_jax.errors import ConfigError

ModelBuilder = Callable[[Any, tuple[int, ...], int, nnx.Rngs], nnx.Module]

MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a model builder under `name` (a decorator)."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in MODELS:
            raise ValueError(f"model '{name}' is already registered")
        MODELS[name] = builder
        return builder

    return decorate


def create_model(cfg: Any, input_shape: tuple[int, ...], num_classes: int, seed: int) -> nnx.Module:
    """Build model `cfg.name` for inputs of `input_shape` (no batch axis) and `num_classes` outputs.

    Raises:
        ConfigError: unknown model name, or a model that cannot take this input shape.
    """
    name = cfg.name
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; valid models: {', '.join(sorted(MODELS))}")
    return MODELS[name](cfg, tuple(input_shape), int(num_classes), nnx.Rngs(params=seed))


ACTIVATIONS: dict[str, Callable] = {
    "relu": nnx.relu,
    "gelu": nnx.gelu,
    "silu": nnx.silu,
    "tanh": nnx.tanh,
}


def check_sizes(key: str, values: list[int]) -> None:
    """Raise a ConfigError naming `model.<key>` unless every layer size in `values` is positive."""
    for value in values:
        if value <= 0:
            raise ConfigError(f"model.{key} must contain positive sizes, got {list(values)}")


def check_dropout(rate: float) -> None:
    """Raise a ConfigError unless `rate` is a dropout rate in [0, 1)."""
    if not 0 <= rate < 1:
        raise ConfigError(f"model.dropout must be in [0, 1), got {rate}")


def activation(name: str) -> Callable:
    """Look up an activation function by name."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{name}'; valid activations: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]

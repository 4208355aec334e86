"""Flax NNX models, created by name from the `MODELS` registry."""

from atlas_jax.models.registry import MODELS, create_model, register_model

# Importing the model modules fills the registry.
from atlas_jax.models import cnn as _cnn  # noqa: F401  (registers "cnn")
from atlas_jax.models import mlp as _mlp  # noqa: F401  (registers "mlp")

__all__ = ["MODELS", "create_model", "register_model"]

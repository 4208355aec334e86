"""Flax NNX models, created by name from the `MODELS` registry."""

from atlas_jax.models.registry import MODELS, create_model, register_model

# Importing the model modules fills the registry.
from atlas_jax.models import cnn as _cnn  # noqa: F401  (registers "cnn")
from atlas_jax.models import mlp as _mlp  # noqa: F401  (registers "mlp")
from atlas_jax.models import text as _text  # noqa: F401  (registers "text_transformer")
from atlas_jax.models import vit as _vit  # noqa: F401  (registers "vit")
from atlas_jax.models import searched as _searched  # noqa: F401  (registers "searched_cnn", "searched_vit")

__all__ = ["MODELS", "create_model", "register_model"]

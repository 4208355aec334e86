"""Built-in search spaces over the foundation's model and optimizer configs.

Keys are Hydra config paths (see atlas_jax/config.py). A path without a dot, such
as "model", is a config-group choice: "model=cnn" swaps the whole model schema.
"""

from __future__ import annotations

from atlas_jax.search.params import Choice, Float, Int
from atlas_jax.search.registry import register_space
from atlas_jax.search.space import Space


def _optimizer_params() -> dict:
    return {
        "optim.name": Choice(["adamw", "sgd"]),
        "optim.learning_rate": Float(1e-4, 3e-1, log=True),
        "optim.weight_decay": Float(1e-6, 1e-2, log=True),
        "optim.momentum": Float(0.5, 0.99, when={"optim.name": "sgd"}),
    }


@register_space("optim")
def optim_space() -> Space:
    """Optimizer only: AdamW or SGD with momentum, learning rate and weight decay."""
    return Space(_optimizer_params())


@register_space("mlp")
def mlp_space(max_width: int = 512) -> Space:
    """MLP shape, dropout and activation together with the optimizer."""
    widths = [w for w in (32, 64, 128, 256, 512, 1024) if w <= max_width]
    return Space({
        "model.hidden": Choice([[w] for w in widths] + [[w, w // 2] for w in widths if w >= 64], ordered=False),
        "model.dropout": Float(0.0, 0.5),
        "model.activation": Choice(["relu", "gelu", "silu", "tanh"]),
        **_optimizer_params(),
    })


@register_space("cnn")
def cnn_space() -> Space:
    """CNN channel widths, kernel, dense width and dropout together with the optimizer."""
    return Space({
        "model.channels": Choice([[16, 32], [32, 64], [64, 128], [32, 64, 128]]),
        "model.kernel_size": Choice([3, 5], ordered=True),
        "model.dense": Int(32, 256, log=True),
        "model.dropout": Float(0.0, 0.5),
        **_optimizer_params(),
    })


@register_space("model_and_optim")
def model_and_optim_space() -> Space:
    """Choose between the MLP and the CNN config groups, each with its own parameters."""
    return Space({
        "model": Choice(["mlp", "cnn"]),
        "model.hidden": Choice([[128], [256], [256, 128], [512, 256]], when={"model": "mlp"}),
        "model.channels": Choice([[16, 32], [32, 64], [64, 128]], when={"model": "cnn"}),
        "model.dense": Int(64, 256, log=True, when={"model": "cnn"}),
        "model.dropout": Float(0.0, 0.4),
        "optim.learning_rate": Float(3e-4, 3e-2, log=True),
        "optim.weight_decay": Float(1e-6, 1e-2, log=True),
    })

"""The training run that the 2-process test repeats in one process: a few steps of an MLP on digits."""

from __future__ import annotations

import numpy as np


def train_losses(ctx, steps: int = 3, batch_size: int = 32) -> list[float]:
    """Train a small MLP for `steps` steps on `ctx`'s layout (None: one device); return the losses."""
    from atlas_jax.config import DataConfig, MLPConfig, OptimConfig
    from atlas_jax.data import load_dataset
    from atlas_jax.models import create_model
    from atlas_jax.train.layout import create_layout
    from atlas_jax.train.optim import create_optimizer
    from atlas_jax.train.steps import create_train_state, make_train_step

    data = load_dataset(DataConfig(name="digits"))
    model = create_model(MLPConfig(hidden=[32], dropout=0.0), data.feature_shape, data.num_classes, seed=0)
    tx, _ = create_optimizer(OptimConfig(warmup_steps=0, learning_rate=1e-2), steps)
    graphdef, rest, state = create_train_state(model, tx, 0)
    layout = None if ctx is None else create_layout(ctx, tx, state, batch_size, batch_size)
    if layout is not None:
        state = layout.place_state(state)
    step = make_train_step(graphdef, rest, tx, layout)
    losses = []
    for i in range(steps):
        batch = {"x": data.train.x[i * batch_size:(i + 1) * batch_size], "y": data.train.y[i * batch_size:(i + 1) * batch_size]}
        if layout is not None:
            batch = layout.put(batch, layout.train_batch)
        state, metrics = step(state, batch)
        losses.append(float(np.asarray(metrics["loss"])))
    return losses

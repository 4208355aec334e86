"""optax optimizers and learning-rate schedules built from `OptimConfig`."""

from __future__ import annotations

import math
from typing import Any

import optax

from atlas_jax.errors import ConfigError

OPTIMIZERS = ("adamw", "adam", "sgd", "lamb")
SCHEDULES = ("constant", "cosine", "linear")


def create_schedule(cfg: Any, total_steps: int) -> optax.Schedule:
    """Linear warmup to `cfg.learning_rate`, then constant, cosine or linear decay to the end."""
    if cfg.schedule not in SCHEDULES:
        raise ConfigError(f"unknown optim.schedule '{cfg.schedule}'; valid schedules: {', '.join(SCHEDULES)}")
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        raise ConfigError(f"optim.learning_rate must be positive and finite, got {cfg.learning_rate}")
    warmup = max(0, min(int(cfg.warmup_steps), total_steps - 1))
    decay_steps = max(1, total_steps - warmup)
    peak, end = cfg.learning_rate, cfg.learning_rate * cfg.end_lr_ratio
    if cfg.schedule == "constant":
        after = optax.constant_schedule(peak)
    elif cfg.schedule == "cosine":
        after = optax.cosine_decay_schedule(peak, decay_steps, alpha=cfg.end_lr_ratio)
    else:
        after = optax.linear_schedule(peak, end, decay_steps)
    if warmup == 0:
        return after
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), after], [warmup])


def create_optimizer(cfg: Any, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """Return the optimizer chain (with optional global-norm clipping) and its schedule."""
    schedule = create_schedule(cfg, total_steps)
    if cfg.name == "adamw":
        core = optax.adamw(schedule, b1=cfg.momentum, weight_decay=cfg.weight_decay)
    elif cfg.name == "adam":
        core = optax.adam(schedule, b1=cfg.momentum)
    elif cfg.name == "sgd":
        core = optax.chain(
            optax.add_decayed_weights(cfg.weight_decay),
            optax.sgd(schedule, momentum=cfg.momentum, nesterov=True),
        )
    elif cfg.name == "lamb":
        core = optax.lamb(schedule, b1=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        raise ConfigError(f"unknown optimizer '{cfg.name}'; valid optimizers: {', '.join(OPTIMIZERS)}")
    if cfg.grad_clip_norm is not None:
        if cfg.grad_clip_norm <= 0:
            raise ConfigError(f"optim.grad_clip_norm must be positive or null, got {cfg.grad_clip_norm}")
        core = optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm), core)
    return core, schedule

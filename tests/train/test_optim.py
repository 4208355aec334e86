"""Optimizer and schedule construction."""

import numpy as np
import pytest

from atlas_jax.config import OptimConfig
from atlas_jax.errors import ConfigError
from atlas_jax.train import create_optimizer, create_schedule


def test_warmup_then_cosine_to_end_ratio():
    schedule = create_schedule(OptimConfig(learning_rate=1.0, warmup_steps=10, end_lr_ratio=0.1), 110)
    assert float(schedule(0)) == 0.0
    np.testing.assert_allclose(float(schedule(5)), 0.5, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(10)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(60)), 0.1 + 0.9 * 0.5, rtol=1e-5)
    np.testing.assert_allclose(float(schedule(110)), 0.1, rtol=1e-5)


def test_linear_schedule_reaches_end():
    schedule = create_schedule(OptimConfig(learning_rate=2.0, warmup_steps=0, schedule="linear", end_lr_ratio=0.0), 100)
    np.testing.assert_allclose(float(schedule(50)), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"name": "adagrad9"}, "unknown optimizer 'adagrad9'"),
        ({"schedule": "step"}, "unknown optim.schedule 'step'"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"learning_rate": float("nan")}, "learning_rate must be positive and finite, got nan"),
        ({"learning_rate": float("inf")}, "learning_rate must be positive and finite, got inf"),
        ({"grad_clip_norm": -1.0}, "grad_clip_norm must be positive"),
    ],
)
def test_invalid_optim_config(override, message):
    with pytest.raises(ConfigError, match=message):
        create_optimizer(OptimConfig(**override), 100)

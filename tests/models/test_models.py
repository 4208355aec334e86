"""Model registry and forward passes."""

import numpy as np
import pytest
from flax import nnx

from atlas_jax.config import CNNConfig, MLPConfig
from atlas_jax.errors import ConfigError
from atlas_jax.models import MODELS, create_model


def test_registry_holds_foundation_models():
    assert {"mlp", "cnn"} <= set(MODELS)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown model 'resnet9000'; valid models: .*cnn.*mlp"):
        create_model(MLPConfig(name="resnet9000"), (4,), 2, seed=0)


def test_mlp_matches_numpy_forward():
    model = create_model(MLPConfig(hidden=[5], dropout=0.0, activation="tanh"), (3,), 4, seed=0)
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    w1, b1 = np.asarray(model.hidden[0].kernel.value), np.asarray(model.hidden[0].bias.value)
    w2, b2 = np.asarray(model.head.kernel.value), np.asarray(model.head.bias.value)
    expected = np.tanh(x @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)


def test_cnn_logits_shape():
    model = create_model(CNNConfig(channels=[4, 8]), (8, 8, 1), 10, seed=0)
    assert model(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 10)


def test_cnn_rejects_table_inputs():
    with pytest.raises(ConfigError, match="needs image inputs"):
        create_model(CNNConfig(), (30,), 2, seed=0)


def test_dropout_only_with_key():
    import jax

    model = create_model(MLPConfig(hidden=[64], dropout=0.5), (8,), 2, seed=0)
    x = np.ones((4, 8), np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    assert not np.allclose(np.asarray(model(x)), np.asarray(model(x, dropout_key=jax.random.PRNGKey(1))))


def test_same_seed_same_init():
    a = create_model(CNNConfig(channels=[4]), (8, 8, 1), 3, seed=7)
    b = create_model(CNNConfig(channels=[4]), (8, 8, 1), 3, seed=7)
    for x, y in zip(nnx.state(a, nnx.Param).flat_state(), nnx.state(b, nnx.Param).flat_state()):
        np.testing.assert_array_equal(np.asarray(x[1].value), np.asarray(y[1].value))


@pytest.mark.parametrize(
    "cfg, message",
    [
        (MLPConfig(hidden=[0]), r"model.hidden must contain positive sizes, got \[0\]"),
        (MLPConfig(dropout=1.5), r"model.dropout must be in \[0, 1\), got 1.5"),
        (CNNConfig(kernel_size=0), r"model.kernel_size must contain positive sizes"),
        (CNNConfig(channels=[8, -1]), r"model.channels must contain positive sizes"),
        (CNNConfig(dense=-3), r"model.dense must contain positive sizes"),
        (CNNConfig(dropout=-0.1), r"model.dropout must be in \[0, 1\)"),
    ],
)
def test_invalid_model_sizes_name_key(cfg, message):
    with pytest.raises(ConfigError, match=message):
        create_model(cfg, (8, 8, 1), 10, seed=0)

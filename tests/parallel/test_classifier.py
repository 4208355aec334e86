"""Class-sharded softmax cross-entropy and Partial-FC sampling against dense references."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from atlas_jax.errors import ConfigError
from atlas_jax.parallel import ParallelConfig, create_mesh, sharded_cross_entropy
from tests.parallel.common import RTOL

AXES = ("data", "tensor")


def _problem(batch=8, dim=16, classes=256):
    keys = jax.random.split(jax.random.key(0), 3)
    features = jax.random.normal(keys[0], (batch, dim))
    weight = jax.random.normal(keys[1], (classes, dim)) * 0.5
    labels = jax.random.randint(keys[2], (batch,), 0, classes)
    return features, weight, labels


def _dense_loss(features, weight, labels, allowed=None):
    logits = features @ weight.T
    if allowed is not None:
        logits = jnp.where(allowed, logits, -jnp.inf)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _sharded(features, weight, labels, mesh, **kwargs):
    weight = jax.device_put(weight, NamedSharding(mesh, P(AXES)))
    fn = lambda f, w: sharded_cross_entropy(f, labels, w, mesh=mesh, axes=AXES, **kwargs)
    with jax.set_mesh(mesh):
        return jax.jit(jax.value_and_grad(fn, argnums=(0, 1), has_aux="return_classes" in kwargs))(features, weight)


def _check_close(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert np.abs(actual - expected).max() <= RTOL * np.abs(expected).max()


def test_sharded_loss_equals_dense():
    features, weight, labels = _problem()
    mesh = create_mesh(ParallelConfig(data=2, tensor=4))
    loss, (g_features, g_weight) = _sharded(features, weight, labels, mesh)
    expected, (e_features, e_weight) = jax.value_and_grad(_dense_loss, argnums=(0, 1))(features, weight, labels)
    _check_close(loss, expected)
    _check_close(g_features, e_features)
    _check_close(g_weight, e_weight)


def test_partial_fc_equals_dense_over_sampled():
    features, weight, labels = _problem()
    mesh = create_mesh(ParallelConfig(data=2, tensor=4))
    (loss, classes), (g_features, g_weight) = _sharded(
        features, weight, labels, mesh, sample_size=8, key=jax.random.key(3), return_classes=True
    )
    classes = np.asarray(classes)
    assert classes.shape == (64,)  # 8 shards x 8 sampled classes
    assert len(np.unique(classes)) == 64
    assert set(np.asarray(labels).tolist()) <= set(classes.tolist())  # every positive sampled
    allowed = np.zeros(256, bool)
    allowed[classes] = True
    expected, (e_features, e_weight) = jax.value_and_grad(
        lambda f, w: _dense_loss(f, w, labels, allowed), argnums=(0, 1)
    )(features, weight)
    _check_close(loss, expected)
    _check_close(g_features, e_features)
    _check_close(g_weight, e_weight)
    # Rows of classes that were not sampled get no gradient.
    assert not np.asarray(g_weight)[~allowed].any()


def test_partial_fc_rejects_small_budget():
    features, weight, labels = _problem()
    mesh = create_mesh(ParallelConfig(data=2, tensor=4))
    with pytest.raises(ConfigError, match="sample_size=4 per shard is below"):
        sharded_cross_entropy(features, labels, weight, mesh=mesh, axes=AXES, sample_size=4, key=jax.random.key(0))


def test_classes_must_split_evenly():
    features, weight, labels = _problem(classes=250)
    mesh = create_mesh(ParallelConfig(data=2, tensor=4))
    with pytest.raises(ConfigError, match="250 classes do not split over 8 devices"):
        sharded_cross_entropy(features, labels, weight, mesh=mesh, axes=AXES)


def test_classifier_module_uses_context_axes():
    from flax import nnx

    from atlas_jax.parallel import ParallelContext, ShardedClassifier, jit_sharded, state_shardings

    features, _, labels = _problem(classes=64)
    head = ShardedClassifier(16, 64, rngs=nnx.Rngs(params=0))
    graphdef, state = nnx.split(head)
    ctx = ParallelContext.from_config(ParallelConfig(data=2, tensor=4))  # classes -> tensor

    def loss_fn(state, f):
        return nnx.merge(graphdef, state)(f, labels)

    shardings = state_shardings(ctx, state)
    assert shardings["weight"].get_value().spec == P("tensor")
    loss = jit_sharded(loss_fn, ctx, in_shardings=(shardings, None), out_shardings=None)(state, features)
    expected = _dense_loss(features, state["weight"].get_value(), labels)
    _check_close(loss, expected)

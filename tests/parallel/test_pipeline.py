"""Pipeline schedules: outputs and gradients equal the layers run in sequence; bubble counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from atlas_jax.errors import ConfigError
from atlas_jax.parallel import ParallelConfig, bubble_fraction, create_mesh, pipeline_layers, scan_layers
from tests.parallel.common import RTOL, relative_errors


def _layer(params, h):
    return jnp.tanh(h @ params["w"] + params["b"])


def _stack(num_layers: int, dim: int):
    keys = jax.random.split(jax.random.key(0), 2)
    return {
        "w": jax.random.normal(keys[0], (num_layers, dim, dim)) / np.sqrt(dim),
        "b": jax.random.normal(keys[1], (num_layers, dim)) * 0.1,
    }


# (data, pipe, microbatches, repeats): GPipe and circular, with and without a data axis.
CASES = [(2, 4, 4, 1), (2, 4, 4, 2), (1, 8, 8, 1), (2, 4, 6, 2)]


@pytest.mark.parametrize(("data", "pipe", "microbatches", "repeats"), CASES)
def test_pipeline_equals_sequential(data, pipe, microbatches, repeats):
    params, x = _stack(16, 8), jax.random.normal(jax.random.key(1), (24, 8))
    mesh = create_mesh(ParallelConfig(data=data, pipe=pipe))

    def run(p, v):
        return pipeline_layers(
            _layer, p, v, mesh=mesh, microbatches=microbatches, repeats=repeats,
            batch_spec="data" if data > 1 else None, return_schedule=True,
        )

    with jax.set_mesh(mesh):
        y, busy = jax.jit(run)(params, x)
        grads = jax.jit(jax.grad(lambda p, v: jnp.sum(run(p, v)[0] ** 2)))(params, x)
    expected = scan_layers(_layer, params, x)
    expected_grads = jax.grad(lambda p, v: jnp.sum(scan_layers(_layer, p, v) ** 2))(params, x)

    np.testing.assert_allclose(np.asarray(y), np.asarray(expected), rtol=RTOL, atol=RTOL)
    assert max(relative_errors(grads, expected_grads).values()) <= RTOL

    # The busy table is the schedule that ran: every stage works M*R ticks of M*R + S - 1.
    busy = np.asarray(busy)
    assert busy.shape == (pipe, microbatches * repeats + pipe - 1)
    assert (busy.sum(axis=1) == microbatches * repeats).all()
    assert np.isclose(1.0 - busy.mean(), bubble_fraction(pipe, microbatches, repeats))


def test_circular_bubble_below_gpipe():
    assert bubble_fraction(4, 4, repeats=2) < bubble_fraction(4, 4)
    assert bubble_fraction(4, 4) == pytest.approx(3 / 7)


def test_pipeline_rejects_uneven_layers():
    mesh = create_mesh(ParallelConfig(pipe=8))
    with pytest.raises(ConfigError, match="6 layers do not split into 8 pipeline stages"):
        pipeline_layers(_layer, _stack(6, 4), jnp.zeros((8, 4)), mesh=mesh, microbatches=8)


def test_circular_rejects_few_microbatches():
    mesh = create_mesh(ParallelConfig(pipe=4, data=2))
    with pytest.raises(ConfigError, match="microbatches >= parallel.pipe"):
        pipeline_layers(_layer, _stack(8, 4), jnp.zeros((8, 4)), mesh=mesh, microbatches=2, repeats=2)

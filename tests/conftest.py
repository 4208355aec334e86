"""Test setup shared by the whole suite.

Eight virtual CPU devices let single-machine tests exercise meshes and collectives.
XLA reads the flag once, when JAX initialises its backend, so it is set before
anything can import jax.
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _strict_numpy():
    """Turn silent numpy float errors into exceptions inside every test."""
    with np.errstate(invalid="raise", divide="raise", over="raise"):
        yield

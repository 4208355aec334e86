"""Remat policies change memory, never values."""

import jax
import pytest

from atlas_jax.config import ViTConfig
from atlas_jax.errors import ConfigError
from atlas_jax.models import create_model
from atlas_jax.parallel import ParallelConfig, ParallelContext, remat_policy
from atlas_jax.parallel.remat import host_offload_supported
from tests.parallel.common import RTOL, digits_batch, perturb, relative_errors, run_step

POLICIES = ["full", "dots_saveable", "dots_with_no_batch_dims_saveable", "save_names"]
if host_offload_supported():
    POLICIES.append("offload")


def _check_policies_keep_gradients(policies):
    model = perturb(create_model(ViTConfig(depth=2, embed_dim=16, num_heads=4, mlp_dim=32), (8, 8, 1), 10, seed=0))
    x, y = digits_batch(8)
    expected = run_step(None, model, x, y)
    for policy in policies:
        ctx = ParallelContext.from_config(ParallelConfig(num_devices=1, remat=policy))
        _, _, loss, grads = run_step(ctx, model, x, y)
        assert abs(float(loss) - float(expected[2])) <= RTOL * abs(float(expected[2])), policy
        assert max(relative_errors(grads, expected[3]).values()) <= RTOL, policy


def test_full_remat_keeps_gradients():
    _check_policies_keep_gradients(["full"])


@pytest.mark.slow
def test_every_remat_policy_keeps_gradients():
    _check_policies_keep_gradients(POLICIES)


def test_full_remat_recomputes_in_backward():
    def f(w, x):
        return jax.numpy.sin(x @ w).sum()

    from atlas_jax.parallel import with_remat

    wrapped = with_remat(f, "full")
    jaxpr = str(jax.make_jaxpr(jax.grad(wrapped))(jax.numpy.ones((4, 4)), jax.numpy.ones((2, 4))))
    assert "remat" in jaxpr or "checkpoint" in jaxpr


def test_unknown_policy_rejected():
    with pytest.raises(ConfigError, match="parallel.remat='sometimes' is invalid"):
        ParallelContext.from_config(ParallelConfig(num_devices=1, remat="sometimes"))


def test_name_policy_needs_names():
    with pytest.raises(ConfigError, match="needs parallel.remat_names"):
        ParallelContext.from_config(ParallelConfig(num_devices=1, remat="save_names", remat_names=[]))


def test_offload_policy_follows_backend():
    if host_offload_supported():
        assert remat_policy("offload", ["attn_out"]) is not None
    else:
        with pytest.raises(ConfigError, match="pinned host memory"):
            remat_policy("offload", ["attn_out"])

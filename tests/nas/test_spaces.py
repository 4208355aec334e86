"""NAS spaces on the search API: registration, conditions, supernet and model config."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from atlas_jax.config import MODEL_SCHEMAS
from atlas_jax.errors import ConfigError
from atlas_jax.nas.spaces import arch_from_values, supernet_for_space, values_from_arch
from atlas_jax.nas.standalone import model_config
from atlas_jax.search import get_space


@pytest.mark.parametrize("name", ["nas_mlp", "nas_cnn", "nas_transformer"])
def test_space_matches_supernet(name):
    space = get_space(name)
    net = supernet_for_space(space, (8, 8, 1), 10)
    assert set(space.paths) == {d.name for d in net.decisions}
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = space.sample(rng)
        arch = arch_from_values(net.decisions, values)
        assert values_from_arch(space, arch) == values


def test_conditional_blocks_follow_depth():
    space = get_space("nas_cnn")
    values = space.validate({"depth": 1, "channels_0": 8, "kernel_0": 3, "dense": 32})
    assert "channels_1" not in values
    with pytest.raises(ConfigError):
        space.validate({"depth": 1, "channels_0": 8, "kernel_0": 3, "dense": 32, "channels_1": 8})


def test_nevergrad_round_trip():
    space = get_space("nas_transformer")
    parametrization = space.to_nevergrad()
    values = space.from_nevergrad(parametrization.sample().value)
    assert space.validate(values) == values


def test_narrowed_bounds_shrink_supernet():
    space = get_space("nas_mlp", bounds={f"width_{i}": [32, 64] for i in range(3)})
    net = supernet_for_space(space, (8, 8, 1), 10)
    assert net.layers[0].kernel.shape == (64, 64)


def test_uneven_block_choices_rejected():
    space = get_space("nas_mlp", bounds={"width_0": [32, 64]})
    with pytest.raises(ConfigError, match="width"):
        supernet_for_space(space, (8, 8, 1), 10)


@pytest.mark.parametrize("name", ["nas_mlp", "nas_cnn", "nas_transformer"])
def test_model_config_binds_schema(name):
    space = get_space(name)
    net = supernet_for_space(space, (8, 8, 1), 10)
    cfg = model_config(net, net.decisions.largest())
    node = OmegaConf.structured(MODEL_SCHEMAS[cfg["name"]](**cfg))
    assert OmegaConf.to_container(node) == cfg

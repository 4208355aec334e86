"""Space registry: registration, lookup, bound overrides and built-in spaces."""

import sys
import textwrap

import pytest

from atlas_jax.errors import ConfigError
from atlas_jax.search import Float, Space, available_spaces, get_space, register_space
from tests.helpers import approx_values


@register_space("test_registry_space")
def _test_space(width: int = 4) -> Space:
    return Space({"optim.learning_rate": Float(1e-4, 1e-1, log=True), "model.width": width})


def test_get_space_passes_factory_kwargs_and_bounds():
    space = get_space("test_registry_space", width=8, optim__learning_rate=(1e-3, 1e-2))
    assert space.constants == {"model.width": 8}
    assert (space["optim.learning_rate"].low, space["optim.learning_rate"].high) == (1e-3, 1e-2)
    nested = get_space("test_registry_space", bounds={"optim": {"learning_rate": {"high": 0.05}}})
    assert nested["optim.learning_rate"].high == 0.05
    assert nested["optim.learning_rate"].low == 1e-4


def test_get_space_unknown_name_lists_registered():
    with pytest.raises(ConfigError, match="unknown search space 'nope'.*test_registry_space"):
        get_space("nope")


def test_register_space_duplicate_raises():
    with pytest.raises(ConfigError, match="already registered"):
        @register_space("test_registry_space")
        def other() -> Space:
            return Space({"a": Float(0, 1)})


def test_register_space_replace_allowed():
    @register_space("test_registry_replaced")
    def first() -> Space:
        return Space({"a": Float(0, 1)})

    @register_space("test_registry_replaced", replace=True)
    def second() -> Space:
        return Space({"b": Float(0, 1)})

    assert get_space("test_registry_replaced").paths == ["b"]


def test_register_space_non_space_return_raises():
    @register_space("test_registry_bad_return")
    def bad():
        return {"a": Float(0, 1)}

    with pytest.raises(ConfigError, match="returned dict"):
        get_space("test_registry_bad_return")


def test_space_from_user_module(tmp_path, monkeypatch):
    module = tmp_path / "user_spaces_mod.py"
    module.write_text(textwrap.dedent("""
        from atlas_jax.search import Choice, Space, register_space

        @register_space("user_space_from_module")
        def user_space():
            return Space({"model.activation": Choice(["relu", "gelu"])})
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        space = get_space("user_spaces_mod:user_space_from_module")
        assert space.paths == ["model.activation"]
        assert "user_space_from_module" in available_spaces()
    finally:
        sys.modules.pop("user_spaces_mod", None)
    with pytest.raises(ConfigError, match="cannot import search-space module 'missing_mod_xyz'"):
        get_space("missing_mod_xyz:thing")


@pytest.mark.parametrize("name", ["optim", "mlp", "cnn", "model_and_optim"])
def test_builtin_spaces_sample_and_convert(name):
    space = get_space(name)
    values = space.sample(0)
    assert space.from_overrides(space.to_overrides(values)) == approx_values(values, rel=1e-12)
    parametrization = space.to_nevergrad()
    assert space.validate(space.from_nevergrad(parametrization.value))


def test_build_space_from_hydra_config():
    from omegaconf import OmegaConf

    from atlas_jax.search import SpaceConfig, build_space

    cfg = OmegaConf.structured(SpaceConfig(name="test_registry_space"))
    cfg.args = {"width": 16}
    # A command-line override such as bounds.optim.learning_rate=[0.001,0.01] nests the path.
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(["bounds.optim.learning_rate=[0.001,0.01]"]))
    space = build_space(cfg)
    assert space.constants == {"model.width": 16}
    assert space["optim.learning_rate"].low == 0.001
    assert build_space({"name": "mlp", "bounds": {"optim.learning_rate": [0.01, 0.1]}})[
        "optim.learning_rate"].low == 0.01

"""Training objective: config reconstruction and trial composition through Hydra."""

import pytest
from omegaconf import OmegaConf

from atlas_jax.hpo import Trial, compose_config
from atlas_jax.hpo.objective import TrainingObjective, config_overrides
from atlas_jax.launch import config_dir
from atlas_jax.search import get_space


@pytest.mark.parametrize("overrides", [
    ["experiment=digits_automl"],
    ["experiment=digits_mlp", "optim.learning_rate=0.02", "model.hidden=[64,32]"],
    ["experiment=wine_mlp", "train.steps=17"],
])
def test_config_overrides_recompose_same_config(overrides):
    cfg = compose_config(config_dir(), overrides)
    again = compose_config(config_dir(), config_overrides(cfg, config_dir()))
    expected = OmegaConf.to_container(cfg, resolve=True)
    actual = OmegaConf.to_container(again, resolve=True)
    expected.pop("hpo")
    actual.pop("hpo")
    assert actual == expected


def test_trial_config_switches_model_group(tmp_path):
    cfg = compose_config(config_dir(), ["experiment=digits_mlp", "model.hidden=[32]"])
    objective = TrainingObjective(str(config_dir()), config_overrides(cfg, config_dir()))
    space = get_space("model_and_optim")
    values = space.validate({"model": "cnn", "model.channels": [16, 32], "model.dense": 64,
                             "model.dropout": 0.2, "optim.learning_rate": 0.004, "optim.weight_decay": 1e-4})
    trial = Trial(0, values, space.to_overrides(values), tmp_path, max_steps=33)
    trial_cfg = objective.trial_config(trial)
    assert trial_cfg.model.name == "cnn"
    assert list(trial_cfg.model.channels) == [16, 32]
    assert trial_cfg.model.dense == 64
    assert trial_cfg.optim.learning_rate == 0.004
    assert trial_cfg.train.steps == 33
    assert trial_cfg.train.progress is False
    assert trial_cfg.data.name == "digits"
    assert "hidden" not in trial_cfg.model


def test_compose_config_inside_initialized_hydra(tmp_path):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose_config(config_dir(), ["experiment=wine_mlp"])
        assert GlobalHydra.instance().is_initialized()
    assert cfg.data.name == "wine"

"""The `parallel` config group composes with the ViT experiment for every preset."""

import pytest
from omegaconf import OmegaConf

from atlas_jax.parallel import ParallelConfig
from atlas_jax.parallel.presets import PRESETS
from tests.helpers import compose_config


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes_with_vit_digits(preset):
    cfg = compose_config(["experiment=vit_digits", f"parallel={preset}"])
    parallel = OmegaConf.to_object(cfg.parallel)
    assert isinstance(parallel, ParallelConfig)
    assert cfg.model.name == "vit"
    # The experiment's depth and batch fit every preset's pipeline split.
    assert cfg.model.depth % (max(parallel.pipe, 1) * parallel.repeats) == 0
    assert cfg.train.batch_size % (8 * parallel.microbatches) == 0


def test_default_parallel_is_single():
    cfg = compose_config([])
    assert cfg.parallel.num_devices == 1


def test_rules_override_from_command_line():
    cfg = compose_config(["parallel=tp", "parallel.rules=[[batch,data],[mlp,tensor]]"])
    assert OmegaConf.to_object(cfg.parallel).rules == [["batch", "data"], ["mlp", "tensor"]]

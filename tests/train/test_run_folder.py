"""Run- and study-folder config guards."""

import pytest
from omegaconf import OmegaConf

from atlas_jax.errors import AtlasError
from atlas_jax.train.run_folder import STUDY_CONFIG, check_run_config, check_study_config


def study_config(**hpo):
    return OmegaConf.create({"hpo": {"budget": 4, "trial_steps": 20, **hpo}, "train": {"progress": True}})


def test_study_guard_names_changed_key(tmp_path):
    check_study_config(tmp_path, study_config(), has_trials=False)
    check_study_config(tmp_path, study_config(budget=9), has_trials=True)  # more trials may be asked
    with pytest.raises(AtlasError, match=r"hpo.trial_steps: 20 -> 30"):
        check_study_config(tmp_path, study_config(trial_steps=30), has_trials=True)


def test_cut_saved_config_raises_clear_error(tmp_path):
    check_study_config(tmp_path, study_config(), has_trials=False)
    path = tmp_path / STUDY_CONFIG
    path.write_text(path.read_text()[:12] + ": [unclosed")
    with pytest.raises(AtlasError, match="cannot read the saved config"):
        check_study_config(tmp_path, study_config(), has_trials=True)
    run_dir = tmp_path / "run"
    check_run_config(run_dir, study_config(), has_checkpoints=False, resume=True)
    (run_dir / "run_config.yaml").write_text("hpo: {budget: [")
    with pytest.raises(AtlasError, match="cannot read the saved config"):
        check_run_config(run_dir, study_config(), has_checkpoints=True, resume=True)


def test_cut_but_parsable_config_is_named(tmp_path):
    check_study_config(tmp_path, study_config(), has_trials=False)
    (tmp_path / STUDY_CONFIG).write_text("hpo:\n  budget: 4\n")
    with pytest.raises(AtlasError, match="lacks 1 key, so it may have been cut"):
        check_study_config(tmp_path, study_config(), has_trials=True)

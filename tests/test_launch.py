"""The `atlas` command end to end, in real subprocesses."""

import json

import pytest

from atlas_jax.launch import check_group_overrides, config_dir
from tests.helpers import compose_config, run_atlas

FAST = ["experiment=digits_cnn", "train.steps=4", "train.batch_size=32", "train.eval_every=2", "train.log_every=1", "train.checkpoint_every=2", "train.progress=false", "model.channels=[4]", "model.dense=16"]


def test_unknown_model_is_one_line_naming_valid_models(tmp_path):
    result = run_atlas(["model=nosuchmodel"], tmp_path, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: unknown model 'nosuchmodel'; valid model options: cnn, mlp"] or (
        len(lines) == 1 and "nosuchmodel" in lines[0] and "cnn" in lines[0] and "mlp" in lines[0]
    )
    assert not (tmp_path / "runs").exists()


def test_output_dir_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_atlas([*FAST, f"hydra.run.dir={tmp_path / 'file' / 'run'}"], tmp_path, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "is a file, not a folder" in lines[0]
    assert "hydra.run.dir=PATH" in lines[0]


def test_output_dir_check_accepts_new_nested_folders(tmp_path):
    from atlas_jax.launch import check_output_dir

    assert check_output_dir([f"hydra.run.dir={tmp_path / 'a' / 'b'}"], tmp_path) is None
    assert check_output_dir([], tmp_path) is None


def test_group_check_accepts_sweeps_of_valid_options():
    assert check_group_overrides(["model=cnn,mlp", "train.steps=3"], config_dir()) is None
    assert "unknown optim 'rmsprop'" in check_group_overrides(["optim=adamw,rmsprop"], config_dir())


def test_wrong_type_fails_at_compose_naming_key():
    from omegaconf.errors import ValidationError
    from hydra.errors import ConfigCompositionException

    with pytest.raises((ConfigCompositionException, ValidationError), match="train.steps"):
        compose_config(["train.steps=abc"])


def test_unknown_key_fails_at_compose():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="nosuchkey"):
        compose_config(["train.nosuchkey=1"])


def test_appended_key_rejected_naming_it():
    from atlas_jax.config import check_known_keys
    from atlas_jax.errors import ConfigError

    check_known_keys(compose_config(["experiment=digits_cnn"]))
    check_known_keys(compose_config(["+hpo.space.bounds.optim.learning_rate=[0.001,0.01]"]))  # an open dict
    with pytest.raises(ConfigError, match="unknown config key 'train.newkey'"):
        check_known_keys(compose_config(["+train.newkey=1"]))
    with pytest.raises(ConfigError, match="unknown config key 'newtop'"):
        check_known_keys(compose_config(["+newtop=1"]))


def test_wrong_type_from_command_line(tmp_path):
    result = run_atlas(["train.steps=abc"], tmp_path, timeout=60)
    assert result.returncode != 0
    assert "train.steps" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("summary.json"))


def test_unknown_task_lists_tasks(tmp_path):
    result = run_atlas(["task=nosuchtask", *FAST], tmp_path, timeout=120)
    assert result.returncode != 0
    assert "unknown task 'nosuchtask'; valid tasks:" in result.stderr
    assert "train" in result.stderr
    # Shown once on the terminal (stdout and stderr together), and kept in the run's log file.
    assert (result.stdout + result.stderr).count("unknown task 'nosuchtask'") == 1
    logs = list((tmp_path / "runs").rglob("*.log"))
    assert logs
    assert any("unknown task 'nosuchtask'" in log.read_text() for log in logs)


def test_cnn_run_folder_and_summary(tmp_path):
    result = run_atlas(FAST, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    folders = [p.parent for p in (tmp_path / "runs" / "digits_cnn").rglob("summary.json")]
    assert len(folders) == 1
    summary = json.loads((folders[0] / "summary.json").read_text())
    assert summary["steps"] == 4
    assert (folders[0] / ".hydra" / "config.yaml").exists()


def test_path_override_makes_one_folder(tmp_path):
    history = tmp_path / "meta" / "history.jsonl"
    result = run_atlas([*FAST, f"hpo.prior.history={history}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    folders = [p.parent for p in (tmp_path / "runs" / "digits_cnn").rglob("summary.json")]
    assert len(folders) == 1
    assert folders[0].parent == tmp_path / "runs" / "digits_cnn"
    assert f"hpo.prior.history={str(history).replace('/', '%2F')}" in folders[0].name


@pytest.mark.parametrize("overrides, expected", [
    ("", ""),
    ("a=1,b=x", "a=1,b=x"),
    ("data.path=/tmp/d/x.csv", "data.path=%2Ftmp%2Fd%2Fx.csv"),
    ("a=50%2F", "a=50%252F"),  # a literal %2F stays distinct from an escaped "/"
])
def test_folder_name_escapes_slashes(overrides, expected):
    from atlas_jax.config import folder_name

    assert folder_name(overrides) == expected


def test_folder_name_shortens_long_names():
    from atlas_jax.config import MAX_FOLDER_NAME, folder_name

    first, second = folder_name("k=" + "a" * 300), folder_name("k=" + "a" * 299 + "b")
    assert len(first) == MAX_FOLDER_NAME
    assert len(second) == MAX_FOLDER_NAME
    assert first != second
    wide = folder_name("k=" + "\u00e9" * 300)  # two UTF-8 bytes per character
    assert len(wide.encode()) <= MAX_FOLDER_NAME
    assert wide.startswith("k=\u00e9")


def test_multirun_makes_one_folder_per_value(tmp_path):
    result = run_atlas(["-m", "optim.learning_rate=0.001,0.003", *FAST], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summaries = sorted((tmp_path / "multirun" / "digits_cnn").rglob("summary.json"))
    assert len(summaries) == 2
    names = sorted(p.parent.name for p in summaries)
    assert "optim.learning_rate=0.001" in names[0]
    assert "optim.learning_rate=0.003" in names[1]


def test_help_shows_nested_factory_defaults():
    from atlas_jax.cli_help import help_text

    lines = {line.split()[0]: line for line in help_text(config_dir()).splitlines() if line.startswith("  ")}
    assert "'nas_cnn'" in lines["nas.space.name"]
    assert "'atlas_jax.nas.spaces'" in lines["nas.space.module"]
    assert "'mlp'" in lines["hpo.space.name"]
    assert "score model" in lines["hpo.prior.pool"]


def test_help_lists_groups_and_key_meanings(tmp_path):
    result = run_atlas(["--help"], tmp_path, timeout=60)
    assert result.returncode == 0
    assert "model        cnn, mlp" in result.stdout
    assert "train.steps" in result.stdout
    assert "total optimizer steps" in result.stdout
    assert "model.kernel_size" in result.stdout
    assert "in pixels" in result.stdout


@pytest.mark.parametrize("experiment", ["digits_automl", "digits_cnn"])
@pytest.mark.parametrize("overrides", [["data=breast_cancer", "model=mlp"], ["data=csv", "data.path=my.csv", "model=mlp"]])
def test_readme_table_examples_drop_image_augmentation(experiment, overrides):
    # Both digits experiments augment images; a table chosen on the command line must not inherit that.
    assert compose_config([f"experiment={experiment}", *overrides]).data.augment_shift == 0


def test_main_job_is_digits_automl():
    cfg = compose_config([])
    assert cfg.task == "automl"
    assert cfg.name == "digits_automl"
    assert cfg.hpo.prior.enabled


def test_digits_experiments_keep_augmentation():
    assert compose_config([]).data.augment_shift == 1
    assert compose_config(["experiment=digits_cnn"]).data.augment_shift == 1
    assert compose_config(["experiment=digits_mlp"]).data.augment_shift == 0


@pytest.mark.multiprocess
def test_multirun_continues_after_failed_job(tmp_path):
    diverge = ["optim=sgd", "optim.grad_clip_norm=null", "optim.warmup_steps=0", "optim.schedule=constant"]
    result = run_atlas(["-m", *FAST, *diverge, "optim.learning_rate=1e12,0.01"], tmp_path)
    assert result.returncode == 1
    assert "1 multirun job(s) failed" in result.stderr
    assert "optim.learning_rate=1000000000000.0" in result.stderr.splitlines()[-1]
    summaries = sorted(p.parent.name for p in (tmp_path / "multirun").rglob("summary.json"))
    assert len(summaries) == 1
    assert "optim.learning_rate=0.01" in summaries[0]

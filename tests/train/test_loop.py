"""The training loop in-process: metrics, summary, NaN handling, run-folder guard."""

import json
import shutil

import jax
import numpy as np
import pytest

from atlas_jax.errors import AtlasError, NonFiniteLossError
from atlas_jax.train import Checkpointer, train_and_evaluate
from tests.helpers import compose_config

def _fresh_state(cfg):
    from atlas_jax.data import load_dataset
    from atlas_jax.models import create_model
    from atlas_jax.train import create_optimizer, create_train_state

    data = load_dataset(cfg.data)
    model = create_model(cfg.model, data.feature_shape, data.num_classes, seed=0)
    tx, _ = create_optimizer(cfg.optim, cfg.train.steps)
    return create_train_state(model, tx, 0)[2]


SMOKE = ["experiment=digits_cnn", "train.steps=4", "train.batch_size=32", "train.eval_every=2", "train.log_every=1", "train.checkpoint_every=2", "train.progress=false", "model.channels=[4]", "model.dense=16"]


def test_one_step_run_writes_run_folder(tmp_path):
    cfg = compose_config(SMOKE)
    summary = train_and_evaluate(cfg, tmp_path)
    assert summary["steps"] == 4
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["test_accuracy"] == summary["test_accuracy"]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert Checkpointer(tmp_path, keep=2).latest_step() == 4


def test_run_without_validation_writes_test_metrics_only(tmp_path):
    # A retrain on train+val has seen the validation split: no validation figure may appear.
    summary = train_and_evaluate(compose_config(SMOKE), tmp_path, validate=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "test"}
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert not [k for k in on_disk if k.startswith(("val_", "best_val")) or k == "objective"]
    assert "validation" in on_disk
    assert 0.0 <= on_disk["test_accuracy"] <= 1.0


def test_rerun_of_finished_run_trains_no_more(tmp_path):
    cfg = compose_config(SMOKE)
    first = train_and_evaluate(cfg, tmp_path)
    second = train_and_evaluate(cfg, tmp_path)
    assert second["resumed_from_step"] == 4
    assert second["test_loss"] == first["test_loss"]


def test_changed_config_refused_on_resume(tmp_path):
    train_and_evaluate(compose_config(SMOKE), tmp_path)
    with pytest.raises(AtlasError, match=r"different config \(optim.learning_rate"):
        train_and_evaluate(compose_config(SMOKE + ["optim.learning_rate=0.5"]), tmp_path)


def test_resume_false_refuses_existing_checkpoints(tmp_path):
    train_and_evaluate(compose_config(SMOKE), tmp_path)
    with pytest.raises(AtlasError, match="already contains checkpoints"):
        train_and_evaluate(compose_config(SMOKE + ["train.resume=false"]), tmp_path)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    # Plain SGD at a huge rate with no clipping overflows within a few steps.
    cfg = compose_config(
        SMOKE + ["optim=sgd", "optim.learning_rate=1e12", "optim.warmup_steps=0", "optim.grad_clip_norm=null",
                 "optim.schedule=constant", "train.steps=50", "train.checkpoint_every=1", "train.keep_checkpoints=50"]
    )
    with pytest.raises(NonFiniteLossError, match=r"became (nan|inf|-inf) at step (\d+)") as info:
        train_and_evaluate(cfg, tmp_path)
    bad_step = int(info.value.args[0].split(" at step ")[1].split(" ")[0])
    checkpointer = Checkpointer(tmp_path, keep=50)
    assert checkpointer.latest_step() == bad_step - 1
    state, _ = checkpointer.restore(bad_step - 1, _fresh_state(cfg))
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(state.params))
    assert not (tmp_path / "summary.json").exists()


def test_on_eval_can_stop_training(tmp_path):
    seen = []

    class Stop(Exception):
        pass

    def on_eval(step, metrics):
        seen.append((step, metrics["accuracy"]))
        raise Stop

    with pytest.raises(Stop):
        train_and_evaluate(compose_config(SMOKE), tmp_path, on_eval=on_eval)
    assert seen and seen[0][0] == 2
    assert np.isfinite(seen[0][1])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.seed=-1", "train.seed must be zero or positive, got -1"),
        ("train.keep_checkpoints=0", "train.keep_checkpoints must be positive, got 0"),
        ("data.val_fraction=0", "no val examples"),
        ("data.test_fraction=0", "no test examples"),
    ],
)
def test_invalid_run_config_fails_before_training(tmp_path, override, message):
    with pytest.raises(AtlasError, match=message):
        train_and_evaluate(compose_config(SMOKE + [override]), tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_nan_before_first_checkpoint_says_none_saved(tmp_path):
    cfg = compose_config(SMOKE + ["optim=sgd", "optim.learning_rate=1e12", "optim.warmup_steps=0",
                                  "optim.grad_clip_norm=null", "optim.schedule=constant", "train.steps=50",
                                  "train.checkpoint_every=50"])
    with pytest.raises(NonFiniteLossError) as info:
        train_and_evaluate(cfg, tmp_path)
    assert "No checkpoint had been saved yet" in str(info.value)
    assert "step None" not in str(info.value)


def test_fresh_start_drops_rows_of_killed_attempt(tmp_path):
    # An attempt that wrote metrics but no checkpoint (killed early, here: checkpoints deleted) restarts at step 0.
    cfg = compose_config(SMOKE)
    train_and_evaluate(cfg, tmp_path)
    first = (tmp_path / "metrics.jsonl").read_text()
    for step_folder in (tmp_path / "checkpoints").iterdir():
        shutil.rmtree(step_folder)
    train_and_evaluate(cfg, tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text().count('"split": "test"') == 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == len(first.splitlines())


def test_damaged_checkpoint_error_keeps_older_ones(tmp_path):
    cfg = compose_config(SMOKE)
    train_and_evaluate(cfg, tmp_path)
    (tmp_path / "summary.json").unlink()
    for item in (tmp_path / "checkpoints" / "4").iterdir():
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    with pytest.raises(AtlasError, match=r"delete only .*checkpoints/4 and rerun to resume from step 2") as info:
        train_and_evaluate(cfg, tmp_path)
    assert "delete the folder" not in str(info.value)
    assert Checkpointer(tmp_path, keep=2).all_steps() == [2, 4]


def test_run_folder_in_use_is_rejected(tmp_path):
    from atlas_jax.train.run_folder import lock_run_folder

    with lock_run_folder(tmp_path):
        with pytest.raises(AtlasError, match=rf"run folder {tmp_path} is in use by another process \(pid \d+\)"):
            train_and_evaluate(compose_config(SMOKE), tmp_path)
    assert not (tmp_path / "checkpoints").exists()
    with lock_run_folder(tmp_path):  # released on exit
        pass

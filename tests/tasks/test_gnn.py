"""`atlas task=gnn`: both experiments compose, and a small run fills its run folder and resumes."""

import json

import pytest

from atlas_jax.tasks import run_task
from tests.helpers import compose_config, run_atlas

SMALL = [
    "gnn.data.num_nodes=1500", "gnn.data.num_features=8", "gnn.model.hidden=16", "gnn.sampler.batch_size=64",
    "gnn.sampler.batches_per_step=1", "gnn.epochs=2", "train.progress=false",
]


@pytest.mark.parametrize("experiment, dataset, nodes", [("gnn_csbm", "csbm", 100_000), ("gnn_knn_digits", "knn", None)])
def test_gnn_experiments_compose(experiment, dataset, nodes):
    cfg = compose_config([f"experiment={experiment}"])
    assert cfg.task == "gnn"
    assert cfg.gnn.data.name == dataset
    assert cfg.gnn.mode == "sampled"
    if nodes is not None:
        assert cfg.gnn.data.num_nodes == nodes


def test_gnn_task_writes_run_folder_and_resumes(tmp_path):
    cfg = compose_config(["experiment=gnn_csbm", *SMALL, f"gnn.data.cache_dir={tmp_path / 'cache'}"])
    run_dir = tmp_path / "run"
    summary = run_task(cfg, run_dir)
    assert summary["train_step_compiles"] == 1
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["objective"] == pytest.approx(1 - summary["val_accuracy"])
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["steps"] == summary["steps"] == 2 * (900 // 64)
    assert (run_dir / "metrics.jsonl").stat().st_size > 0
    assert (run_dir / "run_config.yaml").is_file()
    assert any(p.name.isdigit() for p in (run_dir / "checkpoints").iterdir())

    # Rerunning the finished run restores the last checkpoint and trains no further.
    again = run_task(cfg, run_dir)
    assert again["steps"] == summary["steps"]
    assert again["train_step_compiles"] == 0
    assert again["test_accuracy"] == summary["test_accuracy"]


@pytest.mark.slow
def test_atlas_command_runs_gnn_experiment(tmp_path):
    result = run_atlas(
        ["experiment=gnn_knn_digits", "gnn.epochs=2", "train.progress=false",
         f"gnn.data.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["dataset"] == "knn"
    assert summary["test_accuracy"] > 0.5


@pytest.mark.parametrize("option, dataset, mode", [("karate", "karate", "full"), ("rmat", "rmat", "sampled")])
def test_gnn_group_options_compose(option, dataset, mode):
    cfg = compose_config(["task=gnn", f"gnn={option}"])
    assert cfg.gnn.data.name == dataset
    assert cfg.gnn.mode == mode

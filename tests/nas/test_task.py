"""`atlas task=nas experiment=digits_nas` end to end with tiny budgets."""

import json

import pytest
import yaml
from omegaconf import OmegaConf

from atlas_jax.config import MODEL_SCHEMAS
from atlas_jax.tasks import nas
from tests.helpers import compose_config

TINY = [
    "experiment=digits_nas",
    "nas.supernet_steps=20",
    "nas.population=4",
    "nas.parents=2",
    "nas.mutations=2",
    "nas.crossovers=2",
    "nas.generations=1",
    "nas.max_params=8000",
    "train.steps=10",
    "train.eval_every=5",
    "train.checkpoint_every=5",
    "train.progress=false",
]


@pytest.mark.slow
def test_nas_task_writes_run_folder(tmp_path):
    cfg = compose_config(TINY)
    summary = nas.run(cfg, tmp_path)

    assert summary["cost"]["params"] <= 8000
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    for name in ("search.json", "trials.jsonl", "best_model.yaml", "summary.json"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "retrain" / "summary.json").is_file()
    # Sweepers minimise the objective, so it must come from validation data, never the test split.
    assert summary["objective"] == pytest.approx(1.0 - summary["retrain_val_accuracy"])
    trials = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    assert all(t["params"] <= 8000 for t in trials)

    written = yaml.safe_load((tmp_path / "best_model.yaml").read_text())
    assert written["defaults"] == [f"base_{summary['model']['name']}"]
    body = {k: v for k, v in written.items() if k != "defaults"}
    schema = MODEL_SCHEMAS[body["name"]]
    assert OmegaConf.to_container(OmegaConf.structured(schema(**body))) == summary["model"]

    # A rerun reuses the finished search and resumes the finished retrain.
    again = nas.run(cfg, tmp_path)
    assert again["best_arch"] == summary["best_arch"]
    assert again["test_accuracy"] == pytest.approx(summary["test_accuracy"])

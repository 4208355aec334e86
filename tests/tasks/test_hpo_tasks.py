"""End-to-end hpo and automl tasks on wine with a few tiny trials."""

import json

import pytest
from omegaconf import OmegaConf

from atlas_jax.hpo import compose_config
from atlas_jax.launch import config_dir


def small_overrides(tmp_path, task):
    return [
        "experiment=wine_mlp", f"task={task}", "train.eval_every=10", "train.log_every=10",
        "train.checkpoint_every=20", "train.progress=false", "hpo.space.name=mlp", "hpo.budget=3",
        "hpo.num_workers=1", "hpo.executor=inline", "hpo.trial_steps=20", "hpo.retrain_steps=20",
        f"hpo.prior.history={tmp_path / 'history.jsonl'}",
    ]


@pytest.mark.slow
def test_hpo_task_writes_study(tmp_path):
    from atlas_jax.tasks import hpo

    cfg = compose_config(config_dir(), small_overrides(tmp_path, "hpo"))
    summary = hpo.run(cfg, tmp_path / "run")
    assert summary["trials"] == {"complete": 3}
    assert 0.0 <= summary["best_metric"] <= 1.0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["best_trial"] == summary["best_trial"]
    assert (tmp_path / "run" / "best_overrides.txt").exists()
    assert (tmp_path / "run" / "best_so_far.png").exists()


@pytest.mark.slow
def test_automl_task_uses_history(tmp_path):
    from atlas_jax.meta import MetaHistory
    from atlas_jax.tasks import automl

    overrides = small_overrides(tmp_path, "automl") + ["hpo.prior.enabled=true"]
    first = automl.run(compose_config(config_dir(), overrides), tmp_path / "first")
    assert 0.0 <= first["test_accuracy"] <= 1.0
    assert first["warm_starts"] == 0
    assert first["meta_history"]["path"] == str(tmp_path / "history.jsonl")
    assert first["meta_history"]["past_tasks"] == 0
    assert first["meta_history"]["recorded"]
    history = MetaHistory(tmp_path / "history.jsonl").load()
    assert [r.task for r in history] == ["wine"]
    final = json.loads((tmp_path / "first" / "final" / "summary.json").read_text())
    assert "val_accuracy" not in final  # the retrain saw the validation split
    rows = [json.loads(line) for line in (tmp_path / "first" / "final" / "metrics.jsonl").read_text().splitlines()]
    assert "val" not in {r["split"] for r in rows}
    assert final["test_accuracy"] == first["test_accuracy"]
    assert first["retrain_wall_time_s"] == final["wall_time_s"]
    # A rerun may not resume that retrain on other splits.
    from atlas_jax.errors import AtlasError

    with pytest.raises(AtlasError, match=r"hpo.retrain=true"):
        automl.run(compose_config(config_dir(), overrides + ["hpo.retrain=false"]), tmp_path / "first")
    # Nor resume it for another length: the message names final/ to delete, and the search is kept.
    with pytest.raises(AtlasError, match=r"train.steps: 20 -> 40.*delete .*final"):
        automl.run(compose_config(config_dir(), overrides + ["hpo.retrain_steps=40"]), tmp_path / "first")
    assert (tmp_path / "first" / "search" / "trials.jsonl").exists()

    # A second task (breast_cancer) gets wine as its nearest neighbour and warm starts from it.
    second_overrides = [o.replace("experiment=wine_mlp", "experiment=breast_cancer_mlp") for o in overrides]
    second = automl.run(compose_config(config_dir(), second_overrides), tmp_path / "second")
    assert second["prior_neighbors"][0][0] == "wine"
    assert second["warm_starts"] == 3
    assert second["meta_history"]["past_tasks"] == 1


def test_appended_bound_replaces_experiment_bound():
    """The README's `+hpo.space.bounds.<path>=[low,high]` form wins over the experiment's bound."""
    from atlas_jax.search import build_space

    cfg = compose_config(config_dir(), ["experiment=digits_automl", "+hpo.space.bounds.optim.learning_rate=[0.002,0.004]"])
    learning_rate = build_space(cfg.hpo.space).params["optim.learning_rate"]
    assert (learning_rate.low, learning_rate.high) == (0.002, 0.004)
    assert build_space(cfg.hpo.space).params["model.dropout"].low == 0.1  # the experiment's other bounds stay


def test_changed_study_config_rejected_on_rerun(tmp_path):
    from atlas_jax.errors import AtlasError
    from atlas_jax.tasks import hpo

    overrides = small_overrides(tmp_path, "hpo")
    first = overrides[:-1] + ["hpo.budget=1", "hpo.prior.enabled=false"]
    hpo.run(compose_config(config_dir(), first), tmp_path / "run")
    lines = (tmp_path / "run" / "trials.jsonl").read_text().splitlines()
    changed = [o for o in first if not o.startswith("hpo.trial_steps")] + ["hpo.trial_steps=30"]
    with pytest.raises(AtlasError, match=r"hpo.trial_steps: 20 -> 30"):
        hpo.run(compose_config(config_dir(), changed), tmp_path / "run")
    assert (tmp_path / "run" / "trials.jsonl").read_text().splitlines() == lines  # nothing was lost or added
    # More trials may be asked of the same study.
    more = [o for o in first if not o.startswith("hpo.budget")] + ["hpo.budget=2"]
    assert hpo.run(compose_config(config_dir(), more), tmp_path / "run")["trials"] == {"complete": 2}


def rule_history(path, count=4):
    """Write past studies of the mlp space whose best learning rate follows a meta-feature."""
    import numpy as np

    from atlas_jax.meta import MetaHistory, TaskRecord
    from atlas_jax.search import build_space

    cfg = compose_config(config_dir(), ["experiment=wine_mlp", "hpo.space.name=mlp"])
    space = build_space(cfg.hpo.space)
    history = MetaHistory(path)
    for i, level in enumerate(np.linspace(0.2, 0.8, count)):
        rng = np.random.default_rng(i)
        trials = []
        for _ in range(30):
            values = space.sample(rng)
            metric = 1.0 - abs(np.log10(values["optim.learning_rate"]) - (-4.0 + 3.0 * level)) / 4
            trials.append({"values": values, "metric": float(metric)})
        history.add(TaskRecord(f"past{i}", {"landmark_linear": float(level), "log_samples": 5.0}, trials))
    return space


@pytest.mark.slow
def test_hpo_task_score_model_prior(tmp_path):
    from atlas_jax.tasks import hpo

    rule_history(tmp_path / "history.jsonl")
    overrides = small_overrides(tmp_path, "hpo") + ["hpo.prior.enabled=true", "hpo.prior.record=false",
                                                    "hpo.prior.pool=10", "hpo.prior.k=4", "hpo.prior.warm_starts=2"]
    summary = hpo.run(compose_config(config_dir(), overrides), tmp_path / "run")
    assert summary["warm_starts"] == 2
    assert summary["meta_history"]["past_tasks"] == 4
    # The first two trials are warm starts: past configs, up to nevergrad's float round trip.
    lines = (tmp_path / "run" / "trials.jsonl").read_text().splitlines()
    first = {}
    for row in map(json.loads, lines):
        first.setdefault(row["trial"], row["values"])
    past = [t["values"] for line in (tmp_path / "history.jsonl").read_text().splitlines()
            for t in json.loads(line)["trials"]]
    for trial in (0, 1):
        assert any(same_config(first[trial], values) for values in past), first[trial]


def same_config(a, b):
    if a.keys() != b.keys():
        return False
    return all(a[k] == pytest.approx(b[k], rel=1e-6) if isinstance(a[k], float) else a[k] == b[k] for k in a)


@pytest.mark.parametrize("override, key", [
    (["hpo.prior.enabled=true", "hpo.prior.pool=-1"], "hpo.prior.pool"),
    (["hpo.prior.pool=-1"], "hpo.prior.pool"),  # checked even with the prior off
    (["hpo.prior.enabled=true", "hpo.prior.k=0"], "hpo.prior.k"),
    (["hpo.prior.enabled=true", "hpo.prior.warm_starts=-1"], "hpo.prior.warm_starts"),
    (["hpo.budget=-1"], "hpo.budget"),
    (["hpo.max_failures=-1"], "hpo.max_failures"),
    (["hpo.trial_steps=0"], "hpo.trial_steps"),
    (["hpo.retrain_steps=0"], "hpo.retrain_steps"),
    (["hpo.mode=maximum"], "hpo.mode"),
])
def test_hpo_task_rejects_bad_values(tmp_path, override, key):
    from atlas_jax.errors import ConfigError
    from atlas_jax.tasks import hpo

    overrides = small_overrides(tmp_path, "hpo") + override
    with pytest.raises(ConfigError, match=key):
        hpo.run(compose_config(config_dir(), overrides), tmp_path / "run")
    assert not (tmp_path / "run" / "trials.jsonl").exists()


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), "atlas"])
def test_unwritable_history_keeps_study_summary(tmp_path, monkeypatch, caplog, error):
    from atlas_jax.errors import AtlasError
    from atlas_jax.meta import MetaHistory
    from atlas_jax.tasks import hpo

    def fail_to_write(self, record):
        raise AtlasError(f"cannot write meta-history {self.path}: read-only") if error == "atlas" else error

    monkeypatch.setattr(MetaHistory, "add", fail_to_write)
    overrides = small_overrides(tmp_path, "hpo") + ["hpo.prior.enabled=true", "hpo.budget=1"]
    with caplog.at_level("WARNING", logger="atlas_jax.tasks.hpo"):
        summary = hpo.run(compose_config(config_dir(), overrides), tmp_path / "run")
    assert summary["meta_history"]["recorded"] is False
    assert (tmp_path / "run" / "summary.json").exists()
    assert any("hpo.prior.record=false" in r.getMessage() for r in caplog.records)


def test_best_experiment_recomposes_best_trial(tmp_path):
    from hydra import compose, initialize_config_dir

    from atlas_jax.config import register_configs
    from atlas_jax.tasks import hpo

    overrides = small_overrides(tmp_path, "hpo") + ["hpo.budget=2"]
    summary = hpo.run(compose_config(config_dir(), overrides), tmp_path / "run")
    experiments = tmp_path / "extra" / "experiment"
    experiments.mkdir(parents=True)
    (experiments / "qa_best.yaml").write_text((tmp_path / "run" / "best_experiment.yaml").read_text())

    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config",
                      overrides=[f"hydra.searchpath=[file://{tmp_path / 'extra'}]", "experiment=qa_best"])
    assert cfg.task == "train"
    assert cfg.model.name == "mlp"
    assert cfg.data.name == "wine"
    assert cfg.train.steps == 20  # the trials' hpo.trial_steps
    for path, value in summary["best_values"].items():
        composed = OmegaConf.select(cfg, path)
        assert composed == pytest.approx(value, rel=1e-9) if isinstance(value, float) else composed == value

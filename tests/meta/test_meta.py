"""Meta-features, history and the k-nearest-task prior."""

import fcntl
import json
import threading
from dataclasses import asdict

import numpy as np
import pytest
from scipy import stats

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.meta import (
    FEATURE_NAMES,
    MetaHistory,
    TaskRecord,
    build_prior,
    compute_meta_features,
    feature_vector,
    task_distances,
)
from atlas_jax.search import Choice, Float, Int, Space


def blobs(n=300, d=5, classes=3, separation=3.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(classes, size=n)
    centers = rng.normal(size=(classes, d)) * separation
    return centers[y] + rng.normal(size=(n, d)), y


def test_meta_features_match_references():
    x, y = blobs()
    features = compute_meta_features(x, y, max_columns=5)
    assert set(features) == set(FEATURE_NAMES)
    _, counts = np.unique(y, return_counts=True)
    assert features["log_samples"] == pytest.approx(np.log(300))
    assert features["log_features"] == pytest.approx(np.log(5))
    assert features["class_entropy"] == pytest.approx(stats.entropy(counts) / np.log(3), rel=1e-12)
    assert features["minority_fraction"] == pytest.approx(counts.min() / 300)
    skew = np.mean(np.abs(stats.skew(x, axis=0)))
    assert features["mean_abs_skew"] == pytest.approx(skew, rel=1e-9)
    correlation = np.corrcoef(x, rowvar=False)
    expected = np.mean(np.abs(correlation[~np.eye(5, dtype=bool)]))
    assert features["mean_abs_correlation"] == pytest.approx(expected, rel=1e-9)


def test_landmarkers_track_difficulty():
    easy = compute_meta_features(*blobs(separation=6.0))
    hard = compute_meta_features(*blobs(separation=0.2))
    for name in ("landmark_linear", "landmark_1nn", "landmark_naive_bayes"):
        assert easy[name] > 0.9
        assert hard[name] < 0.7


def test_meta_features_reject_bad_input():
    with pytest.raises(AtlasError, match="two classes"):
        compute_meta_features(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(AtlasError, match="as many labels"):
        compute_meta_features(np.zeros((10, 2)), np.zeros(9))


def test_meta_features_flatten_images():
    rng = np.random.default_rng(0)
    features = compute_meta_features(rng.normal(size=(60, 4, 4, 1)), np.arange(60) % 2)
    assert features["log_features"] == pytest.approx(np.log(16))


def test_history_round_trip(tmp_path):
    history = MetaHistory(tmp_path / "h.jsonl")
    assert history.load() == []
    history.add(TaskRecord("a", {"log_samples": 1.0}, [{"values": {"x": 0.1}, "metric": 0.5}]))
    history.add(TaskRecord("b", {"log_samples": 2.0}))
    history.add(TaskRecord("a", {"log_samples": 3.0}))
    with open(history.path, "a") as handle:
        handle.write('{"task": "c", "feat')
    records = history.load()
    assert [r.task for r in records] == ["a", "b"]
    assert records[0].features == {"log_samples": 3.0}


def test_history_skips_equal_rerun_record(tmp_path):
    history = MetaHistory(tmp_path / "h.jsonl")
    record = TaskRecord("a", {"log_samples": 1.0}, [{"values": {"x": 0.1}, "metric": 0.5}])
    assert history.add(record)
    assert not history.add(TaskRecord("a", {"log_samples": 1.0}, [{"values": {"x": 0.1}, "metric": 0.5}]))
    assert history.add(TaskRecord("a", {"log_samples": 1.0}, [{"values": {"x": 0.2}, "metric": 0.6}]))
    assert len(history.path.read_text().splitlines()) == 2


def test_history_unreadable_files_raise_atlas_error(tmp_path):
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"task": "a"}\n\xff\xfe\n')
    with pytest.raises(AtlasError, match="not UTF-8 text"):
        MetaHistory(binary).load()
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(AtlasError, match="cannot read meta-history"):
        MetaHistory(folder).load()


def full_features(value=1.0):
    return {name: value for name in FEATURE_NAMES}


def record_line(task, features=None, **fields):
    """One history line as `MetaHistory.add` writes it, without the newline."""
    return json.dumps({"task": task, "features": features if features is not None else full_features(),
                       "trials": [{"values": {"x": 0.1}, "metric": 0.5}], **fields})


def test_history_add_removes_cut_last_line(tmp_path, caplog):
    history = MetaHistory(tmp_path / "h.jsonl")
    history.add(TaskRecord("a", full_features(1.0)))
    history.add(TaskRecord("b", full_features(2.0)))
    cut = '{"task": "broken", "feat'
    with open(history.path, "a") as handle:
        handle.write(cut)
    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        assert [r.task for r in history.load()] == ["a", "b"]
    assert "cut last line" in caplog.text
    caplog.clear()

    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        assert history.add(TaskRecord("c", full_features(3.0)))
    assert f"removing a partial last line ({len(cut)} bytes) from meta-history {history.path}" in caplog.text
    lines = history.path.read_text().split("\n")
    assert lines[-1] == ""
    assert [json.loads(line)["task"] for line in lines[:-1]] == ["a", "b", "c"]

    # The next add and load see a clean file: no error and no further warning.
    caplog.clear()
    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        assert history.add(TaskRecord("d", full_features(4.0)))
        records = history.load()
    assert [r.task for r in records] == ["a", "b", "c", "d"]
    assert records[0].features == full_features(1.0)
    assert caplog.text == ""


def test_history_add_ends_complete_last_line(tmp_path, caplog):
    path = tmp_path / "h.jsonl"
    first, second = record_line("a"), record_line("b")
    path.write_text(f"{first}\n{second}")  # a complete record without its newline, as some editors save
    history = MetaHistory(path)
    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        assert [r.task for r in history.load()] == ["a", "b"]
        assert history.add(TaskRecord("c", full_features()))
    assert caplog.text == ""
    assert path.read_text() == f"{first}\n{second}\n{json.dumps(asdict(TaskRecord('c', full_features())))}\n"
    assert [r.task for r in history.load()] == ["a", "b", "c"]


def test_history_add_removes_cut_only_line(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"task": "a", "fea')
    history = MetaHistory(path)
    assert history.load() == []
    assert history.add(TaskRecord("b", full_features()))
    assert path.read_text() == json.dumps(asdict(TaskRecord("b", full_features()))) + "\n"


def test_history_newline_ended_bad_json_raises(tmp_path):
    # A writer ends every line with "\n" last, so a line that has its newline is complete and
    # broken JSON there is an error, not a cut line to skip.
    path = tmp_path / "h.jsonl"
    path.write_text(record_line("a") + '\n{"task": "b", "fea\n')
    with pytest.raises(AtlasError, match="invalid history record on line 2 of .*fix or delete line 2"):
        MetaHistory(path).load()
    with pytest.raises(AtlasError, match="invalid history record on line 2"):
        MetaHistory(path).add(TaskRecord("c", full_features()))
    assert path.read_text() == record_line("a") + '\n{"task": "b", "fea\n'


WRONG_SHAPES = [
    # pytest.param(line, words the message must contain, id=case)
    pytest.param('{"task": "a", "features": "abc", "trials": []}', ["'features'", "found a string"],
                 id="features string"),
    pytest.param('{"task": "a", "features": {}, "trials": [{"metric": 0.5}]}', ["trials[0]", "missing 'values'"],
                 id="trial without values"),
    pytest.param('{"task": "a", "features": {}, "trials": "none"}', ["'trials'", "found a string"],
                 id="trials string"),
    pytest.param("[1, 2, 3]", ["JSON object", "found an array"], id="array line"),
    pytest.param("null", ["JSON object", "found null"], id="null line"),
    pytest.param('{"task": "a", "features": {}, "trials": [5]}', ["trials[0]", "found a number"],
                 id="trial number"),
    pytest.param('{"task": "a", "features": {}, "trials": [{"values": [1], "metric": 0.5}]}',
                 ["trials[0]['values']", "found an array"], id="values array"),
    pytest.param('{"task": "a", "features": {}, "trials": [{"values": {}}]}', ["trials[0]", "missing 'metric'"],
                 id="trial without metric"),
    pytest.param('{"task": "a", "features": {}, "trials": [{"values": {}, "metric": "0.5"}]}',
                 ["trials[0]['metric']", "found a string"], id="metric string"),
    pytest.param('{"task": "a", "features": {}, "trials": [{"values": {}, "metric": true}]}',
                 ["trials[0]['metric']", "found a boolean"], id="metric boolean"),
    pytest.param('{"task": "a", "features": {"log_samples": "5"}}', ["features['log_samples']", "found a string"],
                 id="feature string"),
    pytest.param('{"task": "a", "features": {"log_samples": [5]}}', ["features['log_samples']", "found an array"],
                 id="feature array"),
    pytest.param('{"task": 5, "features": {}}', ["'task'", "found a number"], id="task number"),
    pytest.param('{"features": {}}', ["missing field 'task'"], id="without task"),
    pytest.param('{"task": "a"}', ["missing field 'features'"], id="without features"),
    pytest.param('{"task": "a", "features": {}, "mode": "best"}', ["'mode'", "'max' or 'min'", '"best"'],
                 id="unknown mode"),
    pytest.param('{"task": "a", "features": {}, "space": null}', ["'space'", "found null"], id="space null"),
    pytest.param('{"task": "a", "features": {}, "color": "red"}', ["unknown field 'color'"], id="unknown field"),
]


@pytest.mark.parametrize("line,words", WRONG_SHAPES)
@pytest.mark.parametrize("place", ["middle", "last", "last without newline"])
def test_history_wrong_shape_raises(tmp_path, line, words, place):
    path = tmp_path / "h.jsonl"
    if place == "middle":
        path.write_text(f"{record_line('a')}\n{line}\n{record_line('b')}\n")
    elif place == "last":
        path.write_text(f"{record_line('a')}\n{line}\n")
    else:
        path.write_text(f"{record_line('a')}\n{line}")
    with pytest.raises(AtlasError) as caught:
        MetaHistory(path).load()
    message = str(caught.value)
    assert f"invalid history record on line 2 of {path}" in message
    for word in words:
        assert word in message
    assert "fix or delete line 2" in message

    # add reads the file first, so it raises too and leaves the file as it was.
    before = path.read_bytes()
    with pytest.raises(AtlasError, match="on line 2 of"):
        MetaHistory(path).add(TaskRecord("c", full_features()))
    assert path.read_bytes() == before


def test_history_reads_null_feature_and_metric(tmp_path):
    path = tmp_path / "h.jsonl"
    features = {**full_features(), "log_samples": None}
    trials = [{"values": {"x": 1}, "metric": None}, {"values": {"x": 2}, "metric": 0.5}]
    path.write_text(json.dumps({"task": "a", "features": features, "trials": trials}) + "\n")
    [record] = MetaHistory(path).load()
    assert np.isnan(record.features["log_samples"])
    assert np.isnan(feature_vector(record.features)[FEATURE_NAMES.index("log_samples")])
    assert record.top(5) == [{"values": {"x": 2}, "metric": 0.5}]


def test_task_record_top_skips_non_finite_metrics():
    trials = [{"values": {"x": i}, "metric": metric}
              for i, metric in enumerate([0.2, float("nan"), 0.9, float("inf"), None, 0.5, float("-inf")])]
    assert [t["values"]["x"] for t in TaskRecord("a", {}, trials).top(3)] == [2, 5, 0]
    assert [t["values"]["x"] for t in TaskRecord("a", {}, trials, mode="min").top(3)] == [0, 5, 2]


def test_history_warns_on_sparse_features(tmp_path, caplog):
    path = tmp_path / "h.jsonl"
    half = dict(list(full_features().items())[:len(FEATURE_NAMES) // 2])
    path.write_text("\n".join([
        record_line("full"),
        record_line("sparse", {"log_samples": 5.0}),
        record_line("half", half),
        record_line("unknown names", {"log_sample": 5.0, "log_samples": 5.0}),
    ]) + "\n")
    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        MetaHistory(path).load()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    total = len(FEATURE_NAMES)
    assert f"task 'sparse' on line 2 (1 of {total})" in warnings[0]
    assert f"task 'half' on line 3 ({len(half)} of {total})" in warnings[0]
    assert f"task 'unknown names' on line 4 (1 of {total})" in warnings[0]
    assert "'full'" not in warnings[0]
    assert str(path) in warnings[0]
    assert "only the meta-features both tasks have" in warnings[0]


def test_history_sparse_warning_skips_replaced_record(tmp_path, caplog):
    path = tmp_path / "h.jsonl"
    path.write_text(record_line("a", {"log_samples": 5.0}) + "\n" + record_line("a") + "\n")
    with caplog.at_level("WARNING", logger="atlas_jax.meta.history"):
        [record] = MetaHistory(path).load()
    assert record.features == full_features()
    assert caplog.text == ""


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_history_add_skips_equal_record_with_missing_feature(tmp_path, missing):
    history = MetaHistory(tmp_path / "h.jsonl")
    features = {**full_features(), "landmark_linear": missing}
    assert history.add(TaskRecord("a", features, [{"values": {"x": 1}, "metric": 0.5}]))
    assert not history.add(TaskRecord("a", dict(features), [{"values": {"x": 1}, "metric": 0.5}]))
    assert len(history.path.read_text().splitlines()) == 1


def test_history_add_rejects_invalid_record(tmp_path):
    history = MetaHistory(tmp_path / "h.jsonl")
    history.add(TaskRecord("a", full_features()))
    before = history.path.read_bytes()
    with pytest.raises(ValueError, match="'features' must be a JSON object.*found a string"):
        history.add(TaskRecord("b", "abc"))
    with pytest.raises(ValueError, match="'mode' must be 'max' or 'min'"):
        history.add(TaskRecord("b", full_features(), mode="maximize"))
    assert history.path.read_bytes() == before


def test_history_add_waits_for_lock(tmp_path):
    history = MetaHistory(tmp_path / "h.jsonl")
    history.add(TaskRecord("a", full_features()))
    before = history.path.read_bytes()
    with open(history.path, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        writer = threading.Thread(target=history.add, args=(TaskRecord("b", full_features()),))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive()
        assert history.path.read_bytes() == before
        fcntl.flock(holder, fcntl.LOCK_UN)
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert [r.task for r in history.load()] == ["a", "b"]


def test_distances_pick_similar_task():
    near = TaskRecord("near", {"log_samples": 5.0, "landmark_linear": 0.9})
    far = TaskRecord("far", {"log_samples": 9.0, "landmark_linear": 0.3})
    distances = task_distances({"log_samples": 5.2, "landmark_linear": 0.85}, [far, near])
    assert distances[1] < distances[0]
    assert np.all(np.isfinite(distances))


def space():
    return Space({"lr": Float(1e-4, 1e-1, log=True), "width": Int(16, 256, log=True),
                  "act": Choice(["relu", "tanh", "gelu"])})


def history_with_optimum(name, features, lr, act, count=20, seed=0):
    rng = np.random.default_rng(seed)
    s = space()
    trials = []
    for _ in range(count):
        values = s.sample(rng)
        metric = -abs(np.log10(values["lr"]) - np.log10(lr)) - (0.0 if values["act"] == act else 0.5)
        trials.append({"values": values, "metric": metric})
    trials.append({"values": {"lr": lr, "width": 64, "act": act}, "metric": 0.0})
    return TaskRecord(name, features, trials)


def test_prior_centers_on_neighbor_optimum():
    history = [
        history_with_optimum("similar", {"log_samples": 5.0, "landmark_linear": 0.9}, lr=1e-3, act="tanh"),
        history_with_optimum("different", {"log_samples": 9.0, "landmark_linear": 0.2}, lr=5e-2, act="gelu"),
    ]
    prior = build_prior(space(), {"log_samples": 5.1, "landmark_linear": 0.88}, history, k=1, warm_starts=2, top=3)
    assert prior.neighbors[0][0] == "similar"
    assert prior.warm_starts[0] == {"lr": 1e-3, "width": 64, "act": "tanh"}
    assert prior.params["act"].center == "tanh"
    assert abs(np.log10(prior.params["lr"].center) + 3) < 0.6
    # Every option keeps positive weight, and numeric spreads respect the floor.
    assert min(prior.params["act"].weights) > 0
    assert prior.params["lr"].spread >= 0.15
    parametrization = space().to_nevergrad(prior.params)
    assert parametrization.value["lr"] == pytest.approx(prior.params["lr"].center)


def test_prior_ignores_nonfinite_past_metrics():
    features = {"log_samples": 5.0, "landmark_linear": 0.9}
    clean = history_with_optimum("task", features, lr=1e-3, act="tanh")
    poisoned = TaskRecord("task", features, clean.trials + [
        {"values": {"lr": 5e-2, "width": 16, "act": "gelu"}, "metric": float("nan")},
        {"values": {"lr": 1e-4, "width": 256, "act": "relu"}, "metric": float("inf")},
    ])
    expected = build_prior(space(), features, [clean], k=1, warm_starts=2, top=3)
    prior = build_prior(space(), features, [poisoned], k=1, warm_starts=2, top=3)
    assert prior.warm_starts == expected.warm_starts
    assert prior.params == expected.params
    # Each past config keeps its score: the non-finite trials do not enter the scaling.
    from atlas_jax.meta.prior import _task_scores

    configs = [trial["values"] for trial in clean.trials]
    clean_scores, _ = _task_scores(space(), clean, configs)
    poisoned_scores, _ = _task_scores(space(), poisoned, configs)
    np.testing.assert_allclose(poisoned_scores, clean_scores, rtol=0, atol=1e-12)


def test_prior_skips_configs_outside_space():
    record = TaskRecord("other", {"log_samples": 5.0}, [{"values": {"momentum": 0.9}, "metric": 1.0}])
    prior = build_prior(space(), {"log_samples": 5.0}, [record])
    assert prior.neighbors == [("other", 0.0)]
    assert prior.warm_starts == []
    assert prior.params == {}


def test_prior_excludes_and_validates_arguments():
    record = history_with_optimum("self", {"log_samples": 5.0}, lr=1e-3, act="relu")
    assert build_prior(space(), {"log_samples": 5.0}, [record], exclude=["self"]).neighbors == []
    with pytest.raises(ConfigError, match="k, top and pool"):
        build_prior(space(), {}, [record], k=0)
    with pytest.raises(ConfigError, match="min_spread"):
        build_prior(space(), {}, [record], min_spread=0.0)


def test_feature_vector_order():
    vector = feature_vector({"log_samples": 2.0})
    assert vector.shape == (len(FEATURE_NAMES),)
    assert vector[0] == 2.0
    assert np.isnan(vector[1:]).all()


def test_expected_best_matches_brute_force():
    from itertools import combinations

    from atlas_jax.meta.prior import _expected_best_of

    values = np.array([0.3, -1.0, 0.9, 0.3, 0.5, -0.2, 1.0])
    for draws in range(1, len(values) + 1):
        brute = np.mean([max(subset) for subset in combinations(values, draws)])
        assert _expected_best_of(values, draws) == pytest.approx(brute, rel=1e-12)
    assert _expected_best_of(values, 20) == pytest.approx(1.0)


def random_history(name, features, seed, count=40):
    """A past task whose metric is noise, so its best configs carry no information about other tasks."""
    rng = np.random.default_rng(seed)
    s = space()
    return TaskRecord(name, features, [{"values": s.sample(rng), "metric": float(rng.normal())} for _ in range(count)])


def test_prior_kept_when_tasks_agree():
    history = [history_with_optimum(f"task{i}", {"log_samples": 5.0 + 0.1 * i}, lr=1e-3, act="tanh", count=40, seed=i)
               for i in range(6)]
    prior = build_prior(space(), {"log_samples": 5.0}, history, k=6, warm_starts=3, top=5)
    assert len(prior.warm_starts) == 3
    assert prior.params["act"].center == "tanh"


def test_prior_dropped_when_tasks_disagree():
    history = [random_history(f"noise{i}", {"log_samples": 5.0 + 0.1 * i}, seed=i) for i in range(8)]
    prior = build_prior(space(), {"log_samples": 5.0}, history, k=8, warm_starts=3, top=5)
    assert [name for name, _ in prior.neighbors] == [f"noise{i}" for i in range(8)]
    assert prior.warm_starts == []
    assert prior.params == {}
    unchecked = build_prior(space(), {"log_samples": 5.0}, history, k=8, warm_starts=3, top=5, check_transfer=False)
    assert len(unchecked.warm_starts) == 3


def rule_history(name, level, seed, count=40):
    """A past task whose best learning rate and activation follow its `landmark_linear` level."""
    rng = np.random.default_rng(seed)
    s = space()
    trials = [{"values": values, "metric": rule_metric(values, level)} for values in (s.sample(rng) for _ in range(count))]
    return TaskRecord(name, {"landmark_linear": level, "log_samples": 6.0}, trials)


def rule_metric(values, level):
    best_act = "tanh" if level > 0.5 else "relu"
    return -abs(np.log10(values["lr"]) - (-4.0 + 3.0 * level)) - (0.0 if values["act"] == best_act else 0.5)


def test_score_model_ranks_unseen_task():
    from atlas_jax.meta import fit_score_model

    history = [rule_history(f"task{i}", level, seed=i) for i, level in enumerate(np.linspace(0.05, 0.95, 10))]
    model = fit_score_model(space(), history)
    assert model.tasks == [f"task{i}" for i in range(10)]
    assert len(model.configs) == 10 * 40
    # A task between the history's levels: its configs ranked by the model against the true rule.
    predicted = model.predict({"landmark_linear": 0.62, "log_samples": 6.0})
    truth = [rule_metric(values, 0.62) for values in model.configs]
    assert stats.spearmanr(predicted, truth).statistic > 0.7
    assert model.transfer_t > 2.0


def test_score_model_prior_picks_predicted_configs():
    from atlas_jax.meta import fit_score_model

    history = [rule_history(f"task{i}", level, seed=i) for i, level in enumerate(np.linspace(0.05, 0.95, 10))]
    model = fit_score_model(space(), history)
    features = {"landmark_linear": 0.62, "log_samples": 6.0}
    prior = build_prior(space(), features, history, k=4, warm_starts=3, top=5, score_model=model, pool=10)
    assert len(prior.warm_starts) == 3
    assert all(values in model.configs for values in prior.warm_starts)
    # The pool is the model's 10 best-predicted configs, so the warm starts come from them.
    pool = [model.configs[i] for i in np.argsort(-model.predict(features), kind="stable")[:10]]
    assert all(values in pool for values in prior.warm_starts)
    assert prior.params["act"].center == "tanh"
    assert abs(np.log10(prior.params["lr"].center) - (-4.0 + 3.0 * 0.62)) < 0.5


def test_score_model_prior_dropped_for_noise():
    from atlas_jax.meta import fit_score_model

    history = [random_history(f"noise{i}", {"log_samples": 5.0 + 0.1 * i}, seed=i) for i in range(8)]
    model = fit_score_model(space(), history)
    assert model.transfer_t < 2.0
    prior = build_prior(space(), {"log_samples": 5.0}, history, k=8, warm_starts=3, score_model=model)
    assert prior.warm_starts == []
    assert prior.params == {}


def test_score_model_rejects_bad_arguments():
    from atlas_jax.meta import fit_score_model

    history = [rule_history(f"task{i}", level, seed=i) for i, level in enumerate((0.2, 0.8))]
    assert fit_score_model(space(), history[:1]) is None
    model = fit_score_model(space(), history)
    with pytest.raises(ConfigError, match="excluded tasks"):
        build_prior(space(), {}, history, score_model=model, exclude=["task0"])
    with pytest.raises(ConfigError, match="pool"):
        build_prior(space(), {}, history, score_model=model, pool=0)
    with pytest.raises(ConfigError, match="folds"):
        fit_score_model(space(), history, folds=1)


def test_score_model_skips_nonfinite_and_partial_features():
    from atlas_jax.meta import fit_score_model

    history = [rule_history(f"task{i}", level, seed=i) for i, level in enumerate(np.linspace(0.1, 0.9, 6))]
    # An older record without `landmark_linear`, and trials whose metric is not finite.
    history[0] = TaskRecord("old", {"log_samples": 6.0}, history[0].trials)
    history[1].trials.append({"values": history[1].trials[0]["values"], "metric": float("inf")})
    history[2].trials.append({"values": history[2].trials[0]["values"], "metric": float("nan")})
    model = fit_score_model(space(), history)
    assert np.all(np.isfinite(model.predict({"landmark_linear": 0.5, "log_samples": 6.0})))
    assert model.transfer_t > 2.0

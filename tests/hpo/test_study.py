"""Study runner: optimizers, executors, constraints, ASHA, outputs and resume."""

import json

import numpy as np
import pytest

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.hpo import ASHAScheduler, StudyStore, run_study
from atlas_jax.hpo.synthetic import SyntheticObjective
from atlas_jax.search import Choice, Float, Int, Space
from tests.helpers import approx_values


def toy_space(constraints=()):
    return Space({"x": Float(0.0, 1.0), "y": Float(1e-3, 1.0, log=True), "n": Int(1, 9),
                  "kind": Choice(["a", "b"])}, constraints=constraints)


@pytest.mark.parametrize("optimizer", ["NGOpt", "CMA", "TwoPointsDE", "PSO", "OnePlusOne", "random", "DE"])
def test_study_optimizers_run_budget(tmp_path, optimizer):
    space = toy_space()
    result = run_study(SyntheticObjective(space), space, tmp_path, optimizer=optimizer, budget=12,
                       num_workers=2, executor="inline", max_steps=20)
    assert len(result.complete) == 12
    assert result.best is not None
    assert result.best.metric == max(r.metric for r in result.complete)


def test_study_improves_over_random_draws(tmp_path):
    space = Space({"x": Float(0.0, 1.0), "z": Float(0.0, 1.0)})
    objective = SyntheticObjective(space, decay=0.0)
    result = run_study(objective, space, tmp_path, optimizer="NGOpt", budget=40, executor="inline", max_steps=10)
    # Expected best of 40 uniform draws on this 2-D bowl is about 1 - 0.006; NGOpt
    # should at least beat the median of random draws by a wide margin.
    rng = np.random.default_rng(0)
    median_random = np.median([objective.score(space.sample(rng)) for _ in range(200)])
    assert result.best.metric > 0.99
    assert result.best.metric > median_random + 0.05


def test_study_writes_outputs(tmp_path):
    space = toy_space()
    result = run_study(SyntheticObjective(space), space, tmp_path, budget=5, executor="inline", max_steps=20)
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["status"] for r in records].count("running") == 5
    assert [r["status"] for r in records].count("complete") == 5
    overrides = (tmp_path / "best_overrides.txt").read_text().splitlines()
    assert overrides[1:] == result.best.overrides
    assert space.from_overrides(overrides[1:]) == approx_values(result.best.values, rel=1e-12)
    experiment = (tmp_path / "best_experiment.yaml").read_text()
    assert experiment.startswith("# @package _global_")
    png = (tmp_path / "best_so_far.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_study_parallel_executors(tmp_path, executor):
    space = toy_space()
    result = run_study(SyntheticObjective(space, seconds_per_eval=0.01), space, tmp_path, budget=6,
                       num_workers=3, executor=executor, max_steps=20)
    assert len(result.complete) == 6
    assert sorted(r.trial for r in result.records) == list(range(6))
    # Every trial ran in its own folder.
    assert len(list((tmp_path / "trials").iterdir())) == 6


def test_study_submitit_local_executor(tmp_path):
    pytest.importorskip("submitit")
    space = toy_space()
    result = run_study(SyntheticObjective(space), space, tmp_path, budget=3, num_workers=3,
                       executor="submitit_local", max_steps=20)
    assert len(result.complete) == 3
    assert (tmp_path / "submitit").is_dir()


def test_study_constraints_reach_nevergrad(tmp_path):
    # Configs with x > 0.5 are infeasible: they never run and do not use the budget.
    space = toy_space(constraints=[lambda v: v["x"] - 0.5])
    result = run_study(SyntheticObjective(space), space, tmp_path, optimizer="RandomSearch", budget=10,
                       executor="inline", max_steps=20, seed=1)
    complete = result.complete
    infeasible = [r for r in result.records if r.status == "infeasible"]
    assert len(complete) == 10
    assert all(r.values["x"] <= 0.5 for r in complete)
    assert infeasible, "random search over x in [0, 1] should propose some x > 0.5"
    assert all(r.violations[0] > 0 for r in infeasible)
    assert not (tmp_path / "trials" / f"{infeasible[0].trial:04d}").exists()


def test_study_unsatisfiable_constraint_raises(tmp_path):
    space = toy_space(constraints=[lambda v: False])
    with pytest.raises(AtlasError, match="constraints rejected 21 configs"):
        run_study(SyntheticObjective(space), space, tmp_path, budget=2, executor="inline", max_infeasible=20)


class FailingObjective:
    def __init__(self, space):
        self.inner = SyntheticObjective(space)

    def __call__(self, trial):
        if trial.values["kind"] == "b":
            raise RuntimeError("diverged")
        return self.inner(trial)


def test_study_failed_trials_recorded(tmp_path):
    space = toy_space()
    result = run_study(FailingObjective(space), space, tmp_path, optimizer="RandomSearch", budget=10,
                       executor="inline", max_steps=20, max_failures=10)
    failed = [r for r in result.records if r.status == "failed"]
    assert failed
    assert all("RuntimeError: diverged" in r.error for r in failed)
    assert all(r.values["kind"] == "b" for r in failed)
    with pytest.raises(AtlasError, match="trials failed"):
        run_study(FailingObjective(space), space, tmp_path / "again", optimizer="RandomSearch", budget=30,
                  executor="inline", max_steps=20, max_failures=1)


def test_study_missing_metric_fails_trial(tmp_path):
    space = toy_space()
    result = run_study(SyntheticObjective(space), space, tmp_path, budget=2, executor="inline",
                       metric="nope", max_failures=5)
    assert all(r.status == "failed" for r in result.records)
    assert "lacks metric 'nope'" in result.records[0].error


def test_study_rejects_bad_arguments(tmp_path):
    space = toy_space()
    with pytest.raises(ConfigError, match="unknown nevergrad optimizer"):
        run_study(SyntheticObjective(space), space, tmp_path, optimizer="Nope", executor="inline")
    with pytest.raises(ConfigError, match="invalid mode"):
        run_study(SyntheticObjective(space), space, tmp_path, mode="up", executor="inline")
    with pytest.raises(ConfigError, match="unknown hpo.executor"):
        run_study(SyntheticObjective(space), space, tmp_path, executor="cluster")
    with pytest.raises(ConfigError, match="needs the full trial length"):
        run_study(SyntheticObjective(space), space, tmp_path, asha=(10, 3), executor="inline")


def test_study_warm_starts_run_first(tmp_path):
    space = toy_space()
    starts = [{"x": 0.3, "y": 0.01, "n": 3, "kind": "a"}, {"x": 0.7, "y": 0.1, "n": 8, "kind": "b"}]
    result = run_study(SyntheticObjective(space), space, tmp_path, budget=4, executor="inline", max_steps=20,
                       warm_starts=starts)
    first_two = [r.values for r in result.records[:2]]
    assert first_two == [approx_values(s, rel=1e-12) for s in starts]


def test_asha_prunes_and_saves_steps(tmp_path):
    space = toy_space()
    objective = SyntheticObjective(space, eval_every=10)
    result = run_study(objective, space, tmp_path, optimizer="RandomSearch", budget=27, executor="inline",
                       max_steps=90, asha=(10, 3), seed=3)
    pruned = [r for r in result.records if r.status == "pruned"]
    complete = result.complete
    assert pruned
    assert complete
    assert all(r.steps in (10, 30) for r in pruned)
    # The best complete trial matches the best score among all trials (pruning kept it).
    best_possible = max(objective.score(r.values) for r in result.records)
    assert objective.score(result.best.values) >= best_possible - 0.05
    total_steps = sum(r.steps for r in result.records)
    assert total_steps < 0.6 * 27 * 90


def test_asha_scheduler_quantile_rule(tmp_path):
    scheduler = ASHAScheduler(tmp_path / "rungs.jsonl", min_steps=10, max_steps=100, reduction_factor=2, mode="max")
    assert scheduler.rungs == [10, 20, 40, 80]
    assert scheduler.report(0, 5, 0.1)  # before the first rung
    assert scheduler.report(0, 10, 0.5)  # alone at the rung
    assert not scheduler.report(1, 10, 0.4)  # below the median of {0.5, 0.4}
    assert scheduler.report(2, 12, 0.9)  # step 12 counts at rung 10
    assert scheduler.report(2, 15, 0.1)  # already recorded at rung 10
    assert not scheduler.report(3, 10, float("nan"))
    minimizing = ASHAScheduler(tmp_path / "min.jsonl", min_steps=1, max_steps=10, reduction_factor=2, mode="min")
    assert minimizing.report(0, 1, 0.5)
    assert minimizing.report(1, 1, 0.1)
    assert not minimizing.report(2, 1, 0.9)
    with pytest.raises(ConfigError, match="at least 2"):
        ASHAScheduler(tmp_path / "x", min_steps=1, max_steps=10, reduction_factor=1)


def test_store_repairs_partial_line(tmp_path):
    space = toy_space()
    run_study(SyntheticObjective(space), space, tmp_path, budget=2, executor="inline", max_steps=20)
    path = tmp_path / "trials.jsonl"
    with open(path, "a") as handle:
        handle.write('{"trial": 9, "stat')  # a writer killed mid-line
    store = StudyStore(tmp_path)
    assert path.read_text().endswith("\n")
    assert sorted(store.load()) == [0, 1]


def test_study_resume_completed_is_noop(tmp_path):
    space = toy_space()
    first = run_study(SyntheticObjective(space), space, tmp_path, budget=4, executor="inline", max_steps=20)
    lines_before = (tmp_path / "trials.jsonl").read_text()
    second = run_study(SyntheticObjective(space), space, tmp_path, budget=4, executor="inline", max_steps=20)
    assert (tmp_path / "trials.jsonl").read_text() == lines_before
    assert second.best.trial == first.best.trial
    third = run_study(SyntheticObjective(space), space, tmp_path, budget=6, executor="inline", max_steps=20)
    assert len(third.complete) == 6


@pytest.mark.parametrize("first, second", [(3, 4), (3, 6), (2, 5)])
def test_resumed_study_runs_no_config_twice(tmp_path, first, second):
    space = toy_space()
    run_study(SyntheticObjective(space), space, tmp_path, budget=first, executor="inline", max_steps=20)
    result = run_study(SyntheticObjective(space), space, tmp_path, budget=second, executor="inline", max_steps=20)
    configs = [tuple(sorted(r.values.items())) for r in result.complete]
    assert len(result.complete) == second
    assert len(set(configs)) == len(configs)


def test_study_folder_lock_rejects_second_process(tmp_path):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from atlas_jax.train.run_folder import lock_run_folder\n"
        f"with lock_run_folder({str(tmp_path)!r}):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        space = toy_space()
        started = time.perf_counter()
        with pytest.raises(AtlasError, match="in use by another process"):
            run_study(SyntheticObjective(space), space, tmp_path, budget=2, executor="inline", max_steps=20)
        assert time.perf_counter() - started < 5.0
        assert not (tmp_path / "trials.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def _diverging_objective(trial):
    from atlas_jax.errors import NonFiniteLossError

    raise NonFiniteLossError("training loss became nan at step 3; stopped")


def test_diverged_trial_points_to_search_bounds(tmp_path):
    from atlas_jax.hpo import Trial
    from atlas_jax.hpo.trial import execute_trial

    outcome = execute_trial(_diverging_objective, Trial(0, {"x": 0.5}, ["x=0.5"], tmp_path / "trial"))
    assert outcome["status"] == "failed"
    assert "training loss became nan" in outcome["error"]
    assert "hpo.space.bounds.optim.learning_rate" in outcome["error"]

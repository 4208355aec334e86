"""The study runner: nevergrad ask/tell, parallel trials, ASHA, constraints, resume."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.hpo.asha import ASHAScheduler
from atlas_jax.hpo.executors import make_executor, shutdown, wait_any
from atlas_jax.hpo.outputs import write_best, write_plot
from atlas_jax.hpo.store import StudyStore, TrialRecord, now
from atlas_jax.hpo.trial import Objective, Trial, execute_trial
from atlas_jax.search import ParamPrior, Space
from atlas_jax.train.run_folder import lock_run_folder

logger = logging.getLogger(__name__)

# Optimizer proposals in a row that may repeat a finished config before the study runs the repeat anyway
# (a small discrete space can run out of new configs).
MAX_DUPLICATE_ASKS = 100

# Accepted spellings of the optimizers that the docs name; any other nevergrad registry name works too.
OPTIMIZER_ALIASES = {"random": "RandomSearch", "de": "DE", "cma": "CMA", "pso": "PSO", "ngopt": "NGOpt",
                     "oneplusone": "OnePlusOne", "twopointsde": "TwoPointsDE"}


@dataclass
class StudyResult:
    """Outcome of a study: every trial's latest record and the best finished one."""

    records: list[TrialRecord]
    best: Optional[TrialRecord]
    study_dir: Path
    told: int = 0  # results the optimizer received, including those replayed on resume

    @property
    def complete(self) -> list[TrialRecord]:
        return [r for r in self.records if r.status == "complete"]


def create_optimizer(name: str, parametrization: Any, budget: int, num_workers: int, seed: int) -> Any:
    """Create nevergrad optimizer `name` (such as NGOpt, CMA, TwoPointsDE, RandomSearch) with a seeded state.

    Raises:
        ConfigError: for a name that nevergrad's registry lacks.
    """
    import nevergrad as ng

    resolved = OPTIMIZER_ALIASES.get(name.lower(), name)
    if resolved not in ng.optimizers.registry:
        raise ConfigError(
            f"unknown nevergrad optimizer '{name}'; common choices: NGOpt, CMA, DE, TwoPointsDE, PSO, "
            "OnePlusOne, RandomSearch (any name in nevergrad.optimizers.registry works)"
        )
    parametrization.random_state = np.random.RandomState(seed)
    return ng.optimizers.registry[resolved](parametrization=parametrization, budget=budget, num_workers=num_workers)


def _loss(value: float, mode: str) -> float:
    return -float(value) if mode == "max" else float(value)


def _suggest(optimizer: Any, space: Space, values: Mapping[str, Any]) -> None:
    """Queue `values` as the optimizer's next candidate."""
    # nevergrad sets a Choice to a given option through log(p / (1 - p)) with p = 1,
    # which is +inf by design; numpy would otherwise warn about the division.
    with np.errstate(divide="ignore"):
        optimizer.suggest(space.to_nevergrad_value(values))


def _tell(optimizer: Any, space: Space, values: Mapping[str, Any], loss: float,
          violations: Sequence[float] = ()) -> None:
    """Tell the optimizer the loss of `values`, which it may not have asked for (resume, failures)."""
    from nevergrad.common.errors import TellNotAskedNotSupportedError

    _suggest(optimizer, space, values)
    candidate = optimizer.ask()
    try:
        optimizer.tell(candidate, loss, constraint_violation=list(violations) or None)
    except TellNotAskedNotSupportedError:
        logger.warning("optimizer %s cannot take past results; it restarts without them", optimizer.name)


def run_study(
    objective: Objective,
    space: Space,
    study_dir: Path,
    *,
    optimizer: str = "NGOpt",
    budget: int = 20,
    num_workers: int = 1,
    executor: str | Any = "process",
    metric: str = "val_accuracy",
    mode: str = "max",
    max_steps: Optional[int] = None,
    asha: Optional[tuple[int, int]] = None,
    seed: int = 0,
    prior: Optional[Mapping[str, ParamPrior]] = None,
    warm_starts: Sequence[Mapping[str, Any]] = (),
    max_failures: int = 5,
    max_infeasible: Optional[int] = None,
    slurm: Optional[dict] = None,
    experiment: Optional[Callable[[TrialRecord], str]] = None,
) -> StudyResult:
    """Run (or resume) a study in `study_dir` and return its trials.

    The study asks nevergrad for configs, skips those that violate the space's
    constraints (telling nevergrad the violation amounts instead of running them),
    runs the rest as trials on `executor`, and tells nevergrad each trial's loss.
    Every trial is appended to `study_dir/trials.jsonl` when it starts and when it
    ends. Rerunning the same call after a crash or SIGKILL tells the optimizer every
    finished trial, reruns the trials that were running, and continues to `budget`.

    Args:
        objective: picklable callable `objective(trial) -> dict of metrics`.
        space: the search space.
        study_dir: folder for trials.jsonl, trial run folders and outputs.
        optimizer: nevergrad optimizer name.
        budget: trials to evaluate (constraint-violating configs do not count).
        num_workers: trials in parallel.
        executor: an executor kind for `make_executor` or an object with `submit`.
        metric: key of the objective's returned dict to optimize.
        mode: "max" or "min".
        max_steps: training steps of a full trial, passed on in `Trial.max_steps`.
        asha: (min_steps, reduction_factor) to stop poor trials early; needs max_steps.
        seed: seed of nevergrad's random state.
        prior: {path: ParamPrior} that sets the optimizer's initial point and spread.
        warm_starts: configs suggested to the optimizer before it explores.
        max_failures: failed trials tolerated before the study raises.
        max_infeasible: constraint-violating asks tolerated (default 50 * budget).
        slurm: submitit parameters for the "slurm" and "submitit_local" executors.
        experiment: builds the whole experiment file of a trial for `best_experiment.yaml`
            (see `write_best`); None writes the searched values only.

    Raises:
        ConfigError: for invalid arguments.
        AtlasError: when more than `max_failures` trials fail or the constraints
            reject more than `max_infeasible` configs.
    """
    if mode not in ("max", "min"):
        raise ConfigError(f"invalid mode {mode!r}: expected max or min")
    if budget <= 0 or num_workers <= 0:
        raise ConfigError(
            f"invalid budget {budget} or num_workers {num_workers} (hpo.budget, hpo.num_workers): "
            "both must be at least 1"
        )
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    with lock_run_folder(study_dir):  # a second process on the same study would run every trial twice
        return _run_locked(objective, space, study_dir, optimizer=optimizer, budget=budget, num_workers=num_workers,
                           executor=executor, metric=metric, mode=mode, max_steps=max_steps, asha=asha, seed=seed,
                           prior=prior, warm_starts=warm_starts, max_failures=max_failures,
                           max_infeasible=max_infeasible, slurm=slurm, experiment=experiment)


def _run_locked(objective: Objective, space: Space, study_dir: Path, *, optimizer: str, budget: int,
                num_workers: int, executor: str | Any, metric: str, mode: str, max_steps: Optional[int],
                asha: Optional[tuple[int, int]], seed: int, prior: Optional[Mapping[str, ParamPrior]],
                warm_starts: Sequence[Mapping[str, Any]], max_failures: int, max_infeasible: Optional[int],
                slurm: Optional[dict], experiment: Optional[Callable[[TrialRecord], str]]) -> StudyResult:
    """Run the study of `run_study` while holding the lock on `study_dir`."""
    store = StudyStore(study_dir)
    scheduler = None
    if asha is not None:
        if max_steps is None:
            raise ConfigError("ASHA needs the full trial length: set hpo.trial_steps")
        scheduler = ASHAScheduler(study_dir / "rungs.jsonl", min_steps=asha[0], max_steps=max_steps,
                                  reduction_factor=asha[1], mode=mode)
    max_infeasible = 50 * budget if max_infeasible is None else max_infeasible
    ng_optimizer = create_optimizer(optimizer, space.to_nevergrad(prior), budget, num_workers, seed)

    # Stage 1: replay the store. Finished trials go to the optimizer; running ones rerun.
    records = store.load()
    rerun: list[TrialRecord] = []
    for record in records.values():
        if record.status == "running":
            rerun.append(record)
        elif record.status == "infeasible":
            _tell(ng_optimizer, space, record.values, _worst_loss(records.values()) or 0.0, record.violations)
        elif record.loss is not None:
            _tell(ng_optimizer, space, record.values, record.loss)
    if records:
        finished = sum(r.finished for r in records.values())
        logger.info("resuming study in %s: %d finished trials, %d to rerun", study_dir, finished, len(rerun))

    # Warm starts that the study has not run yet go first, after the reruns.
    seen = [r.values for r in records.values()]
    for values in reversed(list(warm_starts)):  # nevergrad pops suggestions last-in first-out
        try:
            checked = space.validate(values)
        except ConfigError as error:
            logger.warning("skipping warm-start config %s: %s", values, error)
            continue
        if checked not in seen:
            _suggest(ng_optimizer, space, checked)

    # Stage 2: the ask/tell loop.
    pool = make_executor(executor, num_workers, folder=study_dir / "submitit", slurm=slurm) \
        if isinstance(executor, str) else executor
    pending: dict[Any, tuple[TrialRecord, Any]] = {}
    next_id = max(records, default=-1) + 1
    trial_count = sum(1 for r in records.values() if r.status != "infeasible")
    failures = sum(1 for r in records.values() if r.status == "failed")
    infeasible = sum(1 for r in records.values() if r.status == "infeasible")
    duplicates = 0  # optimizer proposals in a row that repeated a finished trial's config

    def submit(record: TrialRecord, candidate: Any) -> None:
        record.status, record.started_at = "running", now()
        store.append(record)
        trial = Trial(record.trial, record.values, record.overrides, study_dir / "trials" / f"{record.trial:04d}",
                      max_steps=max_steps, scheduler=scheduler)
        pending[pool.submit(execute_trial, objective, trial)] = (record, candidate)

    try:
        for record in rerun:
            _suggest(ng_optimizer, space, record.values)
            submit(record, ng_optimizer.ask())

        while pending or trial_count < budget - len(rerun):
            while len(pending) < num_workers and trial_count + len(rerun) < budget:
                candidate = ng_optimizer.ask()
                values = space.from_nevergrad(candidate.value)
                known = _finished_twin(values, records.values())
                if known is not None and duplicates < MAX_DUPLICATE_ASKS:
                    # A config that already finished: its loss is known, so tell it instead of training it again.
                    # This happens most after a resume, when the optimizer proposes its starting point again.
                    duplicates += 1
                    ng_optimizer.tell(candidate, known.loss)
                    continue
                duplicates = 0
                violations = space.violations(values)
                record = TrialRecord(next_id, "running", values, space.to_overrides(values), violations=violations)
                next_id += 1
                if any(v > 0 for v in violations):
                    infeasible += 1
                    if infeasible > max_infeasible:
                        raise AtlasError(
                            f"the space's constraints rejected {infeasible} configs (limit {max_infeasible}); "
                            "relax the constraints or narrow the bounds to the feasible region"
                        )
                    record.status = "infeasible"
                    store.append(record)
                    ng_optimizer.tell(candidate, _worst_loss(records.values()) or 0.0, constraint_violation=violations)
                    records[record.trial] = record
                    continue
                trial_count += 1
                submit(record, candidate)
                records[record.trial] = record
            if not pending:
                break

            for future in wait_any(list(pending)):
                record, candidate = pending.pop(future)
                outcome = _outcome(future)
                _finish(record, outcome, metric, mode)
                store.append(record)
                records[record.trial] = record
                if record.loss is not None:
                    ng_optimizer.tell(candidate, record.loss)
                elif (penalty := _worst_loss(records.values())) is not None:
                    ng_optimizer.tell(candidate, penalty)  # failed: as bad as the worst trial so far
                if record.status == "failed":
                    failures += 1
                    if failures > max_failures:
                        raise AtlasError(
                            f"{failures} trials failed (limit hpo.max_failures={max_failures}); last error: "
                            f"{record.error}. See {study_dir / 'trials.jsonl'}"
                        )
                _log_trial(record, records.values(), mode)
                write_best(study_dir, _best(records.values()), space, experiment)
            rerun = []
    finally:
        if isinstance(executor, str):
            shutdown(pool)

    result = StudyResult(list(records.values()), _best(records.values()), study_dir, told=ng_optimizer.num_tell)
    write_best(study_dir, result.best, space, experiment)
    write_plot(study_dir / "best_so_far.png", result.records, mode, metric)
    return result


def _finished_twin(values: Mapping[str, Any], records: Any) -> Optional[TrialRecord]:
    """Return a complete trial whose config equals `values` (floats within a relative 1e-9), else None."""
    for record in records:
        if record.status != "complete" or record.loss is None or record.values.keys() != values.keys():
            continue
        if all(_same_value(record.values[key], values[key]) for key in values):
            return record
    return None


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def _outcome(future: Any) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - a crashed worker fails one trial, not the study
        return {"status": "failed", "error": f"{type(error).__name__}: {error}", "duration_s": None}


def _finish(record: TrialRecord, outcome: dict[str, Any], metric: str, mode: str) -> None:
    """Fill `record` from a worker's outcome."""
    record.status = outcome["status"]
    record.duration_s = outcome.get("duration_s")
    record.metrics = _json_ready(outcome.get("metrics", {}))
    if record.status == "complete":
        if metric not in outcome["metrics"]:
            record.status = "failed"
            record.error = f"the objective's result lacks metric '{metric}'; keys: {sorted(outcome['metrics'])}"
            return
        value = outcome["metrics"][metric]
        record.steps = outcome["metrics"].get("steps")
    elif record.status == "pruned":
        value, record.steps = outcome["value"], outcome["step"]
    else:
        record.error = outcome.get("error")
        return
    if value is None or not math.isfinite(float(value)):
        record.status, record.error = "failed", f"metric '{metric}' is {value}"
        return
    record.metric = float(value)
    record.loss = _loss(value, mode)


def _json_ready(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool, type(None), list, dict))}


def _best(records: Any) -> Optional[TrialRecord]:
    complete = [r for r in records if r.status == "complete" and r.loss is not None]
    return min(complete, key=lambda r: (r.loss, r.trial)) if complete else None


def _worst_loss(records: Any) -> Optional[float]:
    losses = [r.loss for r in records if r.loss is not None]
    return max(losses) if losses else None


def _log_trial(record: TrialRecord, records: Any, mode: str) -> None:
    best = _best(records)
    best_text = f"{best.metric:.4f} (trial {best.trial})" if best else "none"
    if record.status == "complete":
        logger.info("trial %d complete: metric %.4f in %.1f s; best %s", record.trial, record.metric,
                    record.duration_s or 0.0, best_text)
    elif record.status == "pruned":
        logger.info("trial %d pruned at step %s: metric %.4f; best %s", record.trial, record.steps,
                    record.metric, best_text)
    else:
        logger.warning("trial %d failed: %s", record.trial, record.error)

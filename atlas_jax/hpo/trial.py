"""A trial (one config with a budget) and the worker-side wrapper that runs an objective on it."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from atlas_jax.errors import NonFiniteLossError
from atlas_jax.hpo.asha import ASHAScheduler, TrialPruned


@dataclass
class Trial:
    """The unit of work sent to a worker: a config to evaluate and where to report progress.

    Attributes:
        id: trial id within the study.
        values: the config, flat {path: value}.
        overrides: the same config as Hydra overrides.
        directory: the trial's own run folder (checkpoints let a rerun resume).
        max_steps: training steps of a full trial, or None to keep the config's.
        scheduler: ASHA scheduler, or None to run every trial in full.
    """

    id: int
    values: dict[str, Any]
    overrides: list[str]
    directory: Path
    max_steps: Optional[int] = None
    scheduler: Optional[ASHAScheduler] = None
    reports: list[tuple[int, float]] = field(default_factory=list)

    def report(self, step: int, value: float) -> None:
        """Report an intermediate metric; raise TrialPruned when the scheduler stops the trial."""
        self.reports.append((int(step), float(value)))
        if self.scheduler is not None and not self.scheduler.report(self.id, int(step), float(value)):
            raise TrialPruned(int(step), float(value))


Objective = Callable[[Trial], dict[str, Any]]


def execute_trial(objective: Objective, trial: Trial) -> dict[str, Any]:
    """Run `objective(trial)` in a worker and return a plain dict, never raising.

    Returns:
        {"status": "complete", "metrics": summary}, {"status": "pruned", "step", "value"}
        or {"status": "failed", "error": message}, each with "duration_s".
    """
    start = time.perf_counter()
    trial.directory.mkdir(parents=True, exist_ok=True)
    try:
        metrics = objective(trial)
        if not isinstance(metrics, dict):
            raise TypeError(f"objective returned {type(metrics).__name__}, expected a dict of metrics")
        outcome = {"status": "complete", "metrics": metrics}
    except TrialPruned as pruned:
        outcome = {"status": "pruned", "step": pruned.step, "value": pruned.value,
                   "metrics": {"step": pruned.step, "value": pruned.value}}
    except Exception as error:  # noqa: BLE001 - a failed trial must not stop the study
        message = f"{type(error).__name__}: {error}"
        if isinstance(error, NonFiniteLossError):
            # The training loop's advice is for a single run. In a study, the searched range is what to change.
            message += (". In a study, narrow the searched range instead, such as "
                        "hpo.space.bounds.optim.learning_rate=[LOW,HIGH]")
        # The study logs the failure from the returned outcome, so the worker does not log it too.
        outcome = {"status": "failed", "error": message, "traceback": traceback.format_exc(limit=20)}
    outcome["duration_s"] = time.perf_counter() - start
    return outcome

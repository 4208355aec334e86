"""Asynchronous successive halving (ASHA) on intermediate validation metrics.

Rungs sit at `min_steps * eta**k` training steps. When a trial reaches a rung it
records its metric there and continues only if it ranks within the best
ceil(n / eta) of the n values recorded at the rung so far (itself included).
Otherwise the trial stops. This is the stopping variant of ASHA (Li et al., 2020, "A System for
Massively Parallel Hyperparameter Tuning"): no trial waits for others.

Workers may run in other processes, so the rung records live in a JSONL file
guarded by an advisory file lock (fcntl, so POSIX only).
"""

from __future__ import annotations

import fcntl
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atlas_jax.errors import ConfigError


class TrialPruned(Exception):
    """Raised inside a trial to stop it early; carries the step and the metric at that point."""

    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"pruned at step {step} with metric {value:.6g}")
        self.step = step
        self.value = value


@dataclass
class ASHAScheduler:
    """Decide, at each rung, whether a trial continues. Picklable, so it travels to workers.

    Attributes:
        path: the rung records file (shared by all workers of a study).
        min_steps: steps of the first rung.
        max_steps: steps of a full trial; no rung is placed at or past it.
        reduction_factor: eta, at least 2.
        mode: "max" or "min": which metric values are better.
    """

    path: Path
    min_steps: int
    max_steps: int
    reduction_factor: int = 3
    mode: str = "max"

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.reduction_factor < 2:
            raise ConfigError(f"invalid ASHA reduction_factor {self.reduction_factor}: must be at least 2")
        if self.min_steps <= 0:
            raise ConfigError(f"invalid ASHA min_steps {self.min_steps}: must be positive")
        if self.mode not in ("max", "min"):
            raise ConfigError(f"invalid mode {self.mode!r}: expected max or min")

    @property
    def rungs(self) -> list[int]:
        """Step counts at which trials are compared."""
        rungs, steps = [], self.min_steps
        while steps < self.max_steps:
            rungs.append(steps)
            steps *= self.reduction_factor
        return rungs

    def report(self, trial: int, step: int, value: float) -> bool:
        """Record `value` of `trial` at the highest rung `step` has reached; return True to continue.

        Steps between rungs (and rungs already recorded for this trial) only return True.
        A NaN metric stops the trial.
        """
        reached = [r for r in self.rungs if r <= step]
        if not reached:
            return True
        rung = reached[-1]
        if not math.isfinite(value):
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                recorded = _read_rung(handle.read(), rung)
                if trial in recorded:
                    return True  # this trial passed (or is rerunning) this rung already
                handle.write(json.dumps({"rung": rung, "trial": trial, "value": value}) + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        recorded[trial] = value
        return self._keeps(value, list(recorded.values()))

    def _keeps(self, value: float, values: list[float]) -> bool:
        """Keep `value` if fewer than ceil(n / eta) of the n recorded values beat it."""
        sign = 1.0 if self.mode == "max" else -1.0
        better = int(np.sum(np.asarray(values, dtype=float) * sign > value * sign))
        return better < math.ceil(len(values) / self.reduction_factor)


def _read_rung(text: str, rung: int) -> dict[int, float]:
    recorded: dict[int, float] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a killed process
        if entry.get("rung") == rung:
            recorded[int(entry["trial"])] = float(entry["value"])
    return recorded

"""Append-only JSONL store of a study's trials, safe against SIGKILL.

Each line of `trials.jsonl` is one trial record. A trial gets a "running" line when
it starts and a second line when it ends, and the last line of a trial id wins.
A process killed mid-write leaves at most one partial last line, which `open`
removes before appending.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from atlas_jax.errors import AtlasError

logger = logging.getLogger(__name__)

TRIALS_FILE = "trials.jsonl"
FINISHED = ("complete", "pruned", "failed", "infeasible")


@dataclass
class TrialRecord:
    trial: int  # trial id, counting from 0 in ask order
    status: str  # running, complete, pruned, failed or infeasible
    values: dict[str, Any]  # the config, flat {path: value}
    overrides: list[str]  # the config as Hydra overrides
    loss: Optional[float] = None  # what the optimizer minimizes (the metric, negated for mode=max)
    metric: Optional[float] = None  # the optimized metric as reported (final or last intermediate)
    metrics: dict[str, Any] = field(default_factory=dict)  # the trial's summary or last intermediate metrics
    steps: Optional[int] = None  # training steps the trial ran (fewer when pruned)
    violations: list[float] = field(default_factory=list)  # constraint violation amounts
    error: Optional[str] = None  # failure message
    started_at: Optional[float] = None  # UNIX time
    duration_s: Optional[float] = None  # wall time of the trial, in seconds

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class StudyStore:
    """Reader and appender of `<study_dir>/trials.jsonl`."""

    def __init__(self, study_dir: Path) -> None:
        self.study_dir = Path(study_dir)
        self.path = self.study_dir / TRIALS_FILE
        self.study_dir.mkdir(parents=True, exist_ok=True)
        self._repair_tail()

    def _repair_tail(self) -> None:
        """Cut a partial last line left by a killed writer, so appends start on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            logger.warning("removing a partial last line (%d bytes) from %s", len(data) - keep, self.path)
            with open(self.path, "r+b") as handle:
                handle.truncate(keep)

    def append(self, record: TrialRecord) -> None:
        """Append one record and flush it to disk before returning."""
        line = json.dumps(asdict(record), allow_nan=True, default=_json_default) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def load(self) -> dict[int, TrialRecord]:
        """Return the latest record of every trial, keyed by trial id.

        Raises:
            AtlasError: if a line other than the last is not valid JSON.
        """
        if not self.path.exists():
            return {}
        records: dict[int, TrialRecord] = {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                record = TrialRecord(**raw)
            except (json.JSONDecodeError, TypeError) as error:
                raise AtlasError(
                    f"invalid record on line {number} of {self.path}: {error}; fix or delete that line to resume "
                    "with the other trials, or move the file away to start a fresh study"
                ) from error
            records[record.trial] = record
        return dict(sorted(records.items()))


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def now() -> float:
    return time.time()

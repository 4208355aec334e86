"""Metric writers: JSON lines and TensorBoard events, written on process 0 only."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return number if math.isfinite(number) else str(number)  # JSON has no NaN or Infinity


class MetricWriter:
    """Append metrics to `<run_dir>/metrics.jsonl` and TensorBoard events under `<run_dir>/tb`.

    Each JSON line is `{"step": int, "split": str, <name>: value, ...}`.

    Args:
        run_dir: run folder.
        resume_step: when resuming from a checkpoint at this step, rows written
            after it by the interrupted run are dropped, so the file reads as if
            the run had never stopped.
        enabled: write nothing when False (processes other than 0).
    """

    def __init__(self, run_dir: Path, *, resume_step: Optional[int] = None, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        if resume_step is not None and self.path.exists():
            _truncate_after(self.path, resume_step)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            from tensorboardX import SummaryWriter

            # purge_step makes TensorBoard drop events past the checkpoint that the interrupted run wrote.
            self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step)

    def write(self, step: int, split: str, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = {"step": int(step), "split": split, **{k: _jsonable(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._tb is not None:
            for name, value in metrics.items():
                if isinstance(value, (int, float)) or hasattr(value, "__float__"):
                    self._tb.add_scalar(f"{split}/{name}", float(value), int(step))

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _truncate_after(path: Path, step: int) -> None:
    """Rewrite `path` without the rows whose step is past `step` (atomically)."""
    kept = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if int(row.get("step", 0)) <= step:
                kept.append(json.dumps(row) + "\n")
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(kept)
    os.replace(tmp, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON through a temporary file, so `path` is never half-written."""
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)

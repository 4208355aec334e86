"""Training metrics of the GNN task: JSON lines in the run folder and a progress bar."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class MetricLog:
    """Append metrics to `<run_dir>/metrics.jsonl` (when a folder is given) and drive a tqdm bar."""

    def __init__(self, run_dir: Path | None, *, progress: bool, total: int, initial: int = 0):
        self._file = None
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self._file = open(Path(run_dir) / "metrics.jsonl", "a", encoding="utf-8")
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def write(self, step: int, metrics: dict[str, Any], prefix: str = "train") -> None:
        if self._file is not None:
            record = {"step": step, "time": time.time(), **{f"{prefix}/{k}": v for k, v in metrics.items()}}
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def advance(self, step: int, metrics: dict[str, float], every: int) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{metrics['loss']:.4f}", acc=f"{metrics['accuracy']:.3f}", refresh=False)
        if every > 0 and step % every == 0:
            self.write(step, metrics)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._file is not None:
            self._file.close()

"""Progress reporting for long loops: a tqdm bar on a terminal, periodic log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from typing import Optional

logger = logging.getLogger(__name__)


def _format_seconds(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Show step, loss, examples/s and ETA for a loop of `total` steps starting at `start`.

    On a terminal this is a tqdm bar; in a log file (CI, SLURM) a line every
    `log_every` steps. Throughput counts steady-state steps only: the first
    (compiling) step is reported on its own by the caller.
    """

    def __init__(self, total: int, start: int, *, examples_per_step: int, log_every: int, enabled: bool, desc: str = "train"):
        self.total, self.step = total, start
        self.examples_per_step = examples_per_step
        self.log_every = max(1, log_every)
        self.enabled = enabled
        self._bar = None
        self._t0: Optional[float] = None
        self._s0 = start
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, desc=desc, unit="step", dynamic_ncols=True)

    def start_clock(self) -> None:
        """Start measuring throughput (call after the compiling step)."""
        self._t0, self._s0 = time.perf_counter(), self.step

    def update(self, step: int, loss: float) -> None:
        advanced = step - self.step
        self.step = step
        if not self.enabled:
            return
        rate = self.rate()
        if self._bar is not None:
            self._bar.update(advanced)
            self._bar.set_postfix(loss=f"{loss:.4f}", ex_per_s=f"{rate * self.examples_per_step:,.0f}", refresh=False)
        elif step % self.log_every == 0 or step == self.total:
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            logger.info(
                "step %d/%d  loss %.4f  %s examples/s  ETA %s",
                step, self.total, loss, f"{rate * self.examples_per_step:,.0f}",
                _format_seconds(eta) if eta == eta else "?",
            )

    def rate(self) -> float:
        """Steady-state steps per second (0 before the clock starts)."""
        if self._t0 is None or self.step <= self._s0:
            return 0.0
        return (self.step - self._s0) / max(time.perf_counter() - self._t0, 1e-9)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

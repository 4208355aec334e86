"""Executors that run trials: any `concurrent.futures.Executor`, or submitit's.

A process pool is the default. Its workers start with the "spawn" method, since
forking a process that has initialised JAX can deadlock. They also ask Linux to
kill them when the study process dies, so a SIGKILLed study leaves no orphan
trial writing into its folder.
"""

from __future__ import annotations

import concurrent.futures as futures
import ctypes
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from atlas_jax.errors import ConfigError

logger = logging.getLogger(__name__)

EXECUTORS = ("process", "thread", "inline", "submitit_local", "slurm")


class InlineExecutor(futures.Executor):
    """Runs each submitted call at once in the calling thread (for debugging and tests)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> futures.Future:
        future: futures.Future = futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - the future carries it to the caller
            future.set_exception(error)
        return future


def _die_with_parent() -> None:
    """Process-pool initializer: ask Linux to SIGKILL this worker when its parent exits."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def make_executor(kind: str, max_workers: int, folder: Path | None = None,
                  slurm: dict | None = None) -> Any:
    """Create the executor named `kind`.

    Args:
        kind: "process" (local process pool), "thread", "inline", "submitit_local"
            (submitit's LocalExecutor, one process per trial) or "slurm" (submitit's
            AutoExecutor; needs the `slurm` extra and a SLURM cluster).
        max_workers: parallel trials.
        folder: submitit's log folder.
        slurm: extra submitit parameters, such as {"timeout_min": 60, "slurm_partition": "gpu"}.

    Raises:
        ConfigError: for an unknown kind or a missing submitit install.
    """
    if kind == "process":
        return futures.ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_die_with_parent)
    if kind == "thread":
        return futures.ThreadPoolExecutor(max_workers=max_workers)
    if kind == "inline":
        return InlineExecutor()
    if kind in ("submitit_local", "slurm"):
        try:
            import submitit
        except ImportError as error:
            raise ConfigError(
                f"hpo.executor={kind} needs submitit; install it with `pip install atlas-jax[slurm]`"
            ) from error
        if folder is None:
            raise ConfigError(f"hpo.executor={kind} needs a log folder")
        if kind == "submitit_local":
            executor = submitit.LocalExecutor(folder=str(folder))
        else:
            executor = submitit.AutoExecutor(folder=str(folder))
        parameters = {"timeout_min": 60, **(slurm or {})}
        executor.update_parameters(**parameters)
        return executor
    raise ConfigError(f"unknown hpo.executor '{kind}'; valid executors: {', '.join(EXECUTORS)}")


def wait_any(pending: Iterable[Any], poll_s: float = 0.05) -> list[Any]:
    """Block until at least one of `pending` is done and return those that are.

    Works for `concurrent.futures.Future` and submitit's `Job`, which have `done()`
    but cannot go to `concurrent.futures.wait`.
    """
    pending = list(pending)
    if not pending:
        return []
    if all(isinstance(f, futures.Future) for f in pending):
        done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
        return [f for f in pending if f in done]
    while True:
        done = [f for f in pending if f.done()]
        if done:
            return done
        time.sleep(poll_s)


def shutdown(executor: Any) -> None:
    """Shut down an executor without waiting for submitit jobs (they have no shutdown)."""
    if isinstance(executor, futures.Executor):
        executor.shutdown(wait=True, cancel_futures=True)

"""Guard a run folder against resuming a run under a different config."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from atlas_jax.errors import AtlasError

# Keys that may change between a run and its resumption without changing what is computed.
NON_IDENTITY_KEYS = ("train.resume", "train.progress", "train.log_every")
# The device layout may change too: checkpoints restore onto any mesh.
NON_IDENTITY_PREFIXES = ("parallel.",)


def _is_identity_key(key: str) -> bool:
    return key not in NON_IDENTITY_KEYS and not key.startswith(NON_IDENTITY_PREFIXES)

RUN_CONFIG = "run_config.yaml"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def _identity(config: Any, free_keys: tuple[str, ...] = (), free_prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
    """Flatten `config` and keep the keys that decide what is computed."""
    flat = _flatten(OmegaConf.to_container(config, resolve=True))
    return {
        k: v for k, v in flat.items()
        if _is_identity_key(k) and k not in free_keys and not k.startswith(free_prefixes)
    }


def _changes(path: Path, cfg: Any, free_keys: tuple[str, ...] = (), free_prefixes: tuple[str, ...] = ()) -> str:
    """Describe how `cfg` differs from the config saved at `path` ("" when it does not).

    Raises:
        AtlasError: the saved config cannot be read (cut or edited by hand).
    """
    try:
        saved_config = OmegaConf.load(path)
    except Exception as error:  # OmegaConf raises several YAML and type errors
        raise AtlasError(
            f"cannot read the saved config {path}: {error}; restore it, or choose another folder "
            "(hydra.run.dir=...)"
        ) from error
    saved, current = _identity(saved_config, free_keys, free_prefixes), _identity(cfg, free_keys, free_prefixes)
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    details = "; ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:5])
    details += f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    missing = len(current.keys() - saved.keys())
    if missing:
        # Configs are written whole (temp file, then rename), so missing keys point at damage.
        details += f"; {path} lacks {missing} key{'s' if missing > 1 else ''}, so it may have been cut or edited by hand"
    return details


def _save(path: Path, cfg: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    tmp.replace(path)


class RunConfigChanged(AtlasError):
    """Error raised when a run folder's checkpoints come from a run with another config."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details  # the changed keys, as "key: old -> new, ..."


def check_run_config(run_dir: Path, cfg: Any, *, has_checkpoints: bool, resume: bool) -> None:
    """Record the run's config on first start; on restart, reject a changed config.

    Raises:
        AtlasError: the folder contains checkpoints of a run with another config, or
            contains checkpoints while `train.resume=false`.
    """
    path = Path(run_dir) / RUN_CONFIG
    if has_checkpoints and not resume:
        raise AtlasError(
            f"run folder {run_dir} already contains checkpoints; rerun with train.resume=true to continue "
            "that run, or choose another folder (hydra.run.dir=...) to start a new one"
        )
    if has_checkpoints and path.exists():
        details = _changes(path, cfg)
        if details:
            raise RunConfigChanged(
                f"run folder {run_dir} contains a run with a different config ({details}); "
                "resume it with its original config, or choose another folder (hydra.run.dir=...)",
                details,
            )
    if not path.exists() or not has_checkpoints:
        _save(path, cfg)


STUDY_CONFIG = "study_config.yaml"
# Keys a study may change between its start and a rerun: more trials (`hpo.budget`), how
# they are run, and what happens after the search. Everything else decides what a recorded
# trial measured, so a change would mix incomparable trials in one study.
STUDY_FREE_KEYS = (
    "hpo.budget", "hpo.num_workers", "hpo.executor", "hpo.max_failures", "hpo.retrain", "hpo.retrain_steps",
    "hpo.prior.record",
)
STUDY_FREE_PREFIXES = ("hpo.slurm.",)


def check_study_config(study_dir: Path, cfg: Any, *, has_trials: bool) -> None:
    """Record a study's config on first start; on a rerun with recorded trials, reject a change.

    The comparison leaves out the keys a run may change (`NON_IDENTITY_KEYS`, the device
    layout) and those in `STUDY_FREE_KEYS`.

    Raises:
        AtlasError: the study folder contains trials recorded under another config (the
            message names the changed keys), or its saved config cannot be read.
    """
    path = Path(study_dir) / STUDY_CONFIG
    if has_trials and path.exists():
        details = _changes(path, cfg, STUDY_FREE_KEYS, STUDY_FREE_PREFIXES)
        if details:
            raise AtlasError(
                f"study folder {study_dir} contains trials run under a different config ({details}); "
                f"rerun with the original values, or choose another folder (hydra.run.dir=...). "
                f"Only {', '.join(STUDY_FREE_KEYS)} may change between reruns"
            )
    if not path.exists() or not has_trials:
        _save(path, cfg)


@contextlib.contextmanager
def lock_run_folder(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on `run_dir` so that a second process cannot train into it at the same time.

    The lock is an `flock` on `<run_dir>/.lock`; the kernel drops it when the process exits, also after
    SIGKILL, so a killed run never leaves a stale lock behind.

    Raises:
        AtlasError: another process holds the lock.
    """
    path = Path(run_dir) / ".lock"
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise AtlasError(
                f"run folder {run_dir} is in use by another process (pid {owner}); wait for it to finish, "
                "or choose another folder (hydra.run.dir=...)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""Guard a run folder against resuming a run under a different config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from atlas_jax.errors import AtlasError

# Keys that may change between a run and its resumption without changing what is computed.
NON_IDENTITY_KEYS = ("train.resume", "train.progress", "train.log_every")

RUN_CONFIG = "run_config.yaml"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def check_run_config(run_dir: Path, cfg: Any, *, has_checkpoints: bool, resume: bool) -> None:
    """Record the run's config on first start; on restart, refuse a changed config.

    Raises:
        AtlasError: the folder holds checkpoints of a run with another config, or
            holds checkpoints while `train.resume=false`.
    """
    path = Path(run_dir) / RUN_CONFIG
    current = {k: v for k, v in _flatten(OmegaConf.to_container(cfg, resolve=True)).items() if k not in NON_IDENTITY_KEYS}
    if has_checkpoints and not resume:
        raise AtlasError(
            f"run folder {run_dir} already holds checkpoints; rerun with train.resume=true to continue "
            "that run, or choose another folder (hydra.run.dir=...) to start a new one"
        )
    if has_checkpoints and path.exists():
        saved = {k: v for k, v in _flatten(OmegaConf.to_container(OmegaConf.load(path), resolve=True)).items() if k not in NON_IDENTITY_KEYS}
        changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
        if changed:
            details = "; ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:5])
            raise AtlasError(
                f"run folder {run_dir} holds a run with a different config ({details}); "
                "resume it with its original config, or choose another folder (hydra.run.dir=...)"
            )
    if not path.exists() or not has_checkpoints:
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
        tmp.replace(path)

"""Multi-process start-up: `jax.distributed.initialize` from explicit settings or a SLURM job."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Mapping

import jax

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.config import DistributedConfig

logger = logging.getLogger(__name__)

MODES = ("off", "explicit", "slurm")


@dataclass(frozen=True)
class ClusterSpec:
    """Arguments of `jax.distributed.initialize` for this process."""

    coordinator_address: str
    num_processes: int
    process_id: int
    local_device_ids: tuple[int, ...] | None = None


def first_host(nodelist: str) -> str:
    """Return the first host of a SLURM node list such as `gpu[003-005,9],cpu1` (`gpu003`)."""
    match = re.match(r"([^\[,]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match or not match.group(1):
        raise ConfigError(f"SLURM node list '{nodelist}' could not be parsed")
    prefix, ranges = match.group(1), match.group(2)
    if ranges is None:
        return prefix
    first = ranges.split(",")[0].split("-")[0]
    return prefix + first  # Keeps zero padding: "003" stays "003".


def _slurm_spec(cfg: DistributedConfig, env: Mapping[str, str]) -> ClusterSpec:
    missing = [name for name in ("SLURM_NTASKS", "SLURM_PROCID") if name not in env]
    nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if nodelist is None:
        missing.append("SLURM_STEP_NODELIST or SLURM_JOB_NODELIST")
    if missing:
        raise ConfigError(
            f"parallel.distributed.mode=slurm but {', '.join(missing)} is not set; "
            "start the job with srun, or use mode=explicit"
        )
    host = cfg.coordinator_address or f"{first_host(nodelist)}:{cfg.coordinator_port}"
    return ClusterSpec(
        coordinator_address=host,
        num_processes=int(env["SLURM_NTASKS"]),
        process_id=int(env["SLURM_PROCID"]),
        local_device_ids=tuple(cfg.local_device_ids) if cfg.local_device_ids is not None else None,
    )


def cluster_spec(cfg: DistributedConfig, env: Mapping[str, str] | None = None) -> ClusterSpec | None:
    """Work out this process's place in the job; None when `cfg.mode` is `off`.

    Raises:
        ConfigError: an unknown mode, missing explicit fields, missing SLURM variables,
            or a process id outside `[0, num_processes)`.
    """
    env = os.environ if env is None else env
    if cfg.mode not in MODES:
        raise ConfigError(f"parallel.distributed.mode='{cfg.mode}' is invalid; use one of {list(MODES)}")
    if cfg.mode == "off":
        return None
    if cfg.mode == "slurm":
        spec = _slurm_spec(cfg, env)
    else:
        missing = [f for f in ("coordinator_address", "num_processes", "process_id") if getattr(cfg, f) is None]
        if missing:
            raise ConfigError(
                f"parallel.distributed.mode=explicit needs {', '.join('parallel.distributed.' + f for f in missing)}"
            )
        spec = ClusterSpec(
            coordinator_address=str(cfg.coordinator_address),
            num_processes=int(cfg.num_processes),
            process_id=int(cfg.process_id),
            local_device_ids=tuple(cfg.local_device_ids) if cfg.local_device_ids is not None else None,
        )
    if not 0 <= spec.process_id < spec.num_processes:
        raise ConfigError(f"process id {spec.process_id} is outside [0, {spec.num_processes})")
    return spec


def initialize(cfg: DistributedConfig, env: Mapping[str, str] | None = None) -> ClusterSpec | None:
    """Join the multi-process job that `cfg` describes; a no-op for `mode=off`.

    Must run before anything else touches a JAX backend; a second call in the same
    process keeps the job that the first call joined. On CPU it also selects the
    cross-process collectives implementation (`cfg.cpu_collectives`).
    """
    spec = cluster_spec(cfg, env)
    if spec is None:
        return None
    if jax.distributed.is_initialized():
        logger.info("jax.distributed is already initialized; keeping the existing job")
        return spec
    if cfg.cpu_collectives:
        jax.config.update("jax_cpu_collectives_implementation", cfg.cpu_collectives)
    logger.info(
        "joining %d-process job as process %d, coordinator %s",
        spec.num_processes,
        spec.process_id,
        spec.coordinator_address,
    )
    jax.distributed.initialize(
        coordinator_address=spec.coordinator_address,
        num_processes=spec.num_processes,
        process_id=spec.process_id,
        local_device_ids=list(spec.local_device_ids) if spec.local_device_ids is not None else None,
        initialization_timeout=cfg.timeout_s,
    )
    logger.info("process %d sees %d of %d devices", jax.process_index(), jax.local_device_count(), jax.device_count())
    return spec

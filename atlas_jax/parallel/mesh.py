"""Build the device mesh from `ParallelConfig` sizes."""

from __future__ import annotations

import logging
import math
from typing import Sequence

import jax
from jax.sharding import AxisType, Mesh

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.config import MESH_AXES, ParallelConfig

logger = logging.getLogger(__name__)

_AXIS_TYPES = {"auto": AxisType.Auto, "explicit": AxisType.Explicit}


def resolve_axis_sizes(cfg: ParallelConfig, num_devices: int) -> dict[str, int]:
    """Return the size of every mesh axis, with a `-1` entry replaced by the remaining devices.

    Raises:
        ConfigError: more than one `-1`, a size below 1, or a product that differs from
            `num_devices`.
    """
    sizes = {axis: int(getattr(cfg, axis)) for axis in MESH_AXES}
    wildcards = [axis for axis, size in sizes.items() if size == -1]
    if len(wildcards) > 1:
        raise ConfigError(
            f"parallel axes {wildcards} are all -1; at most one axis may take the remaining devices"
        )
    for axis, size in sizes.items():
        if size < 1 and size != -1:
            raise ConfigError(f"parallel.{axis}={size} is invalid; use a positive size or -1")

    fixed = math.prod(size for size in sizes.values() if size != -1)
    if wildcards:
        if num_devices % fixed:
            raise ConfigError(
                f"parallel.{wildcards[0]}=-1 cannot fill the mesh: the other axes {sizes} use "
                f"{fixed} devices, which does not divide the {num_devices} available devices"
            )
        sizes[wildcards[0]] = num_devices // fixed
    elif fixed != num_devices:
        raise ConfigError(
            f"parallel mesh {sizes} needs {fixed} devices but {num_devices} are available; "
            "change the sizes or set one axis to -1"
        )
    return sizes


def create_mesh(cfg: ParallelConfig, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """Create the `data x pipe x fsdp x tensor` mesh over `devices` (default: all devices).

    With `cfg.num_devices > 0` only the first that many of `devices` are used.

    The axis type is chosen explicitly because `jax.make_mesh` defaults to Explicit. With
    `auto` (the default) jit's in/out shardings and our sharding constraints seed GSPMD
    propagation; the models do not carry sharding-in-types annotations, so `explicit`
    suits only code written for it.
    """
    devices = list(jax.devices() if devices is None else devices)
    if cfg.num_devices > 0:
        if cfg.num_devices > len(devices):
            raise ConfigError(
                f"parallel.num_devices={cfg.num_devices} but only {len(devices)} devices are available"
            )
        devices = devices[: cfg.num_devices]
    sizes = resolve_axis_sizes(cfg, len(devices))
    if cfg.axis_types not in _AXIS_TYPES:
        raise ConfigError(
            f"parallel.axis_types='{cfg.axis_types}' is invalid; use one of {sorted(_AXIS_TYPES)}"
        )
    axis_type = _AXIS_TYPES[cfg.axis_types]
    shape = tuple(sizes[axis] for axis in MESH_AXES)
    mesh = jax.make_mesh(shape, MESH_AXES, axis_types=(axis_type,) * len(MESH_AXES), devices=devices)
    logger.info("mesh %s over %d devices", dict(mesh.shape), len(devices))
    return mesh

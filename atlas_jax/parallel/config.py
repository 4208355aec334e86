"""Structured configs of the `parallel/` Hydra group: mesh sizes, sharding rules, remat, pipeline.

Imports nothing heavy, so `atlas_jax.config` can register these schemas before JAX loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

# Mesh axes, outermost first. `tensor` is innermost because tensor-parallel collectives run
# on every layer and need the fastest links. `data` is outermost because its gradient
# all-reduce runs once per step and tolerates the slowest (cross-host) links.
MESH_AXES = ("data", "pipe", "fsdp", "tensor")


def default_rules() -> list[list[Any]]:
    """The logical-to-mesh rule table that every preset shares.

    Axes of size 1 are dropped when a rule is applied, so the presets differ only in mesh
    sizes. A mesh axis is used at most once per array: `batch` claims `fsdp` first on
    activations, so `embed` shards parameters over `fsdp` but leaves activations whole.
    Stacked layers split over `pipe` in contiguous blocks, which are exactly the GPipe
    stages, so each stage stores only its own layers.
    """
    return [
        ["batch", ["data", "fsdp"]],
        ["embed", "fsdp"],
        ["mlp", "tensor"],
        ["heads", "tensor"],
        ["kv", None],
        ["vocab", "tensor"],
        ["classes", "tensor"],
        ["layers", "pipe"],
        ["seq", None],
    ]


@dataclass
class DistributedConfig:
    mode: str = "off"  # off, explicit (the fields below) or slurm (read SLURM_* variables)
    coordinator_address: Optional[str] = None  # host:port of process 0 (explicit mode)
    coordinator_port: int = 12355  # port of process 0 when slurm mode derives the host
    num_processes: Optional[int] = None  # total processes (explicit mode)
    process_id: Optional[int] = None  # this process's rank, 0-based (explicit mode)
    local_device_ids: Optional[list[int]] = None  # devices this process drives; null: all visible
    timeout_s: int = 300  # seconds to wait for every process to join
    cpu_collectives: str = "gloo"  # CPU collectives backend for multi-process CPU runs


@dataclass
class ParallelConfig:
    data: int = 1  # devices on the data axis (batch split, gradients all-reduced); -1: the rest
    fsdp: int = 1  # devices on the fsdp axis (batch, parameters and optimizer state split); -1: the rest
    tensor: int = 1  # devices on the tensor axis (Megatron split of heads and MLP); -1: the rest
    pipe: int = 1  # pipeline stages; -1: the rest
    num_devices: int = -1  # devices the mesh uses, taken in order from jax.devices(); -1: all
    axis_types: str = "auto"  # mesh axis type: auto (GSPMD propagates shardings) or explicit
    rules: list[Any] = field(default_factory=default_rules)  # [logical name, mesh axis | list | null]
    fsdp_unannotated: bool = True  # shard the largest divisible dim of parameters without logical names over fsdp
    remat: str = "none"  # per-layer remat policy: none, full, dots_saveable, dots_with_no_batch_dims_saveable, save_names, offload
    remat_names: list[str] = field(default_factory=lambda: ["attn_out", "mlp_out"])  # activations kept by save_names (on device) or offload (in host memory)
    schedule: str = "gpipe"  # pipeline schedule: gpipe or circular
    microbatches: int = 1  # pipeline microbatches per step; the batch must divide evenly
    repeats: int = 1  # circular schedule: layer chunks per stage (1 for gpipe)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)

"""Parallel training: device mesh, logical sharding rules, FSDP/tensor/data parallel layouts,
pipeline schedules, remat policies, a class-sharded classifier, multi-host start-up and
checkpoints that restore onto another mesh.

A model names the axes of its parameters and key activations (`embed`, `mlp`, `heads`, ...).
`ParallelContext.from_config` builds the mesh and the rule table that maps those names to
mesh axes, and `jit_sharded` compiles a step for that layout.

Names load on first use, so `atlas_jax.parallel.config` stays cheap to import (the
`atlas` command registers its schema before JAX loads).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MESH_AXES": "config",
    "DistributedConfig": "config",
    "ParallelConfig": "config",
    "default_rules": "config",
    "ParallelContext": "context",
    "constrain": "context",
    "current_context": "context",
    "use_context": "context",
    "apply_layers": "layers",
    "create_mesh": "mesh",
    "resolve_axis_sizes": "mesh",
    "bubble_fraction": "pipeline",
    "pipeline_layers": "pipeline",
    "scan_layers": "pipeline",
    "REMAT_POLICIES": "remat",
    "with_remat": "remat",
    "remat_policy": "remat",
    "logical_to_spec": "rules",
    "parse_rules": "rules",
    "batch_sharding": "sharding",
    "bytes_per_device": "sharding",
    "jit_sharded": "sharding",
    "optimizer_shardings": "sharding",
    "shard_state": "sharding",
    "state_shardings": "sharding",
    "ShardedClassifier": "classifier",
    "sharded_cross_entropy": "classifier",
    "restore_model_state": "checkpoint",
    "restore_state": "checkpoint",
    "save_state": "checkpoint",
    "initialize_distributed": "distributed",
    "load_preset": "presets",
    "PRESETS": "presets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "initialize_distributed":
        return importlib.import_module("atlas_jax.parallel.distributed").initialize
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"atlas_jax.parallel.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'atlas_jax.parallel' has no attribute '{name}'")

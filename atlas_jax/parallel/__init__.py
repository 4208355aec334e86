"""Parallel training: device mesh, logical sharding rules, FSDP/tensor/data parallel layouts,
pipeline schedules, remat policies, a class-sharded classifier, multi-host start-up and
checkpoints that restore onto another mesh.

A model names the axes of its parameters and key activations (`embed`, `mlp`, `heads`, ...).
`ParallelContext.from_config` builds the mesh and the rule table that maps those names to
mesh axes, and `jit_sharded` compiles a step for that layout.
"""

from atlas_jax.parallel.config import MESH_AXES, DistributedConfig, ParallelConfig, default_rules
from atlas_jax.parallel.context import ParallelContext, constrain, current_context, use_context
from atlas_jax.parallel.layers import apply_layers
from atlas_jax.parallel.mesh import create_mesh, resolve_axis_sizes
from atlas_jax.parallel.pipeline import bubble_fraction, pipeline_layers, scan_layers
from atlas_jax.parallel.remat import REMAT_POLICIES, remat, remat_policy
from atlas_jax.parallel.rules import logical_to_spec, parse_rules
from atlas_jax.parallel.sharding import (
    batch_sharding,
    bytes_per_device,
    jit_sharded,
    optimizer_shardings,
    shard_state,
    state_shardings,
)

__all__ = [
    "MESH_AXES",
    "REMAT_POLICIES",
    "DistributedConfig",
    "ParallelConfig",
    "ParallelContext",
    "apply_layers",
    "batch_sharding",
    "bubble_fraction",
    "bytes_per_device",
    "constrain",
    "create_mesh",
    "current_context",
    "default_rules",
    "jit_sharded",
    "logical_to_spec",
    "optimizer_shardings",
    "parse_rules",
    "pipeline_layers",
    "remat",
    "remat_policy",
    "resolve_axis_sizes",
    "scan_layers",
    "shard_state",
    "state_shardings",
    "use_context",
]

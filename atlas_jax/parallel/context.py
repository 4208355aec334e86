"""The active parallel layout: mesh, rules, remat and pipeline settings, read by models at trace time.

Models call `constrain` on key activations and `apply_layers` on their stacked layers; both
read the context that `use_context` sets. Step builders enter the context inside the traced
function, so a jitted step always traces with the layout it was built for, whatever context
is active when it is called.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.config import MESH_AXES, ParallelConfig
from atlas_jax.parallel.mesh import create_mesh
from atlas_jax.parallel.rules import LogicalAxes, Rules, logical_to_spec, mesh_axes_for, parse_rules

SCHEDULES = ("gpipe", "circular")


@dataclass(frozen=True)
class ParallelContext:
    """A mesh with everything needed to lay a model out on it."""

    mesh: Mesh
    rules: Rules
    remat: str = "none"
    remat_names: tuple[str, ...] = ()
    schedule: str = "gpipe"
    microbatches: int = 1
    repeats: int = 1
    fsdp_unannotated: bool = True

    @classmethod
    def from_config(cls, cfg: ParallelConfig, devices: Sequence[jax.Device] | None = None) -> "ParallelContext":
        """Build the mesh and validate the pipeline settings of `cfg`.

        Raises:
            ConfigError: invalid sizes, rules, schedule, microbatches or repeats.
        """
        if cfg.schedule not in SCHEDULES:
            raise ConfigError(f"parallel.schedule='{cfg.schedule}' is invalid; use one of {list(SCHEDULES)}")
        if cfg.microbatches < 1 or cfg.repeats < 1:
            raise ConfigError(
                f"parallel.microbatches={cfg.microbatches} and parallel.repeats={cfg.repeats} must be >= 1"
            )
        if cfg.schedule == "gpipe" and cfg.repeats != 1:
            raise ConfigError(
                f"parallel.repeats={cfg.repeats} needs parallel.schedule=circular; gpipe runs each layer once"
            )
        from atlas_jax.parallel.remat import check_remat

        check_remat(cfg.remat, tuple(cfg.remat_names))
        mesh = create_mesh(cfg, devices)
        return cls(
            mesh=mesh,
            rules=parse_rules(cfg.rules, MESH_AXES),
            remat=cfg.remat,
            remat_names=tuple(cfg.remat_names),
            schedule=cfg.schedule,
            microbatches=int(cfg.microbatches),
            repeats=int(cfg.repeats),
            fsdp_unannotated=bool(cfg.fsdp_unannotated),
        )

    @property
    def stages(self) -> int:
        return int(self.mesh.shape.get("pipe", 1))

    def spec(self, names: LogicalAxes, shape: Sequence[int] | None = None) -> PartitionSpec:
        """Return the `PartitionSpec` of an array with logical axes `names`."""
        return logical_to_spec(names, self.rules, self.mesh, shape)

    def sharding(self, names: LogicalAxes, shape: Sequence[int] | None = None) -> NamedSharding:
        """Return the `NamedSharding` of an array with logical axes `names`."""
        return NamedSharding(self.mesh, self.spec(names, shape))

    def batch_axes(self) -> tuple[str, ...]:
        """Return the mesh axes that split the batch."""
        return mesh_axes_for("batch", self.rules, self.mesh)


_CURRENT: contextvars.ContextVar[ParallelContext | None] = contextvars.ContextVar("atlas_parallel", default=None)


@contextlib.contextmanager
def use_context(ctx: ParallelContext | None) -> Iterator[ParallelContext | None]:
    """Make `ctx` the active layout (None: plain single-device code) inside the block.

    Meant for code being traced (under `jax.jit`); `jit_sharded` enters it for you.
    """
    token = _CURRENT.set(ctx)
    try:
        if ctx is None:
            yield ctx
        else:
            # `jax.set_mesh` is rejected under jit; the abstract mesh is all tracing needs.
            with jax.sharding.use_abstract_mesh(ctx.mesh.abstract_mesh):
                yield ctx
    finally:
        _CURRENT.reset(token)


def current_context() -> ParallelContext | None:
    """Return the active layout, or None outside `use_context`."""
    return _CURRENT.get()


def constrain(x: jax.Array, names: LogicalAxes) -> jax.Array:
    """Constrain activation `x` to the sharding of its logical axes; a no-op without a context.

    Inside a pipeline stage only the auto (non-pipe) mesh axes may appear, and the rules
    never map an activation axis to `pipe`, so the same call works in and out of stages.
    """
    ctx = current_context()
    if ctx is None or ctx.mesh.size == 1:
        return x
    spec = ctx.spec(names, x.shape)
    return jax.lax.with_sharding_constraint(x, spec)

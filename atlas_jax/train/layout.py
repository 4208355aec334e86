"""Where the train state and batches live on a multi-device mesh (`parallel` config group)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import jax
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.context import ParallelContext
from atlas_jax.parallel.sharding import jit_sharded, optimizer_shardings, shard_state, state_shardings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    """Shardings of one run: the train state, train and eval batches, and the mesh context."""

    ctx: ParallelContext
    state: Any = None  # a TrainState of NamedShardings; None on a one-device mesh
    train_batch: Optional[dict[str, NamedSharding]] = None
    eval_batch: Optional[dict[str, NamedSharding]] = None

    @property
    def sharded(self) -> bool:
        return self.state is not None

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.ctx.mesh, P())

    def jit(self, fn: Callable, *, in_shardings: Any, donate_argnums: tuple[int, ...] = ()) -> Callable:
        """Jit `fn` for this mesh, traced inside the layout's context.

        A donated first argument (the train state) comes back with its own sharding and
        everything else replicated. On a one-device mesh this is a plain jit.
        """
        if not self.sharded:
            return jit_sharded(fn, self.ctx, in_shardings=None, out_shardings=None, donate_argnums=donate_argnums)
        out = (self.state, self.replicated) if donate_argnums else self.replicated
        return jit_sharded(fn, self.ctx, in_shardings=in_shardings, out_shardings=out, donate_argnums=donate_argnums)

    def put(self, batch: dict[str, np.ndarray], shardings: dict[str, NamedSharding]) -> dict[str, jax.Array]:
        """Place a host batch (the same global batch on every process) on the mesh."""
        if not self.sharded:
            return batch
        return {k: jax.make_array_from_callback(v.shape, shardings[k], lambda index, v=v: v[index]) for k, v in batch.items()}

    def place_state(self, state: Any) -> Any:
        """Shard a host-built train state onto the mesh."""
        return shard_state(state, self.state) if self.sharded else state


def batch_multiple(ctx: ParallelContext) -> int:
    """Return the number that every batch size must be a multiple of: batch shards x microbatches."""
    shards = int(np.prod([ctx.mesh.shape[a] for a in ctx.batch_axes()], dtype=int))
    return shards * (ctx.microbatches if ctx.stages > 1 else 1)


def create_layout(
    ctx: ParallelContext, tx: optax.GradientTransformation, state: Any, batch_size: int, eval_size: int
) -> Layout:
    """Return the layout of a run on `ctx`'s mesh; on one device it only sets the context.

    Raises:
        ConfigError: `batch_size` does not split over the batch shards and microbatches.
    """
    if ctx.mesh.size == 1:
        return Layout(ctx=ctx)
    multiple = batch_multiple(ctx)
    if batch_size % multiple:
        raise ConfigError(
            f"train.batch_size={batch_size} does not split over the mesh: it must be a multiple of "
            f"{multiple} (batch shards over {ctx.batch_axes()} x pipeline microbatches)"
        )
    if eval_size % multiple:
        raise ConfigError(f"evaluation batch size {eval_size} is not a multiple of {multiple}")
    replicated = NamedSharding(ctx.mesh, P())
    params = state_shardings(ctx, state.params)
    state_sharding = state.replace(
        step=replicated,
        params=params,
        opt_state=optimizer_shardings(ctx, tx, state.params, params),
        rng=replicated,
    )
    batch = NamedSharding(ctx.mesh, P(ctx.batch_axes() or None))
    return Layout(
        ctx=ctx,
        state=state_sharding,
        train_batch={"x": batch, "y": batch},
        eval_batch={"x": batch, "y": batch, "mask": batch},
    )


def round_up(value: int, multiple: int) -> int:
    """Return the smallest multiple of `multiple` that is at least `value`."""
    return -(-value // multiple) * multiple

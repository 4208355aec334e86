"""Save sharded state with orbax and restore it onto any mesh layout.

Orbax stores each array as a tensorstore with its global shape, independent of the mesh
that wrote it. Restoring against abstract arrays that carry the target shardings makes
every process read only its own shards, so a run saved under 8-device FSDP resumes on one
device or on a data x tensor mesh.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from atlas_jax.errors import AtlasError
from atlas_jax.parallel.context import ParallelContext
from atlas_jax.parallel.sharding import is_variable, state_shardings

logger = logging.getLogger(__name__)


def save_state(path: str | Path, state: Any) -> None:
    """Write `state` (a pytree of arrays, possibly sharded) to the new directory `path`.

    Flax variables are stored as their bare arrays, so the files hold the same tree
    whether the caller passed an `nnx.State` or a pure dict.

    Orbax writes into a temporary directory and renames it when complete, so an
    interrupted save leaves no partial checkpoint at `path`.
    """
    path = Path(path).resolve()
    state = unwrap_variables(state)
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, state)
        checkpointer.wait_until_finished()
    logger.info("saved state to %s", path)


def unwrap_variables(tree: Any) -> Any:
    """Replace each Flax variable in `tree` by its value."""
    return jax.tree.map(lambda v: v.get_value() if is_variable(v) else v, tree, is_leaf=is_variable)


def abstract_state(state: Any, shardings: Any) -> Any:
    """Return `jax.ShapeDtypeStruct`s of `state` that carry `shardings` (a tree like `state`)."""
    return jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
        state,
        shardings,
        is_leaf=lambda x: isinstance(x, jax.sharding.Sharding),
    )


def restore_state(path: str | Path, target: Any) -> Any:
    """Read the checkpoint at `path` into the layout of `target` (abstract arrays with shardings).

    Raises:
        AtlasError: `path` is missing, or its tree does not match `target`.
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise AtlasError(f"checkpoint {path} not found; pass the directory that save_state wrote")
    with ocp.StandardCheckpointer() as checkpointer:
        try:
            return checkpointer.restore(path, target)
        except (ValueError, KeyError) as error:
            raise AtlasError(f"checkpoint {path} does not match the requested state: {error}") from error


def restore_model_state(path: str | Path, state: Any, ctx: ParallelContext) -> Any:
    """Restore an `nnx.State` saved under any mesh onto the layout of `ctx`.

    Args:
        path: directory written by `save_state`.
        state: the model state to fill, concrete or from `nnx.eval_shape`; only its
            structure, shapes, dtypes and logical names are used.
        ctx: the target layout.
    """
    shardings = unwrap_variables(state_shardings(ctx, state))
    restored = restore_state(path, abstract_state(unwrap_variables(state), shardings))
    return jax.tree.map(lambda v, new: v.replace(new), state, restored, is_leaf=is_variable)

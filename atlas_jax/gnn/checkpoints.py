"""Orbax checkpoints of the GNN task: array state plus a JSON record (pipeline position, best score).

Each checkpoint is one orbax step folder with two items: `state`, the pytree of
parameters and optimizer state, and `extra`, a JSON object. Orbax writes a step into
a temporary folder and renames it when complete, so a killed run never leaves a
partial checkpoint that a resume would read.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Restored:
    step: int
    state: Any
    extra: dict[str, Any]


class CheckpointStore:
    """Save and restore (state pytree, JSON extra) pairs under one folder, keeping the newest few."""

    def __init__(self, folder: Path, keep: int = 2):
        self.folder = Path(folder).absolute()
        self._manager = ocp.CheckpointManager(
            self.folder,
            options=ocp.CheckpointManagerOptions(max_to_keep=max(keep, 1), create=True),
            item_names=("state", "extra"),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, extra: dict[str, Any]) -> None:
        self._manager.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), extra=ocp.args.JsonSave(extra))
        )
        logger.info("saved checkpoint at step %d to %s", step, self.folder)

    def restore(self, like: Any, step: int | None = None) -> Restored:
        """Restore the newest checkpoint (or `step`) into arrays shaped and placed like `like`."""
        step = self._manager.latest_step() if step is None else step
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), extra=ocp.args.JsonRestore())
        )
        return Restored(step, restored["state"], dict(restored["extra"] or {}))

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

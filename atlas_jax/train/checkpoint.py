"""orbax checkpoints of the train state plus JSON side data (data iterator, bookkeeping)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp

from atlas_jax.errors import AtlasError

logger = logging.getLogger(__name__)


class Checkpointer:
    """Save and restore `{"state": pytree, "extra": json}` under `<run_dir>/checkpoints/<step>`.

    orbax writes each step into a temporary folder and renames it when complete,
    so a process killed mid-save leaves the previous checkpoints intact.
    """

    def __init__(self, run_dir: Path, *, keep: int, enabled: bool = True):
        self.directory = (Path(run_dir) / "checkpoints").resolve()
        options = ocp.CheckpointManagerOptions(max_to_keep=max(1, keep), create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> Optional[int]:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: Any, extra: dict[str, Any]) -> None:
        self._manager.save(
            int(step),
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), extra=ocp.args.JsonSave(extra)),
        )

    def restore(self, step: int, like: Any) -> tuple[Any, dict[str, Any]]:
        """Restore checkpoint `step` into arrays shaped, typed and sharded like `like`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            restored = self._manager.restore(
                int(step),
                args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), extra=ocp.args.JsonRestore()),
            )
        except (ValueError, KeyError, FileNotFoundError, OSError) as error:
            # Deleting the whole run folder would also lose the older, intact checkpoints.
            older = [s for s in self.all_steps() if s < step]
            fallback = f"resume from step {max(older)}" if older else "start the run over"
            raise AtlasError(
                f"cannot restore checkpoint step {step} from {self.directory}: {error}. "
                f"If that checkpoint is damaged, delete only {self.directory / str(step)} and rerun to {fallback}. "
                "If the model or optimizer config changed, start a new run folder (another run name or overrides)"
            ) from error
        return restored["state"], dict(restored["extra"])

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

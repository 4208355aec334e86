"""History of past studies: each task's meta-features and the configs tried on it, as JSONL."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from atlas_jax.errors import AtlasError

DEFAULT_HISTORY = Path("~/.cache/atlas_jax/meta_history.jsonl")


@dataclass
class TaskRecord:
    """One past study."""

    task: str  # task name, such as a dataset name
    features: dict[str, float]  # meta-features from `compute_meta_features`
    trials: list[dict[str, Any]] = field(default_factory=list)  # [{"values": {...}, "metric": float}, ...]
    mode: str = "max"  # whether higher or lower `metric` is better
    space: str = ""  # name of the search space the configs come from (informational)

    def top(self, count: int) -> list[dict[str, Any]]:
        """Return the `count` best trials, best first."""
        usable = [t for t in self.trials if t.get("metric") is not None]
        return sorted(usable, key=lambda t: t["metric"], reverse=self.mode == "max")[:count]


class MetaHistory:
    """Append-only JSONL history of past studies, one `TaskRecord` per line."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or DEFAULT_HISTORY).expanduser()

    def load(self) -> list[TaskRecord]:
        """Read every record; a later record of the same task replaces an earlier one.

        Raises:
            AtlasError: on a line that is not a valid record (except a cut last line).
        """
        if not self.path.exists():
            return []
        records: dict[str, TaskRecord] = {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = TaskRecord(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as error:
                if number == len(lines):
                    continue  # cut by a killed writer
                raise AtlasError(f"invalid history record on line {number} of {self.path}: {error}") from error
            records[record.task] = record
        return list(records.values())

    def add(self, record: TaskRecord) -> None:
        """Append one study to the history."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record)) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

"""History of past studies: each task's meta-features and the configs tried on it, as JSONL."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from atlas_jax.errors import AtlasError

logger = logging.getLogger(__name__)

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

    def _advice(self) -> str:
        return (f"fix or delete {self.path}, point hpo.prior.history at another file, "
                "or set hpo.prior.enabled=false")

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise AtlasError(f"meta-history {self.path} is not UTF-8 text ({error}); {self._advice()}") from error
        except OSError as error:
            raise AtlasError(f"cannot read meta-history {self.path}: {error}; {self._advice()}") from error

    def load(self) -> list[TaskRecord]:
        """Read every record; a later record of the same task replaces an earlier one.

        Raises:
            AtlasError: on a file that cannot be read as UTF-8 text, or on a line that is not a
                valid record (except a cut last line).
        """
        if not self.path.exists():
            return []
        records: dict[str, TaskRecord] = {}
        lines = self._read().splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = TaskRecord(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as error:
                if number == len(lines):
                    continue  # cut by a killed writer
                raise AtlasError(
                    f"invalid history record on line {number} of {self.path}: {error}; {self._advice()}"
                ) from error
            records[record.task] = record
        return list(records.values())

    def add(self, record: TaskRecord) -> bool:
        """Append one study to the history, unless the task's latest record is already equal.

        A rerun of a finished study therefore records nothing new. A last line cut by a killed
        writer is ended first, so the new record starts on a line of its own.

        Returns:
            True if the record was written.
        """
        if self.path.exists():
            latest = {r.task: r for r in self.load()}.get(record.task)
            if latest is not None and asdict(latest) == json.loads(json.dumps(asdict(record))):
                return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(record)) + "\n"
        with open(self.path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    logger.warning("the last line of meta-history %s was cut (a killed writer?); "
                                   "it is ended and skipped when reading", self.path)
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        return True

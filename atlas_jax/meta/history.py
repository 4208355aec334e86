"""History of past studies: each task's meta-features and the configs tried on it, as JSONL."""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from atlas_jax.errors import AtlasError
from atlas_jax.meta.features import FEATURE_NAMES

logger = logging.getLogger(__name__)

DEFAULT_HISTORY = Path("~/.cache/atlas_jax/meta_history.jsonl")

# Maximum number of sparse records that the load warning lists by name. It only counts the rest.
_MAX_SPARSE_LISTED = 5


@dataclass
class TaskRecord:
    """One past study."""

    task: str  # task name, such as a dataset name
    features: dict[str, float]  # meta-features from `compute_meta_features`
    trials: list[dict[str, Any]] = field(default_factory=list)  # [{"values": {...}, "metric": float}, ...]
    mode: str = "max"  # whether higher or lower `metric` is better
    space: str = ""  # name of the search space the configs come from (informational)

    def top(self, count: int) -> list[dict[str, Any]]:
        """Return the `count` best trials, best first, leaving out trials whose metric is null, NaN or infinite."""
        usable = [t for t in self.trials if t.get("metric") is not None and math.isfinite(t["metric"])]
        return sorted(usable, key=lambda t: t["metric"], reverse=self.mode == "max")[:count]


_FIELD_NAMES = tuple(f.name for f in fields(TaskRecord))


def _json_type(value: Any) -> str:
    """Name the JSON type of a parsed value with its article, such as "a string" or "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _found(value: Any) -> str:
    """Describe a parsed value for an error message: its JSON type and a short excerpt."""
    if value is None:
        return "found null"
    excerpt = json.dumps(value, default=str)
    if len(excerpt) > 40:
        excerpt = excerpt[:37] + "..."
    return f"found {_json_type(value)} ({excerpt})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shape_error(raw: Any) -> str | None:
    """Describe what keeps a parsed JSON line from being a `TaskRecord`, or return None if nothing does."""
    if not isinstance(raw, dict):
        return f"a record must be a JSON object with fields {', '.join(_FIELD_NAMES)}, {_found(raw)}"
    for name in raw:
        if name not in _FIELD_NAMES:
            return f"unknown field {name!r} (expected {', '.join(_FIELD_NAMES)})"
    for name in ("task", "features"):
        if name not in raw:
            return f"missing field {name!r}"

    if not isinstance(raw["task"], str):
        return f"'task' must be a string, {_found(raw['task'])}"
    features = raw["features"]
    if not isinstance(features, dict):
        return f"'features' must be a JSON object of meta-feature names to numbers or null, {_found(features)}"
    for name, value in features.items():
        if value is not None and not _is_number(value):
            return f"features[{name!r}] must be a number or null, {_found(value)}"

    trials = raw.get("trials", [])
    if not isinstance(trials, list):
        return f"'trials' must be an array of {{\"values\": ..., \"metric\": ...}} objects, {_found(trials)}"
    for index, trial in enumerate(trials):
        if not isinstance(trial, dict):
            return f"trials[{index}] must be an object with 'values' and 'metric', {_found(trial)}"
        for name in ("values", "metric"):
            if name not in trial:
                return f"trials[{index}] is missing {name!r}"
        if not isinstance(trial["values"], dict):
            return f"trials[{index}]['values'] must be an object of parameter values, {_found(trial['values'])}"
        if trial["metric"] is not None and not _is_number(trial["metric"]):
            return f"trials[{index}]['metric'] must be a number or null, {_found(trial['metric'])}"

    if "mode" in raw and raw["mode"] not in ("max", "min"):
        return f"'mode' must be 'max' or 'min', {_found(raw['mode'])}"
    if "space" in raw and not isinstance(raw["space"], str):
        return f"'space' must be a string, {_found(raw['space'])}"
    return None


def _record_from_json(raw: dict[str, Any]) -> TaskRecord:
    """Build a record from a checked JSON object. A null meta-feature becomes NaN, which
    `feature_vector` and `task_distances` treat as missing."""
    features = {name: math.nan if value is None else value for name, value in raw["features"].items()}
    return TaskRecord(**{**raw, "features": features})


def _canonical(record: TaskRecord) -> str:
    return json.dumps(asdict(record), sort_keys=True)


def _present_features(record: TaskRecord) -> int:
    """Count the FEATURE_NAMES that the record has as finite numbers."""
    return sum(1 for name in FEATURE_NAMES if math.isfinite(record.features.get(name, math.nan)))


class MetaHistory:
    """Append-only JSONL history of past studies, one `TaskRecord` per line.

    `add` writes each record with its newline last, so text after the last newline that is not
    JSON is a record cut short by a writer that was killed (or is still writing). `load` skips
    such a cut last line and `add` removes it before appending.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or DEFAULT_HISTORY).expanduser()

    def _advice(self) -> str:
        return (f"fix or delete {self.path}, point hpo.prior.history at another file, "
                "or set hpo.prior.enabled=false")

    def _line_advice(self, number: int) -> str:
        return (f"fix or delete line {number} of {self.path}, point hpo.prior.history at another file, "
                "or set hpo.prior.enabled=false")

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AtlasError(f"meta-history {self.path} is not UTF-8 text ({error}); {self._advice()}") from error

    def _read(self) -> str:
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise AtlasError(f"cannot read meta-history {self.path}: {error}; {self._advice()}") from error
        return self._decode(data)

    def load(self) -> list[TaskRecord]:
        """Read every record; a later record of the same task replaces an earlier one.

        Logs a warning for a skipped cut last line, and one for kept records that have fewer
        than half of FEATURE_NAMES.

        Raises:
            AtlasError: on a file that cannot be read as UTF-8 text, or on a line that is not a
                valid record (except a cut last line: bytes after the last newline that are not JSON).
        """
        if not self.path.exists():
            return []
        records, lines = self._parse(self._read(), warn_cut=True)
        self._warn_sparse(records, lines)
        return list(records.values())

    def _parse(self, text: str, warn_cut: bool) -> tuple[dict[str, TaskRecord], dict[str, int]]:
        """Parse the history text into the latest record of each task and the line number it came from."""
        records: dict[str, TaskRecord] = {}
        lines: dict[str, int] = {}
        # split("\n") keeps line numbers equal to the byte-level newlines that `add` works with,
        # and its last item is the text after the last newline ("" in a file that ends with one).
        parts = text.split("\n")
        for number, line in enumerate(parts, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                if number == len(parts):
                    if warn_cut:
                        logger.warning("skipping the cut last line of meta-history %s (%d characters after the last "
                                       "newline, from a writer that was killed or is still writing). The next "
                                       "record added to the file removes it.", self.path, len(line))
                    continue
                raise AtlasError(
                    f"invalid history record on line {number} of {self.path}: {error}; {self._line_advice(number)}"
                ) from error
            problem = _shape_error(raw)
            if problem is not None:
                raise AtlasError(
                    f"invalid history record on line {number} of {self.path}: {problem}; {self._line_advice(number)}"
                )
            record = _record_from_json(raw)
            records[record.task] = record
            lines[record.task] = number
        return records, lines

    def _warn_sparse(self, records: dict[str, TaskRecord], lines: dict[str, int]) -> None:
        """Log one warning for records with fewer than half of FEATURE_NAMES.

        `task_distances` compares only the meta-features that both tasks have, so a record with few
        of them can come out nearer to a new task than records with all of them.
        """
        total = len(FEATURE_NAMES)
        sparse = []
        for task, record in records.items():
            present = _present_features(record)
            if 2 * present < total:
                sparse.append(f"task {task!r} on line {lines[task]} ({present} of {total})")
        if not sparse:
            return
        listed = ", ".join(sparse[:_MAX_SPARSE_LISTED])
        if len(sparse) > _MAX_SPARSE_LISTED:
            listed += f" and {len(sparse) - _MAX_SPARSE_LISTED} more"
        logger.warning("meta-history %s has %d record(s) with fewer than half of the %d meta-features: %s. The "
                       "distance from a new task to such a record uses only the meta-features both tasks have, so it "
                       "can rank nearer than complete records. Re-run their studies to record all meta-features, or "
                       "delete their lines.", self.path, len(sparse), total, listed)

    def add(self, record: TaskRecord) -> bool:
        """Append one study to the history, unless the task's latest record is already equal.

        A rerun of a finished study therefore records nothing new. A cut last line (bytes after the
        last newline that are not JSON) is removed first, and a complete last line that lacks its
        newline gets one, so the new record starts on a line of its own. An exclusive `flock` on
        the file (POSIX only) keeps concurrent `add` calls from removing each other's lines.

        Returns:
            True if the record was written.

        Raises:
            ValueError: if the record would not load back (such as features that are not a dict).
            AtlasError: if the file cannot be read or written, or a line in it is not a valid record.
        """
        line = json.dumps(asdict(record)) + "\n"
        raw = json.loads(line)
        problem = _shape_error(raw)
        if problem is not None:
            raise ValueError(f"invalid record of task {record.task!r}: {problem}; it was not added to meta-history {self.path}")

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+b")
        except OSError as error:
            raise AtlasError(f"cannot write meta-history {self.path}: {error}; {self._advice()}") from error
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
                handle.seek(0)
                data = handle.read()
            except OSError as error:
                raise AtlasError(f"cannot lock and read meta-history {self.path}: {error}; {self._advice()}") from error
            latest = self._parse(self._decode(data), warn_cut=False)[0].get(record.task)
            # Compared as JSON text, because a NaN meta-feature is never equal to itself.
            if latest is not None and _canonical(latest) == _canonical(_record_from_json(raw)):
                return False

            keep = data.rfind(b"\n") + 1
            tail = data[keep:]
            if tail:
                try:
                    json.loads(tail)
                    line = "\n" + line  # a complete record whose newline is missing
                except json.JSONDecodeError:
                    logger.warning("removing a partial last line (%d bytes) from meta-history %s, left by a writer "
                                   "that was killed", len(tail), self.path)
                    handle.truncate(keep)
            try:
                handle.write(line.encode("utf-8"))  # "a" mode appends at the end, also after the truncate
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                raise AtlasError(f"cannot write meta-history {self.path}: {error}; {self._advice()}") from error
        return True

"""`atlas --help`: usage, config groups and every config key with its meaning and default.

The text of each key comes from the trailing comment on its dataclass field in
the schema modules, so the help cannot drift from the schemas.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Any

_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+)$")

# Width of the key column; longer keys push their default one space to the right.
KEY_WIDTH = 36

USAGE = """\
usage: atlas [-m] [group=option ...] [key=value ...]

Compose a config from the groups in conf/ and run its task into a run folder
(runs/<name>/<overrides>; rerunning the same command resumes it).

  atlas                                  the default experiment
  atlas experiment=NAME key=value        an experiment, with overrides
  atlas -m optim.learning_rate=1e-3,3e-3 multirun: one run folder per value
  atlas --cfg job                        print the composed config and exit
  atlas --hydra-help                     Hydra's own flags
"""


def _comments(cls: type) -> dict[str, str]:
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        for line in inspect.getsource(klass).splitlines():
            match = _FIELD_COMMENT.match(line)
            if match:
                comments[match.group(1)] = match.group(2).strip()
    return comments


def _default_value(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _describe(value: Any) -> str:
    return "required" if value is dataclasses.MISSING or value == "???" else repr(value)


def describe_schema(cls: type, prefix: str = "", defaults: Any = None) -> list[str]:
    """Describe each leaf key of dataclass `cls` in one line: dotted name, default and meaning.

    `defaults` is the instance whose values are shown, such as the one a parent's
    `default_factory` builds (it can differ from `cls`'s own defaults); None uses `cls`'s.
    """
    lines = []
    comments = _comments(cls)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints.get(field.name)
        value = getattr(defaults, field.name) if defaults is not None else _default_value(field)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            nested = value if dataclasses.is_dataclass(value) else None
            lines.extend(describe_schema(kind, f"{prefix}{field.name}.", nested))
            continue
        if kind is typing.Any:
            continue  # a group whose schema depends on the chosen option; listed separately
        name = f"{prefix}{field.name}"
        lines.append(f"  {name:<{KEY_WIDTH}} {_describe(value):<14} {comments.get(field.name, '')}".rstrip())
    return lines


def help_text(conf: Path) -> str:
    """Build the full `atlas --help` text for the configs in `conf`."""
    from atlas_jax.config import MODEL_SCHEMAS, Config

    parts = [USAGE, "Config groups (group=option):"]
    for folder in sorted(p for p in conf.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        parts.append(f"  {folder.name:<12} {', '.join(options)}")
    parts.append("\nConfig keys (key=value), with defaults before any experiment sets them:")
    parts.extend(describe_schema(Config))
    for name, schema in MODEL_SCHEMAS.items():
        parts.append(f"\nmodel={name} keys:")
        parts.extend(describe_schema(schema, "model."))
    return "\n".join(parts) + "\n"

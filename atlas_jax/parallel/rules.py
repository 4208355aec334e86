"""Logical axis rules: map the names that models use (`embed`, `mlp`, ...) to mesh axes."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from jax.sharding import Mesh, PartitionSpec

from atlas_jax.errors import ConfigError

# A logical name maps to no mesh axis (replicated), one axis, or several (split over their product).
Rules = Mapping[str, tuple[str, ...]]
LogicalAxes = Sequence[str | None]


def parse_rules(table: Sequence[Sequence[Any]], mesh_axes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Turn the config's `[[logical, mesh axes], ...]` table into a dict.

    Raises:
        ConfigError: a malformed row, a repeated logical name or an unknown mesh axis.
    """
    rules: dict[str, tuple[str, ...]] = {}
    for row in table:
        if len(row) != 2 or not isinstance(row[0], str):
            raise ConfigError(
                f"parallel.rules row {list(row)} is invalid; write [logical_name, mesh_axis | [axes] | null]"
            )
        name, target = row
        if name in rules:
            raise ConfigError(f"parallel.rules names '{name}' twice; keep one row per logical name")
        axes = () if target is None else (target,) if isinstance(target, str) else tuple(target)
        for axis in axes:
            if axis not in mesh_axes:
                raise ConfigError(
                    f"parallel.rules maps '{name}' to unknown mesh axis '{axis}'; mesh axes: {list(mesh_axes)}"
                )
        rules[name] = axes
    return rules


def logical_to_spec(
    names: LogicalAxes, rules: Rules, mesh: Mesh, shape: Sequence[int] | None = None
) -> PartitionSpec:
    """Map one array's logical axis names to a `PartitionSpec` on `mesh`.

    Mesh axes of size 1 are dropped. A mesh axis already used by an earlier dimension of
    the same array is skipped, because an axis can split only one dimension. With `shape`,
    trailing mesh axes are dropped from a dimension until its size divides evenly, so a
    small parameter (10 classes over 8 devices) stays replicated instead of failing.
    Names missing from `rules` are replicated.
    """
    used: set[str] = set()
    entries: list[Any] = []
    for dim, name in enumerate(names):
        axes = [a for a in rules.get(name, ()) if name is not None and mesh.shape[a] > 1 and a not in used]
        if shape is not None:
            while axes and shape[dim] % math.prod(mesh.shape[a] for a in axes):
                axes.pop()
        used.update(axes)
        entries.append(None if not axes else axes[0] if len(axes) == 1 else tuple(axes))
    while entries and entries[-1] is None:
        entries.pop()
    return PartitionSpec(*entries)


def mesh_axes_for(name: str, rules: Rules, mesh: Mesh) -> tuple[str, ...]:
    """Return the mesh axes of size > 1 that logical name `name` maps to."""
    return tuple(a for a in rules.get(name, ()) if mesh.shape[a] > 1)

"""Architecture decisions of a supernet and their encodings as static sizes and gates.

An architecture is a plain dict `{decision name: chosen value}`. Each decision has a kind that
says how its value becomes a leading slice:

* `width` / `heads`: the first `value` units or heads (prefix mask);
* `kernel`: the centred `value x value` window of a convolution kernel (odd sizes);
* `depth`: the number of blocks run, encoded as a one-hot over the block exits;
* `ratio`: a feed-forward hidden width of `int(value * embed)`, where `embed` is the value of
  the decision named in `relative_to` (AutoFormer's MLP ratio).

A decision may be conditional: `active_if=(depth_name, index)` means it only matters when the
depth decision is larger than `index`.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.nas.layers import center_mask, prefix_mask

KINDS = ("width", "heads", "kernel", "depth", "ratio")

Arch = dict[str, Any]
Dims = tuple[tuple[str, int], ...]  # hashable static sizes, sorted by decision name


@dataclasses.dataclass(frozen=True)
class Decision:
    """One architectural choice: a name, a kind and its ordered candidate values."""

    name: str
    kind: str
    values: tuple
    active_if: tuple[str, int] | None = None  # (depth decision, block index): active if depth > index
    relative_to: str | None = None  # ratio only: the embedding-width decision it multiplies

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"decision '{self.name}': unknown kind '{self.kind}'; valid: {KINDS}")
        if not self.values:
            raise ConfigError(f"decision '{self.name}' has no candidate values; give at least one")
        if self.kind == "kernel" and any(int(v) % 2 != 1 for v in self.values):
            raise ConfigError(f"decision '{self.name}': kernel sizes must be odd, got {self.values}")
        if self.kind == "ratio" and self.relative_to is None:
            raise ConfigError(f"decision '{self.name}': a ratio needs relative_to (an embed decision)")
        object.__setattr__(self, "values", tuple(sorted(self.values)))


class DecisionSet:
    """The ordered decisions of one supernet, with the encodings the supernet consumes."""

    def __init__(self, decisions: Sequence[Decision]):
        self.decisions = tuple(decisions)
        self.by_name = {d.name: d for d in self.decisions}
        if len(self.by_name) != len(self.decisions):
            raise ConfigError(f"duplicate decision names in {[d.name for d in self.decisions]}")

    def __iter__(self):
        return iter(self.decisions)

    def __len__(self) -> int:
        return len(self.decisions)

    # Sizes -----------------------------------------------------------------------------------

    def size(self, name: str, arch: Mapping[str, Any]) -> int:
        """Return the slice size that `arch` gives decision `name` (hidden units for a ratio)."""
        decision = self.by_name[name]
        if decision.kind == "ratio":
            return int(arch[name] * arch[decision.relative_to])
        return int(arch[name])

    def sizes(self, name: str) -> list[int]:
        """Return every slice size decision `name` can take, sorted."""
        decision = self.by_name[name]
        if decision.kind == "ratio":
            embeds = self.by_name[decision.relative_to].values
            return sorted({int(r * e) for r in decision.values for e in embeds})
        return sorted(int(v) for v in decision.values)

    def max_size(self, name: str) -> int:
        return self.sizes(name)[-1]

    def largest(self) -> Arch:
        return {d.name: d.values[-1] for d in self.decisions}

    def smallest(self) -> Arch:
        return {d.name: d.values[0] for d in self.decisions}

    def sample(self, rng: np.random.Generator) -> Arch:
        """Draw every decision uniformly from its values."""
        return {d.name: d.values[rng.integers(len(d.values))] for d in self.decisions}

    def is_active(self, name: str, arch: Mapping[str, Any]) -> bool:
        decision = self.by_name[name]
        if decision.active_if is None:
            return True
        depth_name, index = decision.active_if
        return int(arch[depth_name]) > index

    def canonical(self, arch: Mapping[str, Any]) -> Arch:
        """Set inactive decisions to their smallest value, so equal networks compare equal."""
        self.validate(arch)
        return {
            d.name: (arch[d.name] if self.is_active(d.name, arch) else d.values[0])
            for d in self.decisions
        }

    def validate(self, arch: Mapping[str, Any]) -> None:
        for decision in self.decisions:
            if decision.name not in arch:
                raise ConfigError(f"architecture lacks decision '{decision.name}': {dict(arch)}")
            if arch[decision.name] not in decision.values:
                raise ConfigError(
                    f"architecture value {decision.name}={arch[decision.name]!r} is not one of "
                    f"{decision.values}"
                )

    def count(self) -> int:
        """Return the number of distinct networks (inactive decisions collapsed)."""
        seen = set()
        for combo in itertools.product(*(d.values for d in self.decisions)):
            arch = dict(zip(self.by_name, combo))
            seen.add(tuple(sorted(self.canonical(arch).items())))
        return len(seen)

    # Encodings -------------------------------------------------------------------------------

    def bucket_bounds(self, num_buckets: int | None) -> dict[str, list[int]]:
        """Return, per decision, the sizes that static shapes are rounded up to.

        `None` keeps every size (exact slices, one program per architecture shape); 1 keeps
        only the maximum (masked mode, one program); `n` keeps n sizes spread over the sorted
        candidates, always including the maximum.
        """
        bounds = {}
        for decision in self.decisions:
            sizes = self.sizes(decision.name)
            if num_buckets is None or num_buckets >= len(sizes):
                bounds[decision.name] = sizes
            else:
                picks = np.linspace(len(sizes) - 1, 0, num_buckets).round().astype(int)
                bounds[decision.name] = sorted({sizes[i] for i in picks})
        return bounds

    def dims(self, arch: Mapping[str, Any], bounds: Mapping[str, list[int]]) -> Dims:
        """Return the static sizes for `arch`: each size rounded up to its bucket bound."""
        out = []
        for decision in self.decisions:
            size = self.size(decision.name, arch)
            out.append((decision.name, next(b for b in bounds[decision.name] if b >= size)))
        return tuple(sorted(out))

    def max_dims(self) -> Dims:
        return tuple(sorted((d.name, self.max_size(d.name)) for d in self.decisions))

    def gates(self, arch: Mapping[str, Any], dims: Dims) -> dict[str, jnp.ndarray]:
        """Return the 0/1 gates that cut the static sizes `dims` down to `arch`."""
        static = dict(dims)
        return {d.name: _mask(d.kind, static[d.name], self.size(d.name, arch)) for d in self.decisions}

    def stacked_gates(self, archs: Sequence[Mapping[str, Any]], dims: Dims) -> dict[str, np.ndarray]:
        """Return the gates of several architectures stacked on a new leading axis (numpy, host side).

        Equal to stacking `gates(arch, dims)` for each arch, built without a device round trip
        per mask so that many sampled paths can be sent to a compiled program at once.
        """
        static = dict(dims)
        out = {}
        for d in self.decisions:
            out[d.name] = np.stack([_mask_np(d.kind, static[d.name], self.size(d.name, a)) for a in archs])
        return out

    def soft_gates(self, probs: Mapping[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
        """Return expected gates at maximum sizes under independent choice probabilities.

        Args:
            probs: per decision, float32[len(values)] summing to 1 (DARTS's softmax(alpha)).
        """
        gates = {}
        for decision in self.decisions:
            size = self.max_size(decision.name)
            p = probs[decision.name]
            if decision.kind == "ratio":
                base = self.by_name[decision.relative_to]
                q = probs[base.name]
                gate = 0.0
                for i, ratio in enumerate(decision.values):
                    for j, embed in enumerate(base.values):
                        gate = gate + p[i] * q[j] * _mask("ratio", size, int(ratio * embed))
            else:
                masks = jnp.stack([_mask(decision.kind, size, int(v)) for v in decision.values])
                gate = jnp.tensordot(p, masks, axes=1)
            gates[decision.name] = gate
        return gates


@functools.lru_cache(maxsize=4096)
def _mask_np(kind: str, static: int, active: int) -> np.ndarray:
    """Numpy twin of `_mask` (cached; callers must not write to the result)."""
    if kind == "kernel":
        offset = (static - active) // 2
        line = ((np.arange(static) >= offset) & (np.arange(static) < offset + active)).astype(np.float32)
        mask = line[:, None] * line[None, :]
    elif kind == "depth":
        mask = np.zeros((static + 1,), np.float32)
        mask[active] = 1.0
    else:
        mask = (np.arange(static) < active).astype(np.float32)
    mask.setflags(write=False)
    return mask


def _mask(kind: str, static: int, active: int) -> jnp.ndarray:
    if kind == "kernel":
        return center_mask(static, active)
    if kind == "depth":
        return jnp.zeros((static + 1,), jnp.float32).at[active].set(1.0)
    return prefix_mask(static, active)

"""Compiled execution of sub-networks: masked mode or exact slices with a bounded compile cache.

`SubnetRunner` splits a supernet into its NNX graph definition and parameters and runs
functions of `(params, ..., dims, gates)` through XLA programs compiled ahead of time, keyed
by the static sizes `dims`. In masked mode every sub-network maps to the maximum sizes, so each
function compiles once. In exact-slice mode sizes are rounded up to shape buckets
(`num_buckets`, where None keeps every size), and an LRU cache keeps at most `cache_size` programs.
Compile time is measured apart from run time.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.nas.decisions import Arch, Dims
from atlas_jax.nas.supernets import Supernet

logger = logging.getLogger(__name__)

MODES = ("masked", "slice")


@dataclasses.dataclass
class CompileStats:
    """Counters of the compile cache; seconds are wall time of lowering plus compiling."""

    compiles: int = 0
    seconds: float = 0.0
    hits: int = 0
    evictions: int = 0
    peak_program_bytes: int = 0  # largest device memory one compiled program needs (XLA's estimate)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


class SubnetRunner:
    """Run compiled functions of one supernet's parameters for any sub-network."""

    def __init__(
        self,
        net: Supernet,
        mode: str = "masked",
        num_buckets: int | None = None,
        cache_size: int = 32,
    ):
        if mode not in MODES:
            raise ConfigError(f"unknown execution mode '{mode}'; valid: {', '.join(MODES)}")
        if cache_size < 1:
            raise ConfigError(f"compile cache size must be at least 1, got {cache_size}")
        self.net, self.mode, self.cache_size = net, mode, cache_size
        self.decisions = net.decisions
        self.graphdef, self.params = nnx.split(net, nnx.Param)
        self.bounds = self.decisions.bucket_bounds(1 if mode == "masked" else num_buckets)
        self.stats = CompileStats()
        self._cache: collections.OrderedDict[tuple, Callable] = collections.OrderedDict()

    # Encoding ----------------------------------------------------------------------------------

    def encode(self, arch: Mapping[str, Any]) -> tuple[Dims, dict[str, jax.Array] | None]:
        """Return the static sizes and gates that run `arch` in this runner's mode.

        Gates are None when the sizes already equal the sub-network's (exact buckets).
        """
        arch = self.decisions.canonical(arch)
        dims = self.decisions.dims(arch, self.bounds)
        exact = self.decisions.dims(arch, self.decisions.bucket_bounds(None))
        if self.mode == "slice" and dims == exact:
            return dims, None
        return dims, self.decisions.gates(arch, dims)

    def apply(self, params: Any, x: jax.Array, dims: Dims, gates: Mapping[str, jax.Array] | None):
        """Return the supernet's logits for x under static sizes `dims` (traceable)."""
        return nnx.merge(self.graphdef, params)(x, dims, gates)

    # Compile cache -----------------------------------------------------------------------------

    def compiled(self, name: str, fn: Callable, dims: Dims, *args: Any) -> Callable:
        """Return `fn(*args, dims=dims)` compiled for these argument shapes, from the cache if present."""
        shapes = tuple(
            (getattr(a, "shape", None), str(getattr(a, "dtype", type(a)))) for a in jax.tree.leaves(args)
        )
        key = (name, dims, jax.tree.structure(args), shapes)
        if key in self._cache:
            self._cache.move_to_end(key)
            self.stats.hits += 1
            return self._cache[key]
        start = time.perf_counter()
        program = jax.jit(lambda *a: fn(*a, dims=dims)).lower(*args).compile()
        self.stats.seconds += time.perf_counter() - start
        self.stats.compiles += 1
        self.stats.peak_program_bytes = max(self.stats.peak_program_bytes, program_bytes(program))
        self._cache[key] = program
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
            self.stats.evictions += 1
        return program

    def call(self, name: str, fn: Callable, arch: Mapping[str, Any], *args: Any) -> Any:
        """Run `fn(*args, gates, dims=dims)` for `arch`; gates are appended as the last argument."""
        dims, gates = self.encode(arch)
        full = args + (gates,)
        return self.compiled(name, fn, dims, *full)(*full)

    # Common functions --------------------------------------------------------------------------

    def logits(self, params: Any, x: jax.Array, arch: Mapping[str, Any]) -> jax.Array:
        """Return logits float32[batch, classes] of sub-network `arch` for inputs x."""
        return self.call("logits", self._logits, arch, params, x)

    def _logits(self, params, x, gates, *, dims):
        return self.apply(params, x, dims, gates)

    def accuracy(
        self, params: Any, x: np.ndarray, y: np.ndarray, arch: Mapping[str, Any], batch_size: int = 512
    ) -> float:
        """Return the accuracy of sub-network `arch` on (x, y), with fixed-size padded batches."""
        correct, n = 0, len(y)
        for start in range(0, n, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            valid = len(yb)
            if valid < batch_size and n > batch_size:
                xb = np.concatenate([xb, np.repeat(xb[:1], batch_size - valid, axis=0)])
                yb = np.concatenate([yb, np.full(batch_size - valid, -1, yb.dtype)])
            correct += int(self.call("correct", self._correct, arch, params, jnp.asarray(xb), jnp.asarray(yb)))
        return correct / n

    def accuracy_many(
        self, params: Any, x: np.ndarray, y: np.ndarray, archs: list[Mapping[str, Any]],
        group: int = 4, batch_size: int = 512,
    ) -> list[float]:
        """Return the accuracy of every sub-network in `archs` on (x, y).

        The validation batches are built once for all candidates. In masked mode `group` > 1
        runs that many architectures per call, one after another inside the program
        (`lax.map`; a short last group is padded with repeats). On CPU, 64 candidates on 256
        images took 0.46-0.48 s with groups of 4, 0.50 s with groups of 16 and 0.53 s one per
        call. Vmapping them instead was slower, because it turns the convolutions into grouped
        ones. Slice mode scores them one by one.
        """
        if self.mode != "masked":
            return [self.accuracy(params, x, y, arch, batch_size) for arch in archs]
        dims = self.decisions.max_dims()
        canonical = [self.decisions.canonical(a) for a in archs]
        correct = np.zeros(len(archs), np.int64)
        n = len(y)
        # Equal batches of at most batch_size; the last is padded with label -1 (never correct).
        size = -(-n // -(-n // batch_size))
        batches = []
        for start in range(0, n, size):
            xb, yb = x[start : start + size], y[start : start + size]
            if len(yb) < size:
                pad = size - len(yb)
                xb = np.concatenate([xb, np.repeat(xb[:1], pad, axis=0)])
                yb = np.concatenate([yb, np.full(pad, -1, yb.dtype)])
            batches.append((jnp.asarray(xb), jnp.asarray(yb)))
        for first in range(0, len(archs), group):
            members = canonical[first : first + group]
            members = members + [members[-1]] * (group - len(members))
            gates = self.decisions.stacked_gates(members, dims)
            for xb, yb in batches:
                args = (params, xb, yb, gates)
                counts = self.compiled("correct_many", self._correct_many, dims, *args)(*args)
                take = min(group, len(archs) - first)
                correct[first : first + take] += np.asarray(counts)[:take]
        return [float(c) / n for c in correct]

    def _correct_many(self, params, x, y, gates, *, dims):
        return jax.lax.map(lambda g: self._correct(params, x, y, g, dims=dims), gates)

    def _correct(self, params, x, y, gates, *, dims):
        return (self.apply(params, x, dims, gates).argmax(-1) == y).sum()

    def latency(self, arch: Mapping[str, Any], x: jax.Array, repeats: int = 10) -> float:
        """Return the median forward time in seconds of `arch` on batch x, compile excluded."""
        out = self.logits(self.params, x, arch)
        out.block_until_ready()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.logits(self.params, x, arch).block_until_ready()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    def cache_len(self) -> int:
        return len(self._cache)


def program_bytes(program: Any) -> int:
    """Return the memory a compiled program needs: arguments, outputs and temporaries, less aliased
    buffers, from XLA's memory analysis (0 where the backend gives none)."""
    analysis = program.memory_analysis()
    if analysis is None:
        return 0
    return int(
        analysis.argument_size_in_bytes + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes
    )


def arch_key(arch: Mapping[str, Any]) -> tuple:
    """Return a hashable key of an architecture."""
    return tuple(sorted(arch.items()))


def describe(arch: Arch) -> str:
    return ",".join(f"{k}={v}" for k, v in arch.items())

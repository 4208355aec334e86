"""Build graph stores from edge arrays, edge-list files or the R-MAT generator."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from atlas_jax import _core
from atlas_jax.errors import ConfigError
from atlas_jax.graph.store import GraphStore

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int, int, int, float], None]

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TEXT_SUFFIXES = {".txt", ".tsv", ".csv", ".el", ".edges", ".edgelist", ".snap"}


def parse_memory(value: str | int) -> int:
    """Parse a memory size such as ``2GB``, ``512MiB`` or ``1.5G`` into bytes.

    K, M, G and T are binary units (1024-based) with or without a trailing
    ``B`` or ``iB``; a bare number is bytes.
    """
    if isinstance(value, (int, np.integer)):
        if value <= 0:
            raise ConfigError(f"memory budget must be positive, got {value}")
        return int(value)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(value), flags=re.IGNORECASE)
    if match is None:
        raise ConfigError(f"invalid memory size {value!r}; write a number with an optional unit, such as 2GB or 512MB")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ConfigError(f"memory budget must be positive, got {value!r}")
    return size


def infer_input_format(path: str | os.PathLike[str]) -> str:
    """Guess the input format from the file suffix: ``npy``, ``text``, ``bin32`` or ``bin64``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in _TEXT_SUFFIXES:
        return "text"
    if suffix in (".bin32", ".i32"):
        return "bin32"
    if suffix in (".bin64", ".i64"):
        return "bin64"
    raise ConfigError(
        f"cannot infer the format of {os.fspath(path)!r} from its suffix; pass input_format='text', 'npy', "
        "'bin32' (int32 pairs) or 'bin64' (int64 pairs)"
    )


class _ProgressBars:
    """tqdm bars, one per pass, with edges/s and ETA."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._key: tuple[str, int] | None = None

    def __call__(self, phase: str, pass_index: int, num_passes: int, done: int, total: int, seconds: float) -> None:
        from tqdm.auto import tqdm

        if phase == "finish":
            self.close()
            return
        key = (phase, pass_index)
        if key != self._key:
            self.close()
            self._bar = tqdm(
                total=total if total >= 0 else None,
                desc=f"{phase} pass {pass_index}/{num_passes}",
                unit="edge",
                unit_scale=True,
                leave=False,
            )
            self._key = key
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._key = None


def _progress_fn(progress: bool | ProgressFn) -> tuple[ProgressFn | None, _ProgressBars | None]:
    if callable(progress):
        return progress, None
    if progress:
        bars = _ProgressBars()
        return bars, bars
    return None, None


def _as_ids(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ConfigError(f"{name} must be a 1-D array of node ids, got shape {array.shape}")
    if array.dtype in (np.int32, np.int64):
        return np.ascontiguousarray(array)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"{name} must hold integer node ids, got dtype {array.dtype}")
    if array.dtype == np.uint64 and int(array.max()) > np.iinfo(np.int64).max:
        raise ConfigError(f"{name} contains ids above 2^63 - 1, which int64 node ids cannot represent; renumber them")
    return np.ascontiguousarray(array, dtype=np.int64)


def _log_stats(stats: dict[str, Any], out_path: str) -> None:
    for warning in stats["warnings"]:
        logger.warning("%s: %s", out_path, warning)
    rate = stats["input_edges"] / max(stats["seconds"], 1e-9)
    logger.info(
        "built %s: %d nodes, %d edges from %d input edges in %.1f s (%.3g input edges/s, %d passes)",
        out_path, stats["num_nodes"], stats["num_edges"], stats["input_edges"], stats["seconds"], rate,
        stats["num_passes"],
    )


def build_graph(
    out_path: str | os.PathLike[str],
    *,
    src: np.ndarray | None = None,
    dst: np.ndarray | None = None,
    input_path: str | os.PathLike[str] | None = None,
    input_format: str | None = None,
    num_nodes: int | None = None,
    symmetrize: bool = False,
    drop_self_loops: bool = False,
    dedup: bool = False,
    sort: bool = True,
    weights: np.ndarray | bool | None = None,
    edge_types: np.ndarray | bool | None = None,
    remap: str = "auto",
    memory: str | int = "2GB",
    temp_dir: str | os.PathLike[str] | None = None,
    progress: bool | ProgressFn = True,
) -> GraphStore:
    """Build a CSR graph store out of core and open it.

    Give either ``src`` and ``dst`` arrays or an ``input_path``. Edge (u, v) is
    stored as neighbour v of node u. The store is written to a temporary file
    next to ``out_path`` and renamed when complete, so an interrupted build
    leaves nothing at ``out_path``.

    Args:
        out_path: destination file.
        src: int[m] source ids (int32 or int64 are used without a copy).
        dst: int[m] destination ids.
        input_path: an edge-list file instead of arrays.
        input_format: ``text`` (SNAP-style: ``src dst [weight] [type]`` per line,
            spaces, tabs or a comma between fields, ``#`` or ``%`` comments),
            ``npy`` (int32/int64, shape (m, 2) or (2, m)), ``bin32`` or
            ``bin64`` (raw (src, dst) pairs); inferred from the suffix when None.
        num_nodes: node count; ids must be below it. None: 1 + the largest id.
        symmetrize: store every edge in both directions.
        drop_self_loops: drop edges (v, v).
        dedup: keep only the first of repeated (neighbour, type) pairs of a node.
        sort: sort neighbours by id (then type) within each node; dedup sorts anyway.
        weights: float32[m] edge weights with arrays; True to read the third
            text column as the weight.
        edge_types: int[m] edge types in 0..65535 with arrays; True to read the
            last text column as the type.
        remap: ``auto`` renumbers ids densely when the largest id is over four
            times the edge count (most ids unused), ``always`` or ``never``.
            A remapped store keeps the input ids in its ``id_map``.
        memory: budget for the builder's degree table (4 bytes per node) and
            node buckets, such as ``"2GB"``; more memory means fewer passes.
        temp_dir: directory for temporary files; default next to ``out_path``.
        progress: True for progress bars, False for none, or a callable
            ``(phase, pass, num_passes, edges_done, edges_total, seconds)``.

    Returns:
        The opened store.

    Raises:
        ConfigError: inconsistent arguments.
        GraphInputError: unparsable input or ids outside the allowed range.
    """
    out = os.fspath(out_path)
    memory_bytes = parse_memory(memory)
    callback, bars = _progress_fn(progress)
    common: dict[str, Any] = dict(
        num_nodes=-1 if num_nodes is None else int(num_nodes),
        symmetrize=symmetrize,
        drop_self_loops=drop_self_loops,
        dedup=dedup,
        sort=sort,
        remap=remap,
        memory_bytes=memory_bytes,
        temp_dir="" if temp_dir is None else os.fspath(temp_dir),
        progress=callback,
    )
    if num_nodes is not None and num_nodes < 0:
        raise ConfigError(f"num_nodes must be >= 0, got {num_nodes}")
    try:
        if input_path is not None:
            if src is not None or dst is not None:
                raise ConfigError("pass either src/dst arrays or input_path, not both")
            if (weights is not None and not isinstance(weights, bool)) or (
                edge_types is not None and not isinstance(edge_types, bool)
            ):
                raise ConfigError("with input_path, weights and edge_types are True/False column switches")
            fmt = input_format or infer_input_format(input_path)
            stats = _core.build_from_file(
                out, os.fspath(input_path), fmt, bool(weights), bool(edge_types), **common
            )
        else:
            if src is None or dst is None:
                raise ConfigError("build_graph needs src and dst arrays, or an input_path")
            src_ids = _as_ids("src", src)
            dst_ids = _as_ids("dst", dst)
            if src_ids.shape != dst_ids.shape:
                raise ConfigError(f"src and dst differ in length: {src_ids.size} vs {dst_ids.size}")
            if src_ids.dtype != dst_ids.dtype:
                src_ids, dst_ids = src_ids.astype(np.int64), dst_ids.astype(np.int64)
            weight_array = None
            if weights is not None:
                if isinstance(weights, bool):
                    raise ConfigError("with src/dst arrays, weights must be a float array (one per edge)")
                weight_array = np.ascontiguousarray(weights, dtype=np.float32)
                if weight_array.shape != src_ids.shape:
                    raise ConfigError(f"weights has shape {weight_array.shape}, expected ({src_ids.size},)")
            type_array = None
            if edge_types is not None:
                if isinstance(edge_types, bool):
                    raise ConfigError("with src/dst arrays, edge_types must be an integer array (one per edge)")
                type_array = np.ascontiguousarray(edge_types, dtype=np.int64)
                if type_array.shape != src_ids.shape:
                    raise ConfigError(f"edge_types has shape {type_array.shape}, expected ({src_ids.size},)")
            stats = _core.build_from_arrays(out, src_ids, dst_ids, weight_array, type_array, **common)
    finally:
        if bars is not None:
            bars.close()
    _log_stats(stats, out)
    return GraphStore.open(out)


def generate_rmat(
    out_path: str | os.PathLike[str],
    scale: int,
    edge_factor: int = 16,
    seed: int = 0,
    *,
    a: float = 0.57,
    b: float = 0.19,
    c: float = 0.19,
    permute: bool = True,
    symmetrize: bool = False,
    drop_self_loops: bool = False,
    dedup: bool = False,
    sort: bool = True,
    memory: str | int = "2GB",
    num_threads: int | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    progress: bool | ProgressFn = True,
) -> GraphStore:
    """Build a Graph500 R-MAT store (2^scale nodes, edge_factor * 2^scale edges) and open it.

    Edges are regenerated from a counter-based RNG on every builder pass, so
    nothing but the output is written to disk. The defaults A=0.57, B=C=0.19
    (D = 1 - A - B - C = 0.05) are the Graph500 ones; ``permute`` relabels
    nodes by a seeded bijection so that high degree does not cluster at low ids.
    """
    callback, bars = _progress_fn(progress)
    try:
        stats = _core.build_rmat(
            os.fspath(out_path), int(scale), int(edge_factor), int(seed), float(a), float(b), float(c),
            bool(permute), int(num_threads or os.cpu_count() or 1), symmetrize, drop_self_loops, dedup, sort,
            parse_memory(memory), "" if temp_dir is None else os.fspath(temp_dir), callback,
        )
    finally:
        if bars is not None:
            bars.close()
    _log_stats(stats, os.fspath(out_path))
    return GraphStore.open(out_path)


def rmat_edges(scale: int, edge_factor: int, seed: int, first: int = 0, count: int | None = None,
               *, permute: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """R-MAT edges ``[first, first + count)`` as ``(src, dst)`` int64 arrays, identical to what generate_rmat streams."""
    total = edge_factor << scale
    if count is None:
        count = total - first
    return _core.rmat_edges(scale, edge_factor, seed, first, count, permute)

"""Type stubs for the compiled ``atlas_jax._core`` extension."""

from collections.abc import Buffer

def build_info() -> dict[str, str | int]:
    """Describe how the extension was compiled (version, build type, compiler, byte order)."""

def crc32(data: Buffer, value: int = 0) -> int:
    """CRC-32 of ``data``, identical to ``zlib.crc32(data, value)``; releases the GIL."""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

ProgressCallback = Callable[[str, int, int, int, int, float], None]

class GraphStore:
    """A read-only, memory-mapped CSR graph store. Views keep the mapping alive."""

    def __init__(self, path: str, verify: bool = False) -> None:
        """Map ``path`` and validate its header (raises GraphFormatError); ``verify`` reads every section."""
    @property
    def path(self) -> str: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_edges(self) -> int: ...
    @property
    def has_weights(self) -> bool: ...
    @property
    def has_edge_types(self) -> bool: ...
    @property
    def has_id_map(self) -> bool: ...
    def header(self) -> dict[str, object]: ...
    def indptr(self) -> NDArray[np.int64]: ...
    def indices(self) -> NDArray[np.int32] | NDArray[np.int64]: ...
    def weights(self) -> NDArray[np.float32] | None: ...
    def edge_types(self) -> NDArray[np.uint8] | NDArray[np.uint16] | None: ...
    def id_map(self) -> NDArray[np.int64] | None: ...
    def neighbors(self, v: int) -> NDArray[np.int32] | NDArray[np.int64]:
        """Zero-copy view of the neighbours of ``v``; IndexError names an invalid id."""
    def edge_weights(self, v: int) -> NDArray[np.float32] | None: ...
    def node_edge_types(self, v: int) -> NDArray[np.uint8] | NDArray[np.uint16] | None: ...
    def degree(self, v: int) -> int: ...
    def degrees(self, ids: NDArray[np.int64]) -> NDArray[np.int64]: ...
    def degree_summary(self) -> dict[str, int]:
        """Maximum degree and isolated-node count from one sequential read of indptr."""
    def neighbors_batch(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...
    def store_ids(self, input_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Store id of each input id through the id map, -1 where absent."""
    def verify(self) -> None:
        """Checksum and check every section; releases the GIL."""
    def advise(self, section: str, advice: str) -> None:
        """madvise one section (or "all"): normal, random, sequential, willneed, dontneed."""

def build_from_arrays(
    out_path: str, src: NDArray[np.int32] | NDArray[np.int64], dst: NDArray[np.int32] | NDArray[np.int64],
    weights: NDArray[np.float32] | None, edge_types: NDArray[np.int64] | None, num_nodes: int, symmetrize: bool,
    drop_self_loops: bool, dedup: bool, sort: bool, remap: str, memory_bytes: int, temp_dir: str,
    progress: ProgressCallback | None,
) -> dict[str, object]:
    """Build a store from edge arrays (GIL released); returns build statistics."""

def build_from_file(
    out_path: str, input_path: str, input_format: str, with_weights: bool, with_types: bool, num_nodes: int,
    symmetrize: bool, drop_self_loops: bool, dedup: bool, sort: bool, remap: str, memory_bytes: int, temp_dir: str,
    progress: ProgressCallback | None,
) -> dict[str, object]:
    """Build a store from a text, .npy, bin32 or bin64 edge list; returns build statistics."""

def build_rmat(
    out_path: str, scale: int, edge_factor: int, seed: int, a: float, b: float, c: float, permute: bool,
    num_threads: int, symmetrize: bool, drop_self_loops: bool, dedup: bool, sort: bool, memory_bytes: int,
    temp_dir: str, progress: ProgressCallback | None,
) -> dict[str, object]:
    """Build a store from the streamed R-MAT generator; returns build statistics."""

def rmat_edges(
    scale: int, edge_factor: int, seed: int, first: int, count: int, permute: bool = True
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """R-MAT edges [first, first + count) as (src, dst)."""

def sample_neighbors(
    store: GraphStore, seeds: NDArray[np.int64], fanouts: Sequence[int], seed: int, weighted: bool, num_threads: int
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]:
    """(nodes, senders, receivers, node_hop_offsets, edge_hop_offsets); releases the GIL."""

def random_walks(
    store: GraphStore, starts: NDArray[np.int64], length: int, seed: int, num_threads: int
) -> NDArray[np.int64]:
    """int64[len(starts), length + 1] uniform random walks."""

def time_lookups(
    store: GraphStore, ids: NDArray[np.int64], repeats: int = 3, back_to_back: bool = True
) -> NDArray[np.float64]:
    """Per-id neighbour-lookup latency in nanoseconds, timed inside C++.

    back_to_back: time each id ``repeats`` times in a row (median, CPU caches warm);
    otherwise visit all ids in order per round (mean, pages resident, caches cold).
    """

def parse_edge_line(
    line: str, with_weights: bool = False, with_types: bool = False
) -> tuple[int, int, float, int] | None:
    """Parse one text edge-list line; None for blank and comment lines; GraphInputError when malformed."""

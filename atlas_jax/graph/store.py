"""Read-only access to a memory-mapped CSR graph store."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from atlas_jax import _core


class GraphStore:
    """A CSR graph mapped from disk; arrays returned are zero-copy, read-only views.

    Views keep the mapping alive, so they stay valid after the store object is
    dropped. Node ids are the store's dense ids ``0..num_nodes-1``; when the
    input ids were sparse, ``id_map`` translates them back (see ``input_ids``).
    """

    def __init__(self, core: _core.GraphStore) -> None:
        self._core = core
        self._indptr = core.indptr()
        self._indices = core.indices()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = False) -> GraphStore:
        """Map a store file and validate its header and section table.

        Args:
            path: the store file.
            verify: also read every section once, checking CRC-32 checksums,
                zero padding, a non-decreasing indptr and neighbour ids in range.
                This costs one sequential read of the file.

        Raises:
            GraphFormatError: the file is truncated, corrupt or not a store.
            OSError: the file cannot be opened.
        """
        return cls(_core.GraphStore(os.fspath(path), verify))

    # ---------------------------------------------------------------- sizes and flags

    @property
    def path(self) -> str:
        return self._core.path

    @property
    def num_nodes(self) -> int:
        return self._core.num_nodes

    @property
    def num_edges(self) -> int:
        return self._core.num_edges

    @property
    def has_weights(self) -> bool:
        return self._core.has_weights

    @property
    def has_edge_types(self) -> bool:
        return self._core.has_edge_types

    @property
    def has_id_map(self) -> bool:
        return self._core.has_id_map

    # ---------------------------------------------------------------- whole sections

    @property
    def indptr(self) -> np.ndarray:
        """int64[num_nodes + 1]: the edges of node v are indices[indptr[v]:indptr[v + 1]]."""
        return self._indptr

    @property
    def indices(self) -> np.ndarray:
        """int32[num_edges] while num_nodes <= 2^31, else int64: neighbour ids."""
        return self._indices

    @property
    def weights(self) -> np.ndarray | None:
        """float32[num_edges] edge weights, or None when the store has none."""
        return self._core.weights()

    @property
    def edge_types(self) -> np.ndarray | None:
        """uint8 or uint16[num_edges] edge types, or None when the store has none."""
        return self._core.edge_types()

    @property
    def id_map(self) -> np.ndarray | None:
        """int64[num_nodes]: the input id of each store id, increasing; None when ids were kept."""
        return self._core.id_map()

    # ---------------------------------------------------------------- per node

    def neighbors(self, v: int) -> np.ndarray:
        """Neighbour ids of node ``v`` as a zero-copy view; raises IndexError for an invalid id."""
        return self._core.neighbors(v)

    def degree(self, v: int) -> int:
        """Number of stored edges of node ``v``; raises IndexError for an invalid id."""
        return self._core.degree(v)

    def edge_weights(self, v: int) -> np.ndarray | None:
        """float32 weights aligned with ``neighbors(v)``, or None when the store has no weights."""
        return self._core.edge_weights(v)

    def node_edge_types(self, v: int) -> np.ndarray | None:
        """Edge types aligned with ``neighbors(v)``, or None when the store has no types."""
        return self._core.node_edge_types(v)

    # ---------------------------------------------------------------- batched

    def degrees(self, ids: np.ndarray) -> np.ndarray:
        """int64 degrees of ``ids: int64[k]``."""
        return self._core.degrees(np.asarray(ids, dtype=np.int64))

    def neighbors_batch(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of many nodes at once.

        Args:
            ids: int64[k] node ids.

        Returns:
            ``(offsets: int64[k + 1], neighbors: int64[offsets[-1]])``; the
            neighbours of ``ids[i]`` are ``neighbors[offsets[i]:offsets[i + 1]]``.
        """
        return self._core.neighbors_batch(np.asarray(ids, dtype=np.int64))

    def store_ids(self, input_ids: np.ndarray) -> np.ndarray:
        """Store ids (int64) of input ids, -1 where an input id is not in the graph."""
        return self._core.store_ids(np.asarray(input_ids, dtype=np.int64))

    def input_ids(self, ids: np.ndarray) -> np.ndarray:
        """Input ids (int64) of store ids: ``id_map[ids]``, or ``ids`` when no remap was needed."""
        ids = np.asarray(ids, dtype=np.int64)
        id_map = self.id_map
        return ids.copy() if id_map is None else id_map[ids]

    # ---------------------------------------------------------------- maintenance

    def info(self) -> dict[str, Any]:
        """Header fields, flags, the section table and degree statistics."""
        info = self._core.header()
        info.update(self._core.degree_summary())
        info["mean_degree"] = self.num_edges / self.num_nodes if self.num_nodes else 0.0
        return info

    def verify(self) -> None:
        """Read every section and raise GraphFormatError on the first damage found."""
        self._core.verify()

    def advise(self, section: str, advice: str) -> None:
        """Pass an madvise hint (normal, random, sequential, willneed, dontneed) for one section or "all"."""
        self._core.advise(section, advice)

    def __repr__(self) -> str:
        return f"GraphStore({self.path!r}, num_nodes={self.num_nodes}, num_edges={self.num_edges})"

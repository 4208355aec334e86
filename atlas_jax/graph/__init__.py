"""Graph store: memory-mapped CSR graphs built out of core, with fast neighbour sampling.

The heavy lifting is in the C++ extension ``atlas_jax._core`` (sources in csrc/);
this package is its Python face.
"""

from __future__ import annotations

import os
from typing import Any

from atlas_jax.graph.build import build_graph, generate_rmat, parse_memory, rmat_edges
from atlas_jax.graph.errors import GraphFormatError, GraphInputError
from atlas_jax.graph.sampling import SampledSubgraph, random_walk, sample
from atlas_jax.graph.store import GraphStore


def info(store: GraphStore | str | os.PathLike[str]) -> dict[str, Any]:
    """Header fields, flags, sections and degree statistics of a store or store path."""
    if not isinstance(store, GraphStore):
        store = GraphStore.open(store)
    return store.info()


__all__ = [
    "GraphFormatError",
    "GraphInputError",
    "GraphStore",
    "SampledSubgraph",
    "build_graph",
    "generate_rmat",
    "info",
    "parse_memory",
    "random_walk",
    "rmat_edges",
    "sample",
]

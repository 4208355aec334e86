"""Shared helpers for the graph-store tests: random edge lists and a scipy reference."""

import numpy as np
import scipy.sparse as sp


def reference_neighbors(src, dst, num_nodes, *, symmetrize=False, drop_self_loops=False, dedup=False):
    """Sorted neighbour lists from scipy.sparse, the independent reference for the builder."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if drop_self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
    if symmetrize:
        loops = src == dst
        src, dst = np.concatenate([src, dst[~loops]]), np.concatenate([dst, src[~loops]])
    # Entries count the multiplicity of each (row, col) pair; COO -> CSR sums duplicates.
    matrix = sp.coo_matrix((np.ones(src.size, dtype=np.int64), (src, dst)), shape=(num_nodes, num_nodes)).tocsr()
    matrix.sort_indices()
    out = []
    for v in range(num_nodes):
        cols = matrix.indices[matrix.indptr[v]:matrix.indptr[v + 1]]
        counts = matrix.data[matrix.indptr[v]:matrix.indptr[v + 1]]
        out.append(cols.copy() if dedup else np.repeat(cols, counts))
    return out


def random_edges(rng, num_nodes, num_edges, *, self_loop_fraction=0.05, duplicate_fraction=0.1):
    """Random directed edges with some self-loops and repeated pairs; ids above num_nodes // 2 stay mostly unused."""
    src = rng.integers(0, num_nodes // 2, size=num_edges)
    dst = rng.integers(0, num_nodes, size=num_edges)
    loops = rng.random(num_edges) < self_loop_fraction
    dst[loops] = src[loops]
    dup = rng.random(num_edges) < duplicate_fraction
    idx = rng.integers(0, num_edges, size=int(dup.sum()))
    src[dup], dst[dup] = src[idx], dst[idx]
    return src, dst



"""Independent numpy references for the GNN tests: a neighbour sampler and dense GNN layers.

The sampler follows the contract of `atlas_jax.graph.sample` (seeds first, then nodes
in the order they are first reached, hop by hop; edges from the sampled neighbour to
the node that sampled it; without replacement; all neighbours when the degree is at
most the fanout), so padding and models can be tested without the C++ sampler.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp


def random_graph(num_nodes: int, num_edges: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric CSR (indptr, indices) of a random graph without self-loops or duplicates."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, num_nodes, num_edges)
    dst = rng.integers(0, num_nodes, num_edges)
    keep = src != dst
    adjacency = sp.coo_matrix((np.ones(keep.sum()), (src[keep], dst[keep])), shape=(num_nodes, num_nodes))
    adjacency = ((adjacency + adjacency.T) > 0).tocsr()
    adjacency.sort_indices()
    return adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)


def sample(indptr, indices, seeds, fanouts, seed: int) -> SimpleNamespace:
    """Multi-hop uniform sampling without replacement, in plain Python and numpy."""
    rng = np.random.default_rng(seed)
    nodes = [int(s) for s in seeds]
    local = {node: i for i, node in enumerate(nodes)}
    node_hops, edge_hops = [0, len(nodes)], [0]
    senders, receivers = [], []
    frontier = list(range(len(nodes)))
    for fanout in fanouts:
        next_frontier = []
        for receiver in frontier:
            node = nodes[receiver]
            neighbours = indices[indptr[node] : indptr[node + 1]]
            if len(neighbours) > fanout:
                neighbours = rng.choice(neighbours, fanout, replace=False)
            for neighbour in neighbours:
                neighbour = int(neighbour)
                if neighbour not in local:
                    local[neighbour] = len(nodes)
                    nodes.append(neighbour)
                    next_frontier.append(local[neighbour])
                senders.append(local[neighbour])
                receivers.append(receiver)
        frontier = next_frontier
        node_hops.append(len(nodes))
        edge_hops.append(len(senders))
    return SimpleNamespace(
        nodes=np.asarray(nodes, dtype=np.int64),
        senders=np.asarray(senders, dtype=np.int32),
        receivers=np.asarray(receivers, dtype=np.int32),
        node_hop_offsets=np.asarray(node_hops, dtype=np.int64),
        edge_hop_offsets=np.asarray(edge_hops, dtype=np.int64),
        num_seeds=len(seeds),
    )

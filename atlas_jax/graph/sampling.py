"""Multi-hop neighbour sampling and random walks over a GraphStore."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from atlas_jax import _core
from atlas_jax.errors import ConfigError
from atlas_jax.graph.store import GraphStore


@dataclasses.dataclass(frozen=True)
class SampledSubgraph:
    """A sampled, relabelled subgraph.

    Edges point from a sampled neighbour (sender) to the node that sampled it
    (receiver), so messages flow towards the seeds.
    """

    nodes: np.ndarray  # int64[n] global ids: seeds in seed order, then nodes first reached at hop 1, 2, ...
    senders: np.ndarray  # int32[e] local ids into nodes
    receivers: np.ndarray  # int32[e] local ids into nodes
    node_hop_offsets: np.ndarray  # int64[hops + 2]: nodes[o[h]:o[h + 1]] were first reached at hop h (0 = seeds)
    edge_hop_offsets: np.ndarray  # int64[hops + 1]: edges[o[h]:o[h + 1]] were sampled at hop h + 1
    num_seeds: int

    @property
    def num_nodes(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.senders.shape[0])


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if num_threads < 1:
        raise ConfigError(f"num_threads must be >= 1, got {num_threads}")
    return int(num_threads)


def sample(
    store: GraphStore,
    seeds: np.ndarray,
    fanouts: list[int],
    *,
    seed: int,
    weighted: bool = False,
    num_threads: int | None = None,
) -> SampledSubgraph:
    """Sample a multi-hop neighbourhood of ``seeds`` without replacement.

    At hop h every node first reached at hop h - 1 (the seeds for h = 1) draws
    up to ``fanouts[h - 1]`` distinct neighbours; a node with degree at most the
    fanout keeps all of them. Draws are keyed by (seed, hop, node id), so the
    result is the same for any ``num_threads``.

    Args:
        store: the graph.
        seeds: int64[b] distinct node ids.
        fanouts: neighbours per node at each hop, such as ``[15, 10, 5]``; -1 keeps all.
        seed: random seed.
        weighted: draw proportionally to edge weights (weights <= 0 are never drawn).
        num_threads: worker threads; None uses up to 8 CPUs.

    Returns:
        The relabelled subgraph.

    Raises:
        IndexError: a seed is not a node id.
        ValueError: repeated seeds, a negative fanout, or ``weighted`` on a store without weights.
    """
    seed_ids = np.ascontiguousarray(seeds, dtype=np.int64).reshape(-1)
    nodes, senders, receivers, node_offsets, edge_offsets = _core.sample_neighbors(
        store._core, seed_ids, [int(f) for f in fanouts], int(seed) & ((1 << 64) - 1), weighted,
        _threads(num_threads),
    )
    return SampledSubgraph(nodes, senders, receivers, node_offsets, edge_offsets, int(seed_ids.shape[0]))


def random_walk(
    store: GraphStore, starts: np.ndarray, length: int, *, seed: int, num_threads: int | None = None
) -> np.ndarray:
    """Uniform random walks: int64[len(starts), length + 1], row i starting at starts[i].

    A walk that reaches a node without out-edges stays on it.
    """
    start_ids = np.ascontiguousarray(starts, dtype=np.int64).reshape(-1)
    return _core.random_walks(store._core, start_ids, int(length), int(seed) & ((1 << 64) - 1),
                              _threads(num_threads))

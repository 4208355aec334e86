"""Static-shape graph batches: budgets from batch size and fanouts, padding and masks.

A sampled subgraph has a different number of nodes and edges every time, and jit
compiles once per input shape. Each batch is therefore padded to a fixed budget
that depends only on the batch size, the fanouts and the graph's size, so the
train step compiles once per run.

The padded layout keeps the sampler's hop order and pads every hop to its own
budget:

    nodes: [hop 0 (seeds) | hop 1 | ... | hop L]      each hop padded to node_budgets[k]
    edges: [hop 1 | hop 2 | ... | hop L]              each hop padded to edge_budgets[k - 1]

Edges of hop k go from a sampled neighbour to a node of hop k - 1, so layer i of an
L-layer model only needs outputs for hops 0..L-1-i and edges of hops 1..L-i. Both
are prefixes of the padded arrays of static size (`BatchLayout.layer_sizes`), and
the model skips the nodes that cannot reach a seed in time. Padded edges point at
node 0 with edge mask 0, so every aggregation must weight edges by the mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

import jraph
import numpy as np

from atlas_jax.errors import AtlasError, ConfigError


class Subgraph(Protocol):
    """The fields of `atlas_jax.graph.SampledSubgraph` that padding reads."""

    nodes: np.ndarray  # int64[n] global ids: seeds first, then nodes first reached at hop 1, 2, ...
    senders: np.ndarray  # int32[e] local ids of the sampled neighbours
    receivers: np.ndarray  # int32[e] local ids of the nodes that sampled them
    node_hop_offsets: np.ndarray  # int64[L + 2] start of each hop in `nodes`, then the end
    edge_hop_offsets: np.ndarray  # int64[L + 1] start of each hop's edges, then the end


@dataclasses.dataclass(frozen=True)
class BatchLayout:
    """Fixed node and edge budget of every hop of a padded batch."""

    batch_size: int
    fanouts: tuple[int, ...]
    node_budgets: tuple[int, ...]  # L + 1 entries: seeds, then nodes first reached at each hop
    edge_budgets: tuple[int, ...]  # L entries: edges sampled at hops 1..L

    @classmethod
    def create(
        cls,
        batch_size: int,
        fanouts: Sequence[int],
        *,
        num_nodes: int | None = None,
        num_edges: int | None = None,
        max_degree: int | None = None,
    ) -> "BatchLayout":
        """Derive the budgets of a batch of `batch_size` seeds sampled with `fanouts`.

        Hop k has at most `batch_size * fanouts[0] * ... * fanouts[k-1]` new nodes,
        and no hop can hold more nodes than the graph has. The optional graph sizes
        only tighten the budgets of small graphs.

        Raises:
            ConfigError: on a non-positive batch size or fanout.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if any(f < 1 for f in fanouts):
            raise ConfigError(f"every fanout must be at least 1, got {list(fanouts)}")
        node_budgets = [batch_size if num_nodes is None else min(batch_size, num_nodes)]
        edge_budgets = []
        for fanout in fanouts:
            per_node = fanout if max_degree is None else min(fanout, max_degree)
            edges = node_budgets[-1] * per_node
            if num_edges is not None:
                edges = min(edges, num_edges)
            new_nodes = edges if num_nodes is None else min(edges, num_nodes)
            edge_budgets.append(edges)
            node_budgets.append(new_nodes)
        return cls(batch_size, tuple(fanouts), tuple(node_budgets), tuple(edge_budgets))

    @property
    def num_hops(self) -> int:
        return len(self.fanouts)

    @property
    def num_nodes(self) -> int:
        return sum(self.node_budgets)

    @property
    def num_edges(self) -> int:
        return sum(self.edge_budgets)

    @property
    def node_offsets(self) -> tuple[int, ...]:
        """Start of every hop's node segment, then the total (L + 2 entries)."""
        return tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.node_budgets)]))

    @property
    def edge_offsets(self) -> tuple[int, ...]:
        """Start of every hop's edge segment, then the total (L + 1 entries)."""
        return tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.edge_budgets)]))

    def layer_sizes(self, num_layers: int) -> tuple[tuple[int, int], ...]:
        """(output nodes, edges) that each of `num_layers` message-passing layers needs.

        Raises:
            ConfigError: when the model has more layers than the sampler has hops.
        """
        if num_layers > self.num_hops:
            raise ConfigError(
                f"a {num_layers}-layer model needs at least {num_layers} fanouts, got "
                f"{list(self.fanouts)}; add fanouts or remove layers"
            )
        nodes, edges = self.node_offsets, self.edge_offsets
        return tuple((nodes[num_layers - i], edges[num_layers - i]) for i in range(num_layers))


def pad_subgraph(
    subgraph: Subgraph,
    features: np.ndarray,
    labels: np.ndarray,
    layout: BatchLayout,
    num_seeds: int,
) -> dict[str, np.ndarray]:
    """Place a sampled subgraph into the fixed hop-wise layout.

    Args:
        subgraph: the sampler's output, with `len(layout.fanouts)` hops.
        features: float32[n, num_features], the features of `subgraph.nodes` in order.
        labels: int32[n], their labels (negative: unlabelled, kept out of the loss).
        layout: the budgets; every hop must fit.
        num_seeds: real seeds at the front of `subgraph.nodes` (at most `layout.batch_size`).

    Returns:
        A dict of numpy arrays: `x` float32[N, F], `y` int32[N], `node_ids` int64[N]
        (-1 on padding), `node_mask` bool[N], `loss_mask` bool[N] (labelled seeds),
        `senders`/`receivers` int32[E], `edge_mask` bool[E], and the int64 scalars
        `num_real_nodes` and `num_real_edges`, where N and E are the layout's budgets.

    Raises:
        AtlasError: when a hop holds more nodes or edges than its budget, which means
            the sampler exceeded its fanouts.
    """
    node_hops = np.asarray(subgraph.node_hop_offsets, dtype=np.int64)
    edge_hops = np.asarray(subgraph.edge_hop_offsets, dtype=np.int64)
    if len(node_hops) != layout.num_hops + 2 or len(edge_hops) != layout.num_hops + 1:
        raise AtlasError(
            f"subgraph has {len(node_hops) - 2} hops but the batch layout expects "
            f"{layout.num_hops} (fanouts {list(layout.fanouts)})"
        )
    num_real = int(node_hops[-1])
    num_features = features.shape[1]

    # Local id of every real node in the padded array: hop k starts at node_offsets[k].
    new_position = np.empty(num_real, dtype=np.int64)
    node_starts = layout.node_offsets
    for hop in range(layout.num_hops + 1):
        start, stop = int(node_hops[hop]), int(node_hops[hop + 1])
        if stop - start > layout.node_budgets[hop]:
            raise AtlasError(
                f"hop {hop} has {stop - start} nodes, over its budget of "
                f"{layout.node_budgets[hop]} (batch {layout.batch_size}, fanouts {list(layout.fanouts)})"
            )
        new_position[start:stop] = node_starts[hop] + np.arange(stop - start)

    # Each hop is one contiguous block in both arrays, so slices copy it.
    x = np.zeros((layout.num_nodes, num_features), dtype=np.float32)
    y = np.zeros(layout.num_nodes, dtype=np.int32)
    node_ids = np.full(layout.num_nodes, -1, dtype=np.int64)
    node_mask = np.zeros(layout.num_nodes, dtype=bool)
    for hop in range(layout.num_hops + 1):
        start, stop = int(node_hops[hop]), int(node_hops[hop + 1])
        slots = slice(node_starts[hop], node_starts[hop] + stop - start)
        x[slots] = features[start:stop]
        y[slots] = np.maximum(labels[start:stop], 0)
        node_ids[slots] = subgraph.nodes[start:stop]
        node_mask[slots] = True
    loss_mask = np.zeros(layout.num_nodes, dtype=bool)
    loss_mask[:num_seeds] = labels[:num_seeds] >= 0

    senders = np.zeros(layout.num_edges, dtype=np.int32)
    receivers = np.zeros(layout.num_edges, dtype=np.int32)
    edge_mask = np.zeros(layout.num_edges, dtype=bool)
    edge_starts = layout.edge_offsets
    for hop in range(layout.num_hops):
        start, stop = int(edge_hops[hop]), int(edge_hops[hop + 1])
        if stop - start > layout.edge_budgets[hop]:
            raise AtlasError(
                f"hop {hop + 1} has {stop - start} edges, over its budget of "
                f"{layout.edge_budgets[hop]} (batch {layout.batch_size}, fanouts {list(layout.fanouts)})"
            )
        slots = slice(edge_starts[hop], edge_starts[hop] + stop - start)
        senders[slots] = new_position[subgraph.senders[start:stop]]
        receivers[slots] = new_position[subgraph.receivers[start:stop]]
        edge_mask[slots] = True

    return {
        "x": x,
        "y": y,
        "node_ids": node_ids,
        "node_mask": node_mask,
        "loss_mask": loss_mask,
        "senders": senders,
        "receivers": receivers,
        "edge_mask": edge_mask,
        "num_real_nodes": np.int64(num_real),
        "num_real_edges": np.int64(edge_hops[-1]),
    }


def padding_waste(batch: dict[str, Any], layout: BatchLayout) -> dict[str, float]:
    """Fraction of the node and edge budgets that a batch (or a stack of them) fills with padding."""
    nodes = float(np.sum(batch["num_real_nodes"]))
    edges = float(np.sum(batch["num_real_edges"]))
    copies = int(np.size(batch["num_real_nodes"]))
    return {
        "node_padding": 1.0 - nodes / (copies * layout.num_nodes),
        "edge_padding": 1.0 - edges / (copies * max(layout.num_edges, 1)),
    }


def to_graphs_tuple(batch: dict[str, Any]) -> jraph.GraphsTuple:
    """Wrap a padded batch (numpy or jax arrays) as a `jraph.GraphsTuple`.

    `nodes` carries the features and `edges` the edge mask as float32, the weight
    every aggregation multiplies messages by. One graph per batch: `n_node` and
    `n_edge` hold the padded totals.
    """
    x = batch["x"]
    edge_mask = batch["edge_mask"]
    return jraph.GraphsTuple(
        nodes=x,
        edges=edge_mask.astype(np.float32) if isinstance(edge_mask, np.ndarray) else edge_mask.astype("float32"),
        senders=batch["senders"],
        receivers=batch["receivers"],
        globals=None,
        n_node=np.asarray([x.shape[0]]),
        n_edge=np.asarray([edge_mask.shape[0]]),
    )


def full_graph_batch(
    indptr: np.ndarray, indices: np.ndarray, features: np.ndarray, labels: np.ndarray
) -> dict[str, np.ndarray]:
    """The whole graph as one batch in the padded-batch format, without padding.

    Args:
        indptr: int64[n + 1] CSR row pointers; row v lists the neighbours of v.
        indices: int32 or int64[m] CSR column ids.
        features: float32[n, F].
        labels: int32[n] (negative: unlabelled).

    Returns:
        The dict of `pad_subgraph`, with every node and edge real. Edges go from each
        neighbour (sender) to the node whose row lists it (receiver), as in sampling.
        `loss_mask` marks every labelled node; callers narrow it to a split.
    """
    num_nodes = len(indptr) - 1
    if num_nodes > np.iinfo(np.int32).max or len(indices) > np.iinfo(np.int32).max:
        raise AtlasError(
            f"full-graph mode needs int32 node and edge counts, got {num_nodes} nodes and "
            f"{len(indices)} edges; use gnn.mode=sampled"
        )
    degrees = np.diff(indptr)
    receivers = np.repeat(np.arange(num_nodes, dtype=np.int32), degrees)
    return {
        "x": np.ascontiguousarray(features, dtype=np.float32),
        "y": np.maximum(labels, 0).astype(np.int32),
        "node_ids": np.arange(num_nodes, dtype=np.int64),
        "node_mask": np.ones(num_nodes, dtype=bool),
        "loss_mask": labels >= 0,
        "senders": np.asarray(indices, dtype=np.int32),
        "receivers": receivers,
        "edge_mask": np.ones(len(indices), dtype=bool),
        "num_real_nodes": np.int64(num_nodes),
        "num_real_edges": np.int64(len(indices)),
    }


def stack_batches(batches: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack equally shaped batches along a new leading axis (one entry per device shard)."""
    return {key: np.stack([b[key] for b in batches]) for key in batches[0]}


def budget_summary(layout: BatchLayout) -> str:
    """One line describing a layout, for logs."""
    return (
        f"batch {layout.batch_size}, fanouts {list(layout.fanouts)}: budget of {layout.num_nodes} nodes "
        f"{list(layout.node_budgets)} and {layout.num_edges} edges {list(layout.edge_budgets)}"
    )

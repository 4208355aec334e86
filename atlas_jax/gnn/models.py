"""Node-classification GNNs in Flax NNX over `jraph.GraphsTuple`.

Every model maps a graph to class logits with segment operations over its edge
list. Edges go from `senders` to `receivers`, and `graph.edges` is a float32[E]
weight that is 1 on real edges and 0 on padding. Every aggregation multiplies by
that weight or masks with it, so padded edges never reach a real node.

`layer_sizes`, when given, is a static tuple of (output nodes, edges) per layer: layer i
computes outputs only for the first `layer_sizes[i][0]` nodes, from the first
`layer_sizes[i][1]` edges (see `atlas_jax.gnn.batching.BatchLayout.layer_sizes`).
Without it every layer runs on the whole graph, as full-graph training does.

Dropout takes an explicit key instead of NNX Rngs state, so the train step stays a
pure function of (params, batch, key) that `jax.vmap` and `jax.shard_map` can map
over sub-batches and devices with the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from atlas_jax.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
}

LayerSizes = Sequence[tuple[int, int]] | None


def dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """Inverted dropout; the identity when `key` is None (evaluation) or `rate` is 0."""
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def masked_mean(messages: jax.Array, receivers: jax.Array, weight: jax.Array, num_out: int) -> jax.Array:
    """Mean of the real messages into each receiver; 0 for a node without real in-edges."""
    total = jraph.segment_sum(messages * weight[:, None], receivers, num_out)
    count = jraph.segment_sum(weight, receivers, num_out)
    return total / jnp.maximum(count, 1.0)[:, None]


def masked_max(messages: jax.Array, receivers: jax.Array, weight: jax.Array, num_out: int) -> jax.Array:
    """Element-wise max of the real messages into each receiver; 0 for a node without any."""
    real = weight[:, None] > 0
    largest = jraph.segment_max(jnp.where(real, messages, -jnp.inf), receivers, num_out)
    count = jraph.segment_sum(weight, receivers, num_out)
    return jnp.where(count[:, None] > 0, largest, 0.0)


def _layer_inputs(graph: jraph.GraphsTuple, num_nodes: int, sizes: tuple[int, int] | None):
    """Edge arrays and output size of one layer, trimmed to `sizes` when given."""
    if sizes is None:
        return graph.senders, graph.receivers, graph.edges, num_nodes
    num_out, num_edges = sizes
    return graph.senders[:num_edges], graph.receivers[:num_edges], graph.edges[:num_edges], num_out


class SAGEConv(nnx.Module):
    """GraphSAGE layer (Hamilton et al., 2017): W_self h_v + W_neigh AGG({h_u : u -> v}).

    `aggregator="mean"` averages the neighbours. `aggregator="max"` is the paper's
    pooling aggregator, an element-wise max over ReLU(W_pool h_u + b).
    """

    def __init__(self, in_features: int, out_features: int, aggregator: str, *, rngs: nnx.Rngs):
        if aggregator not in ("mean", "max"):
            raise ConfigError(f"unknown GraphSAGE aggregator '{aggregator}'; valid: mean, max")
        self.aggregator = aggregator
        self.self_dense = nnx.Linear(in_features, out_features, rngs=rngs)
        self.neigh_dense = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)
        self.pool = nnx.Linear(in_features, in_features, rngs=rngs) if aggregator == "max" else None

    def __call__(self, h: jax.Array, senders, receivers, weight, num_out: int) -> jax.Array:
        if self.pool is not None:
            pooled = jax.nn.relu(self.pool(h))
            neighbours = masked_max(pooled[senders], receivers, weight, num_out)
        else:
            neighbours = masked_mean(h[senders], receivers, weight, num_out)
        return self.self_dense(h[:num_out]) + self.neigh_dense(neighbours)


class GCNConv(nnx.Module):
    """Graph convolution (Kipf and Welling, 2017): D^-1/2 (A + I) D^-1/2 H W + b.

    `degree` counts real in-edges plus the self-loop. In sampled batches it is the
    degree within the sampled subgraph, the usual approximation of sampled GCN.
    """

    def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
        self.dense = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)
        self.bias = nnx.Param(jnp.zeros((out_features,)))

    def __call__(self, h: jax.Array, senders, receivers, weight, num_out: int, degree: jax.Array) -> jax.Array:
        projected = self.dense(h)
        inv_sqrt = jax.lax.rsqrt(degree)
        norm = weight * inv_sqrt[senders] * inv_sqrt[receivers]
        neighbours = jraph.segment_sum(projected[senders] * norm[:, None], receivers, num_out)
        self_loop = projected[:num_out] * (1.0 / degree[:num_out])[:, None]
        return neighbours + self_loop + self.bias[...]


class GATConv(nnx.Module):
    """Graph attention layer (Velickovic et al., 2018) with a self-loop on every node.

    Attention logits are LeakyReLU(a_src . W h_u + a_dst . W h_v), normalised by a
    softmax over each receiver's real in-edges and its self-loop. Heads are
    concatenated, or averaged when `concat` is False (the output layer).
    """

    def __init__(self, in_features: int, out_features: int, heads: int, concat: bool, *, rngs: nnx.Rngs):
        if concat and out_features % heads:
            raise ConfigError(f"GAT width {out_features} must be divisible by heads={heads}")
        self.heads = heads
        self.concat = concat
        self.head_features = out_features // heads if concat else out_features
        self.dense = nnx.Linear(in_features, heads * self.head_features, use_bias=False, rngs=rngs)
        init = nnx.initializers.glorot_uniform()
        self.attn_src = nnx.Param(init(rngs.params(), (heads, self.head_features)))
        self.attn_dst = nnx.Param(init(rngs.params(), (heads, self.head_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,)))

    def __call__(self, h: jax.Array, senders, receivers, weight, num_out: int) -> jax.Array:
        projected = self.dense(h).reshape(h.shape[0], self.heads, self.head_features)
        score_src = jnp.sum(projected * self.attn_src[...], axis=-1)  # [n_in, heads]
        score_dst = jnp.sum(projected[:num_out] * self.attn_dst[...], axis=-1)  # [n_out, heads]
        edge_logits = jax.nn.leaky_relu(score_src[senders] + score_dst[receivers], 0.2)
        self_logits = jax.nn.leaky_relu(score_src[:num_out] + score_dst, 0.2)

        # Softmax over {real in-edges} + {self-loop}. The self-loop keeps every
        # receiver's max finite, so padded edges can be masked with -inf safely.
        real = weight[:, None] > 0
        edge_logits = jnp.where(real, edge_logits, -jnp.inf)
        largest = jnp.maximum(jraph.segment_max(edge_logits, receivers, num_out), self_logits)
        edge_exp = jnp.where(real, jnp.exp(edge_logits - largest[receivers]), 0.0)
        self_exp = jnp.exp(self_logits - largest)
        denominator = jraph.segment_sum(edge_exp, receivers, num_out) + self_exp

        messages = projected[senders] * edge_exp[..., None]
        out = jraph.segment_sum(messages, receivers, num_out) + projected[:num_out] * self_exp[..., None]
        out = out / denominator[..., None]
        out = out.reshape(num_out, -1) if self.concat else out.mean(axis=1)
        return out + self.bias[...]


class GNN(nnx.Module):
    """A stack of message-passing layers with dropout and activations between them."""

    def __init__(
        self,
        kind: str,
        in_features: int,
        num_classes: int,
        *,
        hidden: int = 128,
        num_layers: int = 2,
        heads: int = 4,
        dropout_rate: float = 0.0,
        activation: str = "relu",
        rngs: nnx.Rngs,
    ):
        if kind not in GNN_KINDS:
            raise ConfigError(f"unknown GNN '{kind}'; valid: {', '.join(GNN_KINDS)}")
        if num_layers < 1:
            raise ConfigError(f"a GNN needs at least one layer, got num_layers={num_layers}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")
        self.kind = kind
        self.dropout_rate = dropout_rate
        self.activation = activation
        widths = [in_features] + [hidden] * (num_layers - 1) + [num_classes]
        layers = []
        for i in range(num_layers):
            last = i == num_layers - 1
            if kind in ("sage_mean", "sage_max"):
                layers.append(SAGEConv(widths[i], widths[i + 1], kind.removeprefix("sage_"), rngs=rngs))
            elif kind == "gcn":
                layers.append(GCNConv(widths[i], widths[i + 1], rngs=rngs))
            else:
                layers.append(GATConv(widths[i], widths[i + 1], heads, concat=not last, rngs=rngs))
        self.layers = nnx.List(layers)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def __call__(
        self, graph: jraph.GraphsTuple, layer_sizes: LayerSizes = None, *, key: jax.Array | None = None
    ) -> jax.Array:
        """Class logits float32[n_out, classes] of the first n_out nodes.

        n_out is the whole graph without `layer_sizes`, else `layer_sizes[-1][0]`.
        """
        h = graph.nodes
        num_nodes = h.shape[0]
        if layer_sizes is not None and len(layer_sizes) != self.num_layers:
            raise ConfigError(f"got sizes for {len(layer_sizes)} layers, the model has {self.num_layers}")
        degree = None
        if self.kind == "gcn":
            degree = jraph.segment_sum(graph.edges, graph.receivers, num_nodes) + 1.0
        keys = [None] * self.num_layers if key is None else list(jax.random.split(key, self.num_layers))
        act = ACTIVATIONS[self.activation]
        for i, layer in enumerate(self.layers):
            senders, receivers, weight, num_out = _layer_inputs(
                graph, num_nodes, None if layer_sizes is None else layer_sizes[i]
            )
            h = dropout(h, self.dropout_rate, keys[i])
            if degree is not None:
                h = layer(h, senders, receivers, weight, num_out, degree)
            else:
                h = layer(h, senders, receivers, weight, num_out)
            if i < self.num_layers - 1:
                h = act(h)
        return h


class NodeMLP(nnx.Module):
    """A per-node MLP that ignores the edges: the no-graph baseline on the same features."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        hidden: int = 128,
        num_layers: int = 2,
        dropout_rate: float = 0.0,
        activation: str = "relu",
        rngs: nnx.Rngs,
    ):
        if activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")
        widths = [in_features] + [hidden] * (num_layers - 1) + [num_classes]
        self.layers = nnx.List([nnx.Linear(widths[i], widths[i + 1], rngs=rngs) for i in range(num_layers)])
        self.dropout_rate = dropout_rate
        self.activation = activation

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def __call__(
        self, graph: jraph.GraphsTuple, layer_sizes: LayerSizes = None, *, key: jax.Array | None = None
    ) -> jax.Array:
        """Class logits of the same nodes a GNN with these `layer_sizes` would return."""
        h = graph.nodes if layer_sizes is None else graph.nodes[: layer_sizes[-1][0]]
        keys = [None] * self.num_layers if key is None else list(jax.random.split(key, self.num_layers))
        act = ACTIVATIONS[self.activation]
        for i, layer in enumerate(self.layers):
            h = layer(dropout(h, self.dropout_rate, keys[i]))
            if i < self.num_layers - 1:
                h = act(h)
        return h


GNN_KINDS = ("sage_mean", "sage_max", "gcn", "gat")
MODEL_NAMES = GNN_KINDS + ("mlp",)


def create_gnn(cfg, in_features: int, num_classes: int, seed: int) -> nnx.Module:
    """Build the model that `cfg` (a `GNNModelConfig`) names.

    Raises:
        ConfigError: on an unknown name or activation, or inconsistent widths.
    """
    rngs = nnx.Rngs(params=seed)
    common = dict(
        hidden=cfg.hidden,
        num_layers=cfg.num_layers,
        dropout_rate=cfg.dropout,
        activation=cfg.activation,
        rngs=rngs,
    )
    if cfg.name == "mlp":
        return NodeMLP(in_features, num_classes, **common)
    if cfg.name not in GNN_KINDS:
        raise ConfigError(f"unknown gnn.model.name '{cfg.name}'; valid: {', '.join(MODEL_NAMES)}")
    return GNN(cfg.name, in_features, num_classes, heads=cfg.heads, **common)

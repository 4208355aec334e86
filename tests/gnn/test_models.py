"""GNN layers against dense numpy formulas, and padding that must not change any real output."""

import jax
import numpy as np
import pytest
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.gnn.batching import BatchLayout, pad_subgraph, to_graphs_tuple
from atlas_jax.gnn.config import GNNModelConfig
from atlas_jax.gnn.models import GNN, GNN_KINDS, NodeMLP, create_gnn

from . import reference

TOL = dict(rtol=1e-5, atol=1e-5)  # float32 sums of at most a few hundred terms


def _graph(num_nodes=12, num_edges=30, features=4, seed=0):
    indptr, indices = reference.random_graph(num_nodes, num_edges, seed)
    x = np.random.default_rng(seed).standard_normal((num_nodes, features)).astype(np.float32)
    receivers = np.repeat(np.arange(num_nodes), np.diff(indptr)).astype(np.int32)
    batch = {
        "x": x,
        "senders": indices.astype(np.int32),
        "receivers": receivers,
        "edge_mask": np.ones(len(indices), dtype=bool),
    }
    adjacency = np.zeros((num_nodes, num_nodes), np.float32)  # adjacency[v, u] = 1 for an edge u -> v
    adjacency[receivers, indices] = 1.0
    return batch, adjacency


def _apply(model, batch, layer_sizes=None, key=None):
    """Run the model under one jit: eager NNX would compile each operation separately."""
    graphdef, state = nnx.split(model)
    function = jax.jit(lambda state, batch, key: nnx.merge(graphdef, state)(to_graphs_tuple(batch), layer_sizes, key=key))
    return np.asarray(function(state, batch, key))


def _np(param):
    return np.asarray(param[...])


def test_sage_mean_matches_dense_formula():
    batch, adjacency = _graph()
    model = GNN("sage_mean", 4, 3, num_layers=1, rngs=nnx.Rngs(0))
    layer = model.layers[0]
    degree = np.maximum(adjacency.sum(1, keepdims=True), 1)
    expected = (
        batch["x"] @ _np(layer.self_dense.kernel)
        + _np(layer.self_dense.bias)
        + (adjacency @ batch["x"] / degree) @ _np(layer.neigh_dense.kernel)
    )
    np.testing.assert_allclose(_apply(model, batch), expected, **TOL)


def test_sage_max_matches_dense_formula():
    batch, adjacency = _graph()
    model = GNN("sage_max", 4, 3, num_layers=1, rngs=nnx.Rngs(0))
    layer = model.layers[0]
    pooled = np.maximum(batch["x"] @ _np(layer.pool.kernel) + _np(layer.pool.bias), 0)
    neighbour_max = np.stack(
        [pooled[adjacency[v] > 0].max(0) if adjacency[v].any() else np.zeros(4) for v in range(12)]
    )
    expected = (
        batch["x"] @ _np(layer.self_dense.kernel) + _np(layer.self_dense.bias) + neighbour_max @ _np(layer.neigh_dense.kernel)
    )
    np.testing.assert_allclose(_apply(model, batch), expected, **TOL)


def test_gcn_matches_dense_formula():
    batch, adjacency = _graph()
    model = GNN("gcn", 4, 3, num_layers=1, rngs=nnx.Rngs(0))
    layer = model.layers[0]
    with_loops = adjacency + np.eye(12, dtype=np.float32)
    inv_sqrt = 1 / np.sqrt(with_loops.sum(1))
    normalised = inv_sqrt[:, None] * with_loops * inv_sqrt[None, :]
    expected = normalised @ batch["x"] @ _np(layer.dense.kernel) + _np(layer.bias)
    np.testing.assert_allclose(_apply(model, batch), expected, **TOL)


def test_gat_matches_dense_formula():
    batch, adjacency = _graph()
    heads, width = 2, 6
    model = GNN("gat", 4, 3, hidden=width, heads=heads, num_layers=2, rngs=nnx.Rngs(0))
    h = batch["x"]
    for index, layer in enumerate(model.layers):
        projected = (h @ _np(layer.dense.kernel)).reshape(12, heads, -1)
        src = (projected * _np(layer.attn_src)).sum(-1)
        dst = (projected * _np(layer.attn_dst)).sum(-1)
        outputs = []
        for v in range(12):
            neighbours = np.concatenate([np.flatnonzero(adjacency[v]), [v]])
            logits = src[neighbours] + dst[v]
            logits = np.where(logits > 0, logits, 0.2 * logits)
            weights = np.exp(logits - logits.max(0))
            weights /= weights.sum(0)
            outputs.append((weights[..., None] * projected[neighbours]).sum(0))
        out = np.stack(outputs)
        h = (out.reshape(12, -1) if layer.concat else out.mean(1)) + _np(layer.bias)
        if index == 0:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(_apply(model, batch), h, **TOL)


def _padded_and_plain(kind, seed=0):
    indptr, indices = reference.random_graph(150, 500, seed)
    x = np.random.default_rng(seed).standard_normal((150, 6)).astype(np.float32)
    subgraph = reference.sample(indptr, indices, np.arange(9), [4, 3], seed=seed)
    layout = BatchLayout.create(12, [4, 3], num_nodes=150)
    padded = pad_subgraph(subgraph, x[subgraph.nodes], np.zeros(len(subgraph.nodes), np.int32), layout, 9)
    plain = {
        "x": x[subgraph.nodes],
        "senders": subgraph.senders,
        "receivers": subgraph.receivers,
        "edge_mask": np.ones(len(subgraph.senders), dtype=bool),
    }
    model = create_gnn(GNNModelConfig(name=kind, hidden=8, heads=2, num_layers=2), 6, 3, seed=1)
    return model, padded, plain, layout


@pytest.mark.parametrize("kind", GNN_KINDS + ("mlp",))
def test_padded_batch_matches_unpadded_subgraph(kind):
    model, padded, plain, layout = _padded_and_plain(kind)
    trimmed = _apply(model, padded, layout.layer_sizes(2))
    reference_out = _apply(model, plain)
    assert trimmed.shape == (layout.batch_size, 3)
    np.testing.assert_allclose(trimmed[:9], reference_out[:9], **TOL)


@pytest.mark.parametrize("kind", GNN_KINDS)
def test_padding_content_does_not_leak(kind):
    model, padded, _, layout = _padded_and_plain(kind)
    noisy = dict(padded)
    rng = np.random.default_rng(5)
    pad_nodes = ~padded["node_mask"]
    pad_edges = ~padded["edge_mask"]
    noisy["x"] = padded["x"].copy()
    noisy["x"][pad_nodes] = rng.standard_normal((pad_nodes.sum(), 6)) * 100
    # Padded edges may point anywhere in the right prefix; their zero mask must hide them.
    for name in ("senders", "receivers"):
        noisy[name] = padded[name].copy()
        noisy[name][pad_edges] = rng.integers(0, 9, pad_edges.sum())
    clean = _apply(model, padded, layout.layer_sizes(2))
    dirty = _apply(model, noisy, layout.layer_sizes(2))
    np.testing.assert_allclose(dirty[:9], clean[:9], **TOL)


def test_dropout_uses_key_and_is_off_without_one():
    batch, _ = _graph()
    model = GNN("sage_mean", 4, 3, num_layers=2, hidden=16, dropout_rate=0.5, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(_apply(model, batch), _apply(model, batch))
    first = _apply(model, batch, key=jax.random.key(1))
    assert not np.allclose(first, _apply(model, batch))
    np.testing.assert_array_equal(first, _apply(model, batch, key=jax.random.key(1)))


def test_mlp_ignores_edges():
    batch, _ = _graph()
    model = NodeMLP(4, 3, hidden=8, rngs=nnx.Rngs(0))
    shuffled = dict(batch, senders=batch["senders"][::-1].copy())
    np.testing.assert_array_equal(_apply(model, batch), _apply(model, shuffled))


@pytest.mark.parametrize(
    "cfg",
    [
        GNNModelConfig(name="transformer"),
        GNNModelConfig(name="gat", hidden=10, heads=4),
        GNNModelConfig(name="gcn", activation="swish"),
        GNNModelConfig(name="sage_mean", num_layers=0),
    ],
)
def test_create_gnn_rejects_invalid_config(cfg):
    with pytest.raises(ConfigError):
        create_gnn(cfg, 4, 3, seed=0)

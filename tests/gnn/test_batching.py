"""Static budgets, hop-wise padding and masks, checked against the numpy reference sampler."""

import numpy as np
import pytest

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.gnn.batching import BatchLayout, full_graph_batch, pad_subgraph, padding_waste, stack_batches

from . import reference


def test_layout_budgets_follow_fanouts():
    layout = BatchLayout.create(8, [5, 3])
    assert layout.node_budgets == (8, 40, 120)
    assert layout.edge_budgets == (40, 120)
    assert layout.num_nodes == 168
    assert layout.num_edges == 160
    assert layout.node_offsets == (0, 8, 48, 168)
    assert layout.edge_offsets == (0, 40, 160)


def test_layout_caps_budgets_by_graph_size():
    layout = BatchLayout.create(16, [10, 10], num_nodes=50, num_edges=300, max_degree=4)
    assert layout.node_budgets == (16, 50, 50)
    assert layout.edge_budgets == (64, 200)


def test_layout_layer_sizes_are_prefixes():
    layout = BatchLayout.create(4, [3, 2, 2])
    # Layer 0 serves hops 0..2 from edges of hops 1..3; the last layer serves the seeds.
    assert layout.layer_sizes(3) == ((4 + 12 + 24, 12 + 24 + 48), (4 + 12, 12 + 24), (4, 12))
    assert layout.layer_sizes(1) == ((4, 12),)


@pytest.mark.parametrize("batch_size, fanouts", [(0, [2]), (4, [2, 0])])
def test_layout_rejects_invalid_sizes(batch_size, fanouts):
    with pytest.raises(ConfigError):
        BatchLayout.create(batch_size, fanouts)


def test_layout_rejects_more_layers_than_hops():
    with pytest.raises(ConfigError, match="fanouts"):
        BatchLayout.create(4, [3]).layer_sizes(2)


def _padded_example(num_seeds=6, fanouts=(4, 3)):
    indptr, indices = reference.random_graph(120, 400, seed=1)
    rng = np.random.default_rng(2)
    features = rng.standard_normal((120, 5)).astype(np.float32)
    labels = rng.integers(0, 4, 120).astype(np.int32)
    seeds = rng.choice(120, num_seeds, replace=False)
    subgraph = reference.sample(indptr, indices, seeds, list(fanouts), seed=3)
    layout = BatchLayout.create(8, list(fanouts), num_nodes=120)
    batch = pad_subgraph(subgraph, features[subgraph.nodes], labels[subgraph.nodes], layout, num_seeds)
    return subgraph, layout, batch, features, labels


def test_pad_subgraph_shapes_are_static():
    _, layout, batch, _, _ = _padded_example()
    assert batch["x"].shape == (layout.num_nodes, 5)
    assert batch["senders"].shape == (layout.num_edges,)
    assert batch["edge_mask"].shape == (layout.num_edges,)
    assert batch["loss_mask"].shape == (layout.num_nodes,)


def test_pad_subgraph_keeps_hops_in_their_segments():
    subgraph, layout, batch, features, _ = _padded_example()
    starts = layout.node_offsets
    for hop in range(layout.num_hops + 1):
        ids = subgraph.nodes[subgraph.node_hop_offsets[hop] : subgraph.node_hop_offsets[hop + 1]]
        segment = batch["node_ids"][starts[hop] : starts[hop + 1]]
        np.testing.assert_array_equal(segment[: len(ids)], ids)
        assert np.all(segment[len(ids) :] == -1)
    real = batch["node_ids"] >= 0
    np.testing.assert_array_equal(batch["node_mask"], real)
    np.testing.assert_array_equal(batch["x"][real], features[batch["node_ids"][real]])
    assert np.all(batch["x"][~real] == 0)


def test_pad_subgraph_preserves_edges():
    subgraph, layout, batch, _, _ = _padded_example()
    ids = batch["node_ids"]
    mask = batch["edge_mask"]
    padded = set(zip(ids[batch["senders"][mask]].tolist(), ids[batch["receivers"][mask]].tolist()))
    original = set(zip(subgraph.nodes[subgraph.senders].tolist(), subgraph.nodes[subgraph.receivers].tolist()))
    assert padded == original
    assert mask.sum() == len(subgraph.senders)
    # Padded edges point at slot 0 and carry no weight.
    assert np.all(batch["senders"][~mask] == 0)
    assert np.all(batch["receivers"][~mask] == 0)


def test_pad_subgraph_edges_stay_within_layer_prefixes():
    _, layout, batch, _, _ = _padded_example()
    mask = batch["edge_mask"]
    node_starts, edge_starts = layout.node_offsets, layout.edge_offsets
    for hop in range(1, layout.num_hops + 1):
        edges = slice(edge_starts[hop - 1], edge_starts[hop])
        receivers = batch["receivers"][edges][mask[edges]]
        senders = batch["senders"][edges][mask[edges]]
        assert np.all((receivers >= node_starts[hop - 1]) & (receivers < node_starts[hop]))
        assert np.all(senders < node_starts[hop + 1])


def test_pad_subgraph_loss_mask_covers_labelled_seeds():
    subgraph, _, _, features, labels = _padded_example()
    labels = labels.copy()
    labels[subgraph.nodes[1]] = -1  # an unlabelled seed stays out of the loss
    layout = BatchLayout.create(8, [4, 3], num_nodes=120)
    batch = pad_subgraph(subgraph, features[subgraph.nodes], labels[subgraph.nodes], layout, 6)
    expected = np.zeros(layout.num_nodes, dtype=bool)
    expected[[0, 2, 3, 4, 5]] = True
    np.testing.assert_array_equal(batch["loss_mask"], expected)
    assert batch["y"][1] == 0


def test_pad_subgraph_rejects_overflowing_hop():
    subgraph, _, _, features, labels = _padded_example()
    small = BatchLayout(8, (4, 3), (8, 4, 200), (32, 96))
    with pytest.raises(AtlasError, match="hop 1 has"):
        pad_subgraph(subgraph, features[subgraph.nodes], labels[subgraph.nodes], small, 6)


def test_padding_waste_counts_unused_budget():
    subgraph, layout, batch, _, _ = _padded_example()
    waste = padding_waste(stack_batches([batch, batch]), layout)
    assert waste["node_padding"] == pytest.approx(1 - len(subgraph.nodes) / layout.num_nodes)
    assert waste["edge_padding"] == pytest.approx(1 - len(subgraph.senders) / layout.num_edges)


def test_full_graph_batch_matches_csr():
    indptr, indices = reference.random_graph(30, 60, seed=4)
    labels = np.arange(30, dtype=np.int32) % 3
    labels[5] = -1
    batch = full_graph_batch(indptr, indices, np.ones((30, 2), np.float32), labels)
    for node in range(30):
        incoming = batch["senders"][batch["receivers"] == node]
        np.testing.assert_array_equal(np.sort(incoming), np.sort(indices[indptr[node] : indptr[node + 1]]))
    assert not batch["loss_mask"][5]
    assert batch["loss_mask"].sum() == 29

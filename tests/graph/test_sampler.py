"""Sampler: true neighbours only, fanouts, relabelling, determinism and weights."""

import numpy as np
import pytest

from atlas_jax.graph import GraphStore, build_graph, generate_rmat, random_walk, sample

from ._reference import random_edges


@pytest.fixture(scope="module")
def rmat_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("rmat") / "r.csr"
    return generate_rmat(path, scale=12, edge_factor=8, seed=3, dedup=True, progress=False)


def check_structure(store, result, seeds, fanouts):
    """Every sampled edge is a true edge, fanouts hold, hop offsets and relabelling are consistent."""
    nodes = result.nodes
    assert nodes.dtype == np.int64
    assert result.senders.dtype == np.int32
    assert result.receivers.dtype == np.int32
    np.testing.assert_array_equal(nodes[:len(seeds)], seeds)
    assert result.num_seeds == len(seeds)
    assert len(np.unique(nodes)) == len(nodes), "nodes must be unique"
    assert result.node_hop_offsets.shape == (len(fanouts) + 2,)
    assert result.edge_hop_offsets.shape == (len(fanouts) + 1,)
    assert result.node_hop_offsets[1] == len(seeds)
    assert result.node_hop_offsets[-1] == len(nodes)
    assert result.edge_hop_offsets[-1] == len(result.senders)
    for hop, fanout in enumerate(fanouts):
        lo, hi = result.edge_hop_offsets[hop], result.edge_hop_offsets[hop + 1]
        receivers = result.receivers[lo:hi]
        senders = result.senders[lo:hi]
        # Receivers at hop h+1 are exactly the nodes that entered at hop h.
        frontier = np.arange(result.node_hop_offsets[hop], result.node_hop_offsets[hop + 1])
        assert np.isin(receivers, frontier).all()
        # Senders are known by the end of this hop.
        assert (senders < result.node_hop_offsets[hop + 2]).all()
        for r in frontier:
            mine = nodes[senders[receivers == r]]
            neighbors = store.neighbors(nodes[r])
            assert np.isin(mine, neighbors).all(), "sampled a non-neighbour"
            # Without replacement over edge positions: a neighbour repeats at most as often as its parallel edges.
            values, counts = np.unique(mine, return_counts=True)
            available = np.array([np.count_nonzero(neighbors == u) for u in values])
            assert (counts <= available).all(), "sampled with replacement"
            limit = len(neighbors) if fanout < 0 else fanout
            assert len(mine) == min(limit, len(neighbors))
            if len(neighbors) <= limit:
                np.testing.assert_array_equal(np.sort(mine), np.sort(neighbors))
        # Nodes entering at this hop were first reached by an edge of this hop.
        new = np.arange(result.node_hop_offsets[hop + 1], result.node_hop_offsets[hop + 2])
        assert np.isin(new, senders).all()


@pytest.mark.parametrize("fanouts", [[15, 10, 5], [25, 10], [3], [0, 4], [-1, 2]])
def test_sample_true_neighbors_and_fanouts(rmat_store, fanouts):
    rng = np.random.default_rng(0)
    seeds = rng.choice(rmat_store.num_nodes, size=64, replace=False)
    result = sample(rmat_store, seeds, fanouts, seed=7)
    check_structure(rmat_store, result, seeds, fanouts)


def test_sample_deterministic_across_threads(rmat_store):
    seeds = np.random.default_rng(1).choice(rmat_store.num_nodes, size=1024, replace=False)
    runs = [sample(rmat_store, seeds, [15, 10, 5], seed=11, num_threads=t) for t in (1, 2, 4, 7)]
    for other in runs[1:]:
        for field in ("nodes", "senders", "receivers", "node_hop_offsets", "edge_hop_offsets"):
            np.testing.assert_array_equal(getattr(runs[0], field), getattr(other, field), err_msg=field)
    different = sample(rmat_store, seeds, [15, 10, 5], seed=12)
    assert not np.array_equal(different.senders, runs[0].senders)


def test_sample_is_uniform(tmp_path):
    # One hub with 20 neighbours, fanout 5: each neighbour is drawn with probability 1/4.
    store = build_graph(tmp_path / "star.csr", src=np.zeros(20, np.int64), dst=np.arange(1, 21), progress=False)
    counts = np.zeros(21)
    trials = 4000
    for s in range(trials):
        result = sample(store, np.array([0]), [5], seed=s)
        counts[result.nodes[result.senders]] += 1
    freq = counts[1:] / trials
    # Binomial(4000, 0.25) has sd 0.0068 in frequency; 5 sd is 0.034.
    assert np.abs(freq - 0.25).max() < 0.034


def test_sample_weighted_proportions(tmp_path):
    # Without replacement, one draw from weights (0, 1, 3) picks node 3 with probability 3/4, never node 1.
    store = build_graph(tmp_path / "w.csr", src=np.zeros(3, np.int64), dst=np.array([1, 2, 3]),
                        weights=np.array([0.0, 1.0, 3.0]), progress=False)
    picks = np.array([sample(store, np.array([0]), [1], seed=s, weighted=True).nodes[1] for s in range(4000)])
    assert (picks != 1).all()
    # Binomial(4000, 0.75): sd 0.0068; 5 sd is 0.034.
    assert abs(np.mean(picks == 3) - 0.75) < 0.034
    both = sample(store, np.array([0]), [5], seed=0, weighted=True)
    np.testing.assert_array_equal(np.sort(both.nodes[1:]), [2, 3])


def test_sample_weighted_needs_weights(rmat_store):
    with pytest.raises(ValueError, match="has none"):
        sample(rmat_store, np.array([0]), [2], seed=0, weighted=True)


def test_sample_rejects_bad_seeds(rmat_store):
    with pytest.raises(IndexError, match=f"node id {rmat_store.num_nodes}"):
        sample(rmat_store, np.array([0, rmat_store.num_nodes]), [2], seed=0)
    with pytest.raises(ValueError, match="more than once"):
        sample(rmat_store, np.array([5, 5]), [2], seed=0)
    with pytest.raises(ValueError, match="fanouts"):
        sample(rmat_store, np.array([5]), [-2], seed=0)


def test_sample_small_graph_with_self_loops(tmp_path, rng):
    src, dst = random_edges(rng, 60, 400)
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, symmetrize=True, progress=False)
    seeds = np.array([0, 5, 9])
    for fanouts in ([2, 2, 2], [100, 100]):
        check_structure(store, sample(store, seeds, fanouts, seed=4), seeds, fanouts)


def test_random_walk_follows_edges(rmat_store):
    starts = np.arange(100)
    walks = random_walk(rmat_store, starts, 6, seed=2)
    assert walks.shape == (100, 7)
    np.testing.assert_array_equal(walks[:, 0], starts)
    for walk in walks:
        for a, b in zip(walk[:-1], walk[1:]):
            neighbors = rmat_store.neighbors(a)
            assert (b in neighbors) if len(neighbors) else b == a
    np.testing.assert_array_equal(walks, random_walk(rmat_store, starts, 6, seed=2, num_threads=1))

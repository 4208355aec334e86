"""Dataset generators and the dataset folder: structure, homophily, labels, splits, caching."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.gnn.config import GNNDataConfig
from atlas_jax.gnn.datasets import META_FILE, dataset_folder, open_dataset, prepare_dataset
from atlas_jax.gnn.features import MemoryFeatureStore, ZarrFeatureStore
from atlas_jax.gnn.generators import class_means


def _adjacency(store):
    n = store.num_nodes
    indptr, indices = np.asarray(store.indptr), np.asarray(store.indices)
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))


def _labels(dataset):
    return dataset.features.fetch(np.arange(dataset.num_nodes))[1]


@pytest.mark.parametrize("homophily", [0.2, 0.9])
def test_csbm_edge_homophily_matches_request(gnn_cache, homophily):
    cfg = GNNDataConfig(name="csbm", cache_dir=str(gnn_cache), num_nodes=10_000, num_classes=5,
                        num_features=4, avg_degree=10, homophily=homophily)
    dataset = prepare_dataset(cfg)
    # 50,000 edges: the binomial standard error is below 0.003.
    assert dataset.meta["edge_homophily"] == pytest.approx(homophily, abs=0.015)
    adjacency = _adjacency(dataset.store)
    assert (adjacency != adjacency.T).nnz == 0
    assert adjacency.diagonal().sum() == 0
    assert adjacency.max() == 1  # no repeated edges
    assert dataset.store.num_edges / dataset.num_nodes == pytest.approx(10, rel=0.02)
    np.testing.assert_array_equal(np.bincount(_labels(dataset)), [2000] * 5)


def test_csbm_features_centre_on_class_means(small_csbm):
    x, y = small_csbm.features.fetch(np.arange(small_csbm.num_nodes))
    means = class_means(4, 8, 1.0, seed=0)
    for c in range(4):
        # 500 nodes per class with unit noise: standard error about 0.045 per coordinate.
        np.testing.assert_allclose(x[y == c].mean(0), means[c], atol=0.2)
        assert (x[y == c] - means[c]).std() == pytest.approx(1.0, abs=0.05)


def test_splits_partition_the_nodes(small_csbm):
    splits = small_csbm.splits
    joined = np.concatenate([splits["train"], splits["val"], splits["test"]])
    np.testing.assert_array_equal(np.sort(joined), np.arange(2000))
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (1000, 400, 600)


def test_knn_graph_contains_nearest_neighbours(gnn_cache):
    dataset = prepare_dataset(GNNDataConfig(name="knn", cache_dir=str(gnn_cache), source="digits", knn_k=5))
    x, y = dataset.features.fetch(np.arange(dataset.num_nodes))
    assert dataset.num_nodes == 1797
    assert dataset.num_classes == 10
    x = x.astype(np.float64)
    squared = (x**2).sum(1)
    distances = squared[:, None] + squared[None, :] - 2 * x @ x.T
    np.fill_diagonal(distances, np.inf)
    kth = np.sort(distances, axis=1)[:, 4]
    adjacency = _adjacency(dataset.store).toarray() > 0
    for node in range(0, 1797, 7):
        # Every point strictly closer than the 5th nearest must be linked (ties may go either way).
        closer = np.flatnonzero(distances[node] < kth[node] - 1e-6 * (1 + kth[node]))
        assert adjacency[node, closer].all(), node
    assert (adjacency == adjacency.T).all()
    # kNN graphs of digits are strongly homophilous.
    assert dataset.meta["edge_homophily"] > 0.9


def test_karate_matches_networkx(gnn_cache):
    import networkx as nx

    dataset = prepare_dataset(GNNDataConfig(name="karate", cache_dir=str(gnn_cache), train_fraction=0.5))
    graph = nx.karate_club_graph()
    adjacency = _adjacency(dataset.store).toarray()
    np.testing.assert_array_equal(adjacency, nx.to_numpy_array(graph, nodelist=range(34), weight=None))
    expected = [int(graph.nodes[v]["club"] == "Officer") for v in range(34)]
    np.testing.assert_array_equal(_labels(dataset), expected)


def test_rmat_labels_come_from_top_id_bits(gnn_cache):
    cfg = GNNDataConfig(name="rmat", cache_dir=str(gnn_cache), rmat_scale=10, rmat_edge_factor=8,
                        num_classes=4, num_features=4)
    dataset = prepare_dataset(cfg)
    assert dataset.num_nodes == 1024
    np.testing.assert_array_equal(_labels(dataset), np.arange(1024) >> 8)
    adjacency = _adjacency(dataset.store)
    assert (adjacency != adjacency.T).nnz == 0
    # Uniform labels would give 0.25 for 4 equal classes; R-MAT's A + D = 0.62 per bit gives more.
    assert dataset.meta["edge_homophily"] > 0.3


def test_prepare_dataset_reuses_cached_folder(gnn_cache, small_csbm):
    meta = small_csbm.folder / META_FILE
    before = meta.stat().st_mtime_ns
    again = prepare_dataset(GNNDataConfig(
        name="csbm", cache_dir=str(gnn_cache), num_nodes=2000, num_classes=4, num_features=8,
        avg_degree=8, homophily=0.8, feature_signal=1.0, train_fraction=0.5, val_fraction=0.2,
    ))
    assert again.folder == small_csbm.folder
    assert meta.stat().st_mtime_ns == before
    other = GNNDataConfig(name="csbm", cache_dir=str(gnn_cache), num_nodes=2000, homophily=0.5)
    assert dataset_folder(other) != small_csbm.folder


def test_open_dataset_picks_feature_store(small_csbm):
    assert isinstance(small_csbm.features, MemoryFeatureStore)
    on_disk = open_dataset(small_csbm.folder, "auto", memory_limit_mb=0)
    assert isinstance(on_disk.features, ZarrFeatureStore)
    ids = np.array([5, 1999, 5])
    for got, expected in zip(on_disk.features.fetch(ids), small_csbm.features.fetch(ids)):
        np.testing.assert_array_equal(got, expected)


def test_open_dataset_rejects_other_format(tmp_path, small_csbm):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_csbm.folder, copy)
    meta = json.loads((copy / META_FILE).read_text())
    meta["format_version"] = 99
    (copy / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(AtlasError, match="format 99"):
        open_dataset(copy)
    with pytest.raises(AtlasError, match="not a GNN dataset folder"):
        open_dataset(tmp_path / "missing")


@pytest.mark.parametrize(
    "changes",
    [
        dict(name="citeseer"),
        dict(train_fraction=0.7, val_fraction=0.3),
        dict(homophily=1.5),
        dict(num_classes=1),
    ],
)
def test_prepare_dataset_rejects_invalid_config(gnn_cache, changes):
    cfg = GNNDataConfig(cache_dir=str(gnn_cache), num_nodes=100, **changes)
    with pytest.raises(ConfigError):
        prepare_dataset(cfg)

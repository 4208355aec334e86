"""Graph generators behind `atlas_jax.gnn.datasets`: each builds the graph store in a folder.

Every generator writes `graph.csr` (symmetric, without self-loops or duplicate
edges) into the staging folder it is given and returns the labels and a stream of
feature blocks for `write_dataset`. Large graphs are generated block by block with
a seed per block, so memory stays bounded and the output does not depend on the
block size of the machine that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.gnn.datasets import BLOCK_ROWS, GRAPH_FILE, GeneratedParts

logger = logging.getLogger(__name__)

EDGE_BLOCK = 1 << 22  # undirected edges generated per block


def class_means(num_classes: int, num_features: int, signal: float, seed: int) -> np.ndarray:
    """float32[classes, features]: random directions scaled to length `signal`.

    With unit-variance noise, two class means lie about `signal * sqrt(2)` noise
    standard deviations apart when the feature dimension is large.
    """
    directions = np.random.default_rng([seed, 4]).standard_normal((num_classes, num_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return (signal * directions).astype(np.float32)


def gaussian_feature_blocks(
    labels: np.ndarray, means: np.ndarray, seed: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (start, features, labels) blocks with features = means[label] + N(0, I)."""
    for block, start in enumerate(range(0, len(labels), BLOCK_ROWS)):
        y = labels[start : start + BLOCK_ROWS]
        noise = np.random.default_rng([seed, 3, block]).standard_normal((len(y), means.shape[1]), dtype=np.float32)
        yield start, means[y] + noise, y


def _build_symmetric(folder: Path, src: np.ndarray, dst: np.ndarray, num_nodes: int):
    from atlas_jax.graph import build_graph

    return build_graph(
        str(folder / GRAPH_FILE),
        src=src,
        dst=dst,
        num_nodes=num_nodes,
        symmetrize=True,
        drop_self_loops=True,
        dedup=True,
        sort=True,
        remap="never",  # node ids must keep indexing the feature rows
        progress=num_nodes >= BLOCK_ROWS,
    )


def csbm(
    folder: Path,
    num_nodes: int,
    num_classes: int,
    num_features: int,
    avg_degree: float,
    homophily: float,
    feature_signal: float,
    seed: int,
) -> GeneratedParts:
    """Contextual stochastic block model with balanced classes.

    Each of `num_nodes * avg_degree / 2` undirected edges picks a uniform source. With
    probability `homophily` its target is a uniform node of the source's class, else it
    is a uniform node of another, uniformly chosen class. Self-loops and repeated edges are
    dropped when the store is built, so the final mean degree is a little below
    `avg_degree` on small graphs.
    """
    if num_nodes < num_classes:
        raise ConfigError(f"csbm needs at least one node per class, got {num_nodes} nodes for {num_classes} classes")
    rng = np.random.default_rng([seed, 0])
    labels = (rng.permutation(num_nodes) % num_classes).astype(np.int32)
    members = np.argsort(labels, kind="stable")
    class_size = np.bincount(labels, minlength=num_classes)
    class_start = np.concatenate([[0], np.cumsum(class_size)[:-1]])

    num_pairs = int(round(num_nodes * avg_degree / 2))
    id_dtype = np.int32 if num_nodes <= np.iinfo(np.int32).max else np.int64
    src = np.empty(num_pairs, dtype=id_dtype)
    dst = np.empty(num_pairs, dtype=id_dtype)
    for block, start in enumerate(range(0, num_pairs, EDGE_BLOCK)):
        count = min(EDGE_BLOCK, num_pairs - start)
        block_rng = np.random.default_rng([seed, 2, block])
        source = block_rng.integers(0, num_nodes, count)
        source_class = labels[source]
        same = block_rng.random(count) < homophily
        other = (source_class + block_rng.integers(1, num_classes, count)) % num_classes
        target_class = np.where(same, source_class, other)
        offset = np.floor(block_rng.random(count) * class_size[target_class]).astype(np.int64)
        src[start : start + count] = source
        dst[start : start + count] = members[class_start[target_class] + offset]
    _build_symmetric(folder, src, dst, num_nodes)
    del src, dst

    means = class_means(num_classes, num_features, feature_signal, seed)
    return GeneratedParts(
        num_nodes, num_classes, num_features, labels, gaussian_feature_blocks(labels, means, seed),
        extra={"generated_pairs": num_pairs},
    )


def load_source_examples(source: str, source_path: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Load all examples of a foundation dataset, flattened: (float32[n, d], int32[n], classes).

    The foundation loader splits and standardises; the splits are joined back here
    because the GNN task draws its own node splits.
    """
    from atlas_jax.config import DataConfig
    from atlas_jax.data import load_dataset

    data = load_dataset(DataConfig(name=source, path=source_path, standardize=True))
    parts = [split for split in (data.train, data.val, data.test) if split is not None and len(split.y)]
    x = np.concatenate([p.x.reshape(len(p.x), -1) for p in parts]).astype(np.float32)
    y = np.concatenate([p.y for p in parts]).astype(np.int32)
    return x, y, int(data.num_classes)


def knn(folder: Path, source: str, source_path: str | None, k: int, seed: int) -> GeneratedParts:
    """k-nearest-neighbour graph (Euclidean, on standardised features) over a real dataset."""
    from sklearn.neighbors import NearestNeighbors

    if k < 1:
        raise ConfigError(f"knn_k must be at least 1, got {k}")
    x, y, num_classes = load_source_examples(source, source_path)
    num_nodes = len(x)
    if k >= num_nodes:
        raise ConfigError(f"knn_k={k} needs more than {k} examples, {source} has {num_nodes}")
    # Ask for one extra neighbour because each point is usually its own nearest one.
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    src = np.repeat(np.arange(num_nodes, dtype=np.int32), k + 1)
    dst = neighbours.reshape(-1).astype(np.int32)
    _build_symmetric(folder, src, dst, num_nodes)

    def blocks():
        yield 0, x, y

    return GeneratedParts(num_nodes, num_classes, x.shape[1], y, blocks(), extra={"source": source})


def karate(folder: Path) -> GeneratedParts:
    """Zachary's karate club: 34 nodes, 78 edges, labelled by the club each member joined.

    Features are one-hot node ids, the usual choice for this graph.
    """
    import networkx as nx

    graph = nx.karate_club_graph()
    num_nodes = graph.number_of_nodes()
    edges = np.asarray(list(graph.edges()), dtype=np.int32)
    labels = np.asarray([graph.nodes[v]["club"] != "Mr. Hi" for v in range(num_nodes)], dtype=np.int32)
    _build_symmetric(folder, edges[:, 0], edges[:, 1], num_nodes)

    def blocks():
        yield 0, np.eye(num_nodes, dtype=np.float32), labels

    return GeneratedParts(num_nodes, 2, num_nodes, labels, blocks())


def rmat(
    folder: Path,
    scale: int,
    edge_factor: int,
    num_classes: int,
    num_features: int,
    feature_signal: float,
    seed: int,
) -> GeneratedParts:
    """Graph500 R-MAT graph from the C++ generator, with labels planted in its structure.

    The generator runs without its vertex permutation, so a node id's top bits name
    the quadrant of the recursive adjacency matrix the node sits in. With R-MAT's
    A=0.57, D=0.05, an edge stays within the same top-bit half with probability
    A + D = 0.62, so labels taken from the top bits of the id are mildly homophilous
    (meta.json records the measured edge homophily). Features are Gaussian around a
    mean per class, as in the CSBM.
    """
    from atlas_jax.graph import generate_rmat

    if num_classes & (num_classes - 1):
        raise ConfigError(f"rmat labels come from node-id bits, so num_classes must be a power of 2, got {num_classes}")
    bits = num_classes.bit_length() - 1
    if bits > scale:
        raise ConfigError(f"rmat scale {scale} has too few nodes for {num_classes} classes")
    store = generate_rmat(
        str(folder / GRAPH_FILE), scale, edge_factor, seed,
        permute=False, symmetrize=True, drop_self_loops=True, dedup=True,
    )
    num_nodes = int(store.num_nodes)
    if num_nodes != 1 << scale:
        raise AtlasError(f"R-MAT scale {scale} store has {num_nodes} nodes, expected {1 << scale}")
    labels = (np.arange(num_nodes, dtype=np.int64) >> (scale - bits)).astype(np.int32)
    means = class_means(num_classes, num_features, feature_signal, seed)
    return GeneratedParts(num_nodes, num_classes, num_features, labels, gaussian_feature_blocks(labels, means, seed))

"""Node-classification datasets on the graph store: generators and the on-disk folder.

No citation graph ships offline, so the task generates its graphs:

- `csbm`: a contextual stochastic block model. Planted classes, Gaussian features
  around a mean per class, and edges that join two nodes of the same class with
  probability `homophily`. It scales from 10^4 to 10^7 nodes, generated block by block.
- `knn`: a k-nearest-neighbour graph over the examples of a real dataset (digits, or
  Fashion-MNIST from idx files), with the real labels.
- `karate`: Zachary's karate club from networkx, labelled by club, for smoke tests.
- `rmat`: a Graph500 R-MAT graph from the C++ generator with planted labels.

A dataset is a folder:

    meta.json       name, sizes, generator parameters, measured edge homophily
    graph.csr       the graph store (symmetric, no self-loops or duplicate edges)
    features.zarr   float32[num_nodes, num_features], zarr v3
    labels.zarr     int32[num_nodes], zarr v3
    splits.npz      int64 node ids of the train, val and test splits

`prepare_dataset` generates a folder once per parameter set under the cache folder
and reopens it on later runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.gnn.config import GNNDataConfig
from atlas_jax.gnn.features import (
    FEATURES_ARRAY,
    LABELS_ARRAY,
    FeatureStore,
    MemoryFeatureStore,
    ZarrFeatureStore,
    write_zarr_features,
)

logger = logging.getLogger(__name__)

GRAPH_FILE = "graph.csr"
META_FILE = "meta.json"
SPLITS_FILE = "splits.npz"
FORMAT_VERSION = 1
BLOCK_ROWS = 1 << 20  # nodes generated per block, which bounds the generators' memory
GENERATORS = ("csbm", "knn", "karate", "rmat")

# The parameters that change each generator's output; the cache key hashes these.
_PARAMS = {
    "csbm": ("num_nodes", "num_classes", "num_features", "avg_degree", "homophily", "feature_signal"),
    "knn": ("source", "source_path", "knn_k"),
    "karate": (),
    "rmat": ("rmat_scale", "rmat_edge_factor", "num_classes", "num_features", "feature_signal"),
}
_SPLIT_PARAMS = ("train_fraction", "val_fraction", "seed")


@dataclasses.dataclass
class GraphDataset:
    """An opened dataset folder: graph store, feature store, splits and metadata."""

    folder: Path
    store: Any  # atlas_jax.graph.GraphStore
    features: FeatureStore
    splits: dict[str, np.ndarray]  # "train", "val", "test": int64 node ids
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def num_nodes(self) -> int:
        return int(self.meta["num_nodes"])

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def num_features(self) -> int:
        return int(self.meta["num_features"])


def open_dataset(
    folder: str | os.PathLike, feature_store: str = "auto", memory_limit_mb: int = 2048
) -> GraphDataset:
    """Open a dataset folder.

    Args:
        folder: a folder written by `write_dataset`.
        feature_store: "memory" loads features into RAM, "tensorstore" reads zarr chunks
            on demand, "auto" picks memory when the features take at most
            `memory_limit_mb` MiB.
        memory_limit_mb: the "auto" threshold, in MiB.

    Raises:
        AtlasError: when the folder is missing a file or was written by another format version.
    """
    from atlas_jax.graph import GraphStore

    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise AtlasError(f"{folder} is not a GNN dataset folder ({META_FILE} not found); regenerate it")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise AtlasError(
            f"{folder} has dataset format {meta.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}; delete the folder to regenerate it"
        )
    store = GraphStore.open(str(folder / GRAPH_FILE))
    with np.load(folder / SPLITS_FILE, allow_pickle=False) as archive:
        splits = {name: archive[name].astype(np.int64) for name in ("train", "val", "test")}

    if feature_store not in ("auto", "memory", "tensorstore"):
        raise ConfigError(f"unknown feature store '{feature_store}'; valid: auto, memory, tensorstore")
    feature_mb = meta["num_nodes"] * meta["num_features"] * 4 / 2**20
    zarr = ZarrFeatureStore(folder)
    if feature_store == "memory" or (feature_store == "auto" and feature_mb <= memory_limit_mb):
        features: FeatureStore = MemoryFeatureStore(*zarr.read_all())
    else:
        features = zarr
    logger.info(
        "opened %s: %d nodes, %d edges, %d features (%.0f MiB, %s), %d classes",
        meta["name"], store.num_nodes, store.num_edges, meta["num_features"], feature_mb,
        type(features).__name__, meta["num_classes"],
    )
    return GraphDataset(folder, store, features, splits, meta)


def dataset_folder(cfg: GNNDataConfig) -> Path:
    """Cache folder of the dataset that `cfg` describes: <cache_dir>/<name>-<hash of its parameters>."""
    if cfg.name not in GENERATORS:
        raise ConfigError(f"unknown gnn.data.name '{cfg.name}'; valid: {', '.join(GENERATORS)}")
    params = {key: getattr(cfg, key) for key in _PARAMS[cfg.name] + _SPLIT_PARAMS}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cfg.cache_dir) / f"{cfg.name}-{digest}"


def prepare_dataset(cfg: GNNDataConfig) -> GraphDataset:
    """Generate the dataset that `cfg` describes unless its cache folder exists, then open it."""
    folder = dataset_folder(cfg)
    if not (folder / META_FILE).is_file():
        logger.info("generating %s dataset into %s", cfg.name, folder)
        start = time.perf_counter()
        generate_dataset(cfg, folder)
        logger.info("generated %s in %.1f s", folder, time.perf_counter() - start)
    return open_dataset(folder, cfg.feature_store, cfg.feature_memory_limit_mb)


def generate_dataset(cfg: GNNDataConfig, folder: Path) -> None:
    """Run the generator that `cfg.name` names and write its folder."""
    from atlas_jax.gnn import generators

    check_data_config(cfg)
    params = {key: getattr(cfg, key) for key in _PARAMS[cfg.name] + _SPLIT_PARAMS}
    with _staging_folder(folder) as tmp:
        if cfg.name == "csbm":
            parts = generators.csbm(
                tmp, cfg.num_nodes, cfg.num_classes, cfg.num_features, cfg.avg_degree,
                cfg.homophily, cfg.feature_signal, cfg.seed,
            )
        elif cfg.name == "knn":
            parts = generators.knn(tmp, cfg.source, cfg.source_path, cfg.knn_k, cfg.seed)
        elif cfg.name == "karate":
            parts = generators.karate(tmp)
        else:
            parts = generators.rmat(
                tmp, cfg.rmat_scale, cfg.rmat_edge_factor, cfg.num_classes, cfg.num_features,
                cfg.feature_signal, cfg.seed,
            )
        write_dataset(tmp, parts, name=cfg.name, params=params,
                      train_fraction=cfg.train_fraction, val_fraction=cfg.val_fraction, seed=cfg.seed)


def check_data_config(cfg: GNNDataConfig) -> None:
    """Raise ConfigError on values that no generator accepts."""
    if not 0.0 < cfg.train_fraction < 1.0 or not 0.0 <= cfg.val_fraction < 1.0:
        raise ConfigError(
            f"train_fraction and val_fraction must lie in (0, 1), got {cfg.train_fraction} and {cfg.val_fraction}"
        )
    if cfg.train_fraction + cfg.val_fraction >= 1.0:
        raise ConfigError(
            f"train_fraction + val_fraction = {cfg.train_fraction + cfg.val_fraction} leaves no test nodes; "
            "make their sum less than 1"
        )
    if not 0.0 <= cfg.homophily <= 1.0:
        raise ConfigError(f"homophily must lie in [0, 1], got {cfg.homophily}")
    if cfg.num_classes < 2:
        raise ConfigError(f"num_classes must be at least 2, got {cfg.num_classes}")


@dataclasses.dataclass
class GeneratedParts:
    """What a generator produced: the graph store already in place, features still to write."""

    num_nodes: int
    num_classes: int
    num_features: int
    labels: np.ndarray  # int32[num_nodes]
    feature_blocks: Iterator[tuple[int, np.ndarray, np.ndarray]]  # (start, float32[rows, F], int32[rows])
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # generator facts for meta.json


def write_dataset(
    folder: Path,
    parts: GeneratedParts,
    *,
    name: str,
    params: dict[str, Any],
    train_fraction: float,
    val_fraction: float,
    seed: int,
    chunk_rows: int = 1024,
) -> None:
    """Write features, splits and metadata next to the graph store that a generator built in `folder`."""
    from atlas_jax.graph import GraphStore

    store = GraphStore.open(str(folder / GRAPH_FILE))
    if store.num_nodes != parts.num_nodes:
        raise AtlasError(f"graph store has {store.num_nodes} nodes, the labels cover {parts.num_nodes}")
    _write_features(folder, parts, chunk_rows)

    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(parts.num_nodes)
    num_train = max(1, int(round(train_fraction * parts.num_nodes)))
    num_val = int(round(val_fraction * parts.num_nodes))
    np.savez(
        folder / SPLITS_FILE,
        train=np.sort(order[:num_train]),
        val=np.sort(order[num_train : num_train + num_val]),
        test=np.sort(order[num_train + num_val :]),
    )

    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "num_nodes": parts.num_nodes,
        "num_edges": int(store.num_edges),
        "num_classes": parts.num_classes,
        "num_features": parts.num_features,
        "edge_homophily": edge_homophily(store.indptr, store.indices, parts.labels),
        "params": params,
        **parts.extra,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def _write_features(folder: Path, parts: GeneratedParts, chunk_rows: int) -> None:
    # write_zarr_features replaces a folder atomically; here the whole dataset folder is
    # already a staging folder, so write into it directly.
    target = folder / "_zarr"
    write_zarr_features(target, parts.num_nodes, parts.num_features, parts.feature_blocks, chunk_rows=chunk_rows)
    for array in (FEATURES_ARRAY, LABELS_ARRAY):
        os.replace(target / array, folder / array)
    shutil.rmtree(target)


def edge_homophily(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of edges whose two ends share a label, computed block by block."""
    num_nodes = len(indptr) - 1
    same = 0
    for start in range(0, num_nodes, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, num_nodes)
        lo, hi = int(indptr[start]), int(indptr[stop])
        rows = np.repeat(np.arange(start, stop), np.diff(np.asarray(indptr[start : stop + 1])))
        same += int(np.count_nonzero(labels[rows] == labels[np.asarray(indices[lo:hi])]))
    total = int(indptr[-1])
    return same / total if total else 0.0


class _staging_folder:
    """Context manager: yields `<folder>.tmp-<pid>` and renames it to `folder` on success."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")

    def __enter__(self) -> Path:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            os.replace(self.tmp, self.folder)
        except OSError:
            # Another process finished the same dataset first; keep its copy.
            if not (self.folder / META_FILE).is_file():
                raise
            shutil.rmtree(self.tmp, ignore_errors=True)

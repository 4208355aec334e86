"""GNN node classification on the graph store: models, static-shape batches, input pipeline, training.

`atlas_jax.config` imports `atlas_jax.gnn.config` when the `atlas` command starts,
so this package loads its heavy modules (JAX, grain, tensorstore) only when one of
the names below is first used.
"""

from __future__ import annotations

from atlas_jax._lazy import lazy_getattr

_EXPORTS = {
    "BatchLayout": "atlas_jax.gnn.batching",
    "pad_subgraph": "atlas_jax.gnn.batching",
    "full_graph_batch": "atlas_jax.gnn.batching",
    "to_graphs_tuple": "atlas_jax.gnn.batching",
    "GNN": "atlas_jax.gnn.models",
    "NodeMLP": "atlas_jax.gnn.models",
    "create_gnn": "atlas_jax.gnn.models",
    "MemoryFeatureStore": "atlas_jax.gnn.features",
    "ZarrFeatureStore": "atlas_jax.gnn.features",
    "write_zarr_features": "atlas_jax.gnn.features",
    "GraphDataset": "atlas_jax.gnn.datasets",
    "open_dataset": "atlas_jax.gnn.datasets",
    "prepare_dataset": "atlas_jax.gnn.datasets",
    "SubgraphBatcher": "atlas_jax.gnn.pipeline",
    "train_dataset": "atlas_jax.gnn.pipeline",
    "eval_dataset": "atlas_jax.gnn.pipeline",
    "make_train_step": "atlas_jax.gnn.steps",
    "create_data_mesh": "atlas_jax.gnn.steps",
    "RunOptions": "atlas_jax.gnn.trainer",
    "TrainResult": "atlas_jax.gnn.trainer",
    "train_gnn": "atlas_jax.gnn.trainer",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)

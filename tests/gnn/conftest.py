"""Fixtures of the GNN tests: small generated datasets, built once per session."""

import pytest

from atlas_jax.gnn.config import GNNDataConfig
from atlas_jax.gnn.datasets import prepare_dataset


@pytest.fixture(scope="session")
def gnn_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gnn_cache")


@pytest.fixture(scope="session")
def small_csbm(gnn_cache):
    """2,000-node CSBM with 4 classes and 8 features, in memory."""
    cfg = GNNDataConfig(
        name="csbm", cache_dir=str(gnn_cache), num_nodes=2000, num_classes=4, num_features=8,
        avg_degree=8, homophily=0.8, feature_signal=1.0, train_fraction=0.5, val_fraction=0.2,
    )
    return prepare_dataset(cfg)

"""Feature stores: zarr v3 through tensorstore and in memory return the rows of the requested ids."""

import numpy as np
import pytest

from atlas_jax.errors import AtlasError
from atlas_jax.gnn.features import MemoryFeatureStore, ZarrFeatureStore, write_zarr_features


def _blocks(features, labels, rows):
    for start in range(0, len(labels), rows):
        yield start, features[start : start + rows], labels[start : start + rows]


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.standard_normal((1000, 7)).astype(np.float32), rng.integers(0, 5, 1000).astype(np.int32)


@pytest.mark.parametrize("cache_bytes", [0, 1 << 20])
def test_zarr_store_fetches_requested_rows(tmp_path, arrays, cache_bytes):
    features, labels = arrays
    write_zarr_features(tmp_path / "data", 1000, 7, _blocks(features, labels, 300), chunk_rows=64)
    store = ZarrFeatureStore(tmp_path / "data", cache_bytes=cache_bytes)
    assert (store.num_nodes, store.num_features, store.chunk_rows) == (1000, 7, 64)
    ids = np.array([999, 3, 3, 500, 0, 64, 63, 999])  # unsorted, repeated, chunk edges
    x, y = store.fetch(ids)
    np.testing.assert_array_equal(x, features[ids])
    np.testing.assert_array_equal(y, labels[ids])
    all_x, all_y = store.read_all()
    np.testing.assert_array_equal(all_x, features)
    np.testing.assert_array_equal(all_y, labels)


def test_zarr_store_fetches_empty_request(tmp_path, arrays):
    write_zarr_features(tmp_path / "data", 1000, 7, _blocks(*arrays, 1000))
    x, y = ZarrFeatureStore(tmp_path / "data").fetch(np.zeros(0, np.int64))
    assert x.shape == (0, 7)
    assert y.shape == (0,)


@pytest.mark.parametrize("bad_id", [-1, 1000])
def test_stores_reject_out_of_range_id(tmp_path, arrays, bad_id):
    write_zarr_features(tmp_path / "data", 1000, 7, _blocks(*arrays, 1000))
    for store in (ZarrFeatureStore(tmp_path / "data"), MemoryFeatureStore(*arrays)):
        with pytest.raises(IndexError, match=str(bad_id)):
            store.fetch(np.array([0, bad_id]))


def test_write_rejects_incomplete_blocks(tmp_path, arrays):
    features, labels = arrays
    with pytest.raises(AtlasError, match="covered 300 rows"):
        write_zarr_features(tmp_path / "data", 1000, 7, _blocks(features[:300], labels[:300], 100))
    assert list(tmp_path.iterdir()) == []


def test_zarr_store_reports_missing_folder(tmp_path):
    with pytest.raises(AtlasError, match="cannot open zarr features"):
        ZarrFeatureStore(tmp_path / "missing")


def test_memory_store_matches_numpy(arrays):
    features, labels = arrays
    ids = np.array([5, 1, 5, 999])
    x, y = MemoryFeatureStore(features, labels).fetch(ids)
    np.testing.assert_array_equal(x, features[ids])
    np.testing.assert_array_equal(y, labels[ids])

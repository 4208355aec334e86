"""Reader: header validation, zero-copy views, bounds checks and batched lookups."""

import gc

import numpy as np
import pytest

from atlas_jax import _core
from atlas_jax.graph import GraphFormatError, GraphStore, build_graph, info

from ._reference import random_edges


@pytest.fixture
def store_path(tmp_path, rng):
    src, dst = random_edges(rng, 500, 4000)
    build_graph(tmp_path / "g.csr", src=src, dst=dst, num_nodes=500, weights=rng.random(src.size),
                progress=False)
    return tmp_path / "g.csr"


def test_open_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csr"):
        GraphStore.open(tmp_path / "missing.csr")


def test_open_truncated_raises_format_error(tmp_path, store_path):
    data = store_path.read_bytes()
    for size in (0, 10, 247, 4096, len(data) - 1):
        (tmp_path / "cut.csr").write_bytes(data[:size])
        with pytest.raises(GraphFormatError):
            GraphStore.open(tmp_path / "cut.csr")


def test_open_rejects_other_files(tmp_path):
    (tmp_path / "text.csr").write_bytes(b"hello world" * 100)
    with pytest.raises(GraphFormatError, match="not an atlas graph store"):
        GraphStore.open(tmp_path / "text.csr")
    with pytest.raises(GraphFormatError, match="not a regular file"):
        GraphStore.open(tmp_path)


def test_open_header_bit_flip_fails_checksum(tmp_path, store_path):
    data = bytearray(store_path.read_bytes())
    data[40] ^= 0x01  # inside num_nodes
    (tmp_path / "bad.csr").write_bytes(bytes(data))
    with pytest.raises(GraphFormatError, match="CRC-32"):
        GraphStore.open(tmp_path / "bad.csr")


def test_verify_detects_section_damage(tmp_path, store_path):
    data = bytearray(store_path.read_bytes())
    header = GraphStore.open(store_path).info()["sections"]
    for name in ("indptr", "indices", "weights"):
        damaged = bytearray(data)
        damaged[header[name]["offset"] + 8 * 10 + 2] ^= 0x10  # past indptr[0], checked on every open
        path = tmp_path / f"bad_{name}.csr"
        path.write_bytes(bytes(damaged))
        with pytest.raises(GraphFormatError, match=f"section {name}"):
            GraphStore.open(path, verify=True)
    padded = bytearray(data)
    padded[header["indptr"]["offset"] + header["indptr"]["nbytes"] + 1] = 7
    (tmp_path / "pad.csr").write_bytes(bytes(padded))
    with pytest.raises(GraphFormatError, match="padding"):
        GraphStore.open(tmp_path / "pad.csr", verify=True)


def test_neighbors_is_readonly_zero_copy_view(store_path):
    store = GraphStore.open(store_path)
    v = int(np.argmax(np.diff(store.indptr)))
    view = store.neighbors(v)
    assert not view.flags.writeable
    assert not view.flags.owndata
    assert np.shares_memory(view, store.indices)
    with pytest.raises(ValueError):
        view[0] = 1


def test_views_keep_mapping_alive(store_path):
    store = GraphStore.open(store_path)
    v = int(np.argmax(np.diff(store.indptr)))
    expected = store.neighbors(v).copy()
    view = store.neighbors(v)
    indptr = store.indptr
    del store
    gc.collect()
    np.testing.assert_array_equal(view, expected)
    assert indptr[-1] > 0


def test_out_of_range_raises_index_error_naming_id(store_path):
    store = GraphStore.open(store_path)
    for bad in (500, -1, 10**12):
        with pytest.raises(IndexError, match=f"node id {bad} is out of range"):
            store.neighbors(bad)
        with pytest.raises(IndexError, match=f"node id {bad}"):
            store.degree(bad)
    with pytest.raises(IndexError, match="node id 777"):
        store.degrees(np.array([1, 777]))


def test_batched_lookups_match_single(store_path, rng):
    store = GraphStore.open(store_path)
    ids = rng.integers(0, store.num_nodes, size=50)
    degrees = store.degrees(ids)
    offsets, flat = store.neighbors_batch(ids)
    for i, v in enumerate(ids):
        assert degrees[i] == store.degree(v)
        np.testing.assert_array_equal(flat[offsets[i]:offsets[i + 1]], store.neighbors(v))


def test_indices_dtype_and_weights(store_path):
    store = GraphStore.open(store_path)
    assert store.indptr.dtype == np.int64
    assert store.indices.dtype == np.int32
    assert store.weights.dtype == np.float32
    assert store.edge_weights(3).shape == store.neighbors(3).shape
    assert store.edge_types is None
    assert store.node_edge_types(3) is None


def test_info_reports_layout(store_path):
    summary = info(store_path)
    assert summary["num_nodes"] == 500
    assert summary["num_edges"] == 4000
    assert summary["has_weights"]
    assert summary["sections"]["indptr"]["offset"] % 4096 == 0
    assert summary["sections"]["indices"]["offset"] % 4096 == 0
    assert summary["max_degree"] == int(np.diff(GraphStore.open(store_path).indptr).max())


def test_header_crc_matches_zlib(store_path):
    import zlib

    data = bytearray(store_path.read_bytes()[:248])
    recorded = int.from_bytes(data[244:248], "little")
    data[244:248] = b"\0\0\0\0"
    assert zlib.crc32(bytes(data)) == recorded
    assert _core.crc32(bytes(data)) == recorded


def test_advise_rejects_unknown_names(store_path):
    store = GraphStore.open(store_path)
    store.advise("indices", "willneed")
    store.advise("all", "normal")
    with pytest.raises(ValueError, match="unknown section"):
        store.advise("nope", "random")
    with pytest.raises(ValueError, match="unknown madvise advice"):
        store.advise("indices", "fast")

"""Builder output against a scipy.sparse reference, for arrays and every file format."""

import os

import numpy as np
import pytest

from atlas_jax.errors import ConfigError
from atlas_jax.graph import GraphInputError, GraphStore, build_graph

from ._reference import random_edges, reference_neighbors

OPTION_CASES = [
    dict(),
    dict(symmetrize=True),
    dict(drop_self_loops=True),
    dict(dedup=True),
    dict(symmetrize=True, drop_self_loops=True, dedup=True),
]


def assert_matches_reference(store, src, dst, num_nodes, **options):
    expected = reference_neighbors(src, dst, num_nodes, **options)
    assert store.num_nodes == num_nodes
    assert store.num_edges == sum(len(e) for e in expected)
    assert store.indptr[0] == 0
    assert store.indptr[-1] == store.num_edges
    for v in range(num_nodes):
        np.testing.assert_array_equal(store.neighbors(v), expected[v], err_msg=f"node {v}")


@pytest.mark.parametrize("options", OPTION_CASES, ids=lambda o: "-".join(o) or "plain")
def test_build_arrays_matches_scipy(tmp_path, rng, options):
    src, dst = random_edges(rng, 300, 2000)
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, num_nodes=300, progress=False, **options)
    assert_matches_reference(store, src, dst, 300, **options)
    # Nodes 150..299 only receive edges, so many are isolated unless symmetrised.
    if not options.get("symmetrize"):
        assert (np.diff(store.indptr)[150:] == 0).all()


@pytest.mark.parametrize("options", OPTION_CASES, ids=lambda o: "-".join(o) or "plain")
def test_build_many_buckets_matches_scipy(tmp_path, rng, options):
    # A 300 KiB budget over ~500k stored edges (4 bytes each) forces several fill passes.
    src, dst = random_edges(rng, 5000, 250_000)
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, memory="300KB", progress=False, **options)
    assert_matches_reference(store, src, dst, int(max(src.max(), dst.max())) + 1, **options)


def test_build_counts_multiple_passes(tmp_path, rng):
    src, dst = random_edges(rng, 5000, 250_000)
    passes = set()
    build_graph(tmp_path / "g.csr", src=src, dst=dst, memory="300KB",
                progress=lambda phase, p, n, done, total, secs: passes.add((phase, p)))
    assert len([p for p in passes if p[0] == "fill"]) > 1


def test_build_isolated_nodes_and_empty_graph(tmp_path):
    store = build_graph(tmp_path / "g.csr", src=np.array([3]), dst=np.array([1]), num_nodes=10, progress=False)
    assert store.num_nodes == 10
    assert [store.degree(v) for v in range(10)] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    empty = build_graph(tmp_path / "e.csr", src=np.zeros(0, np.int64), dst=np.zeros(0, np.int64), progress=False)
    assert empty.num_nodes == 0
    assert empty.num_edges == 0
    np.testing.assert_array_equal(empty.indptr, [0])
    GraphStore.open(tmp_path / "e.csr", verify=True)


def test_build_unsorted_keeps_input_order(tmp_path):
    src = np.array([0, 0, 0, 1])
    dst = np.array([3, 1, 2, 0])
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, sort=False, progress=False)
    np.testing.assert_array_equal(store.neighbors(0), [3, 1, 2])
    assert not store.info()["sorted"]


def test_build_weights_and_types_follow_edges(tmp_path, rng):
    src, dst = random_edges(rng, 200, 3000)
    weights = rng.random(src.size).astype(np.float32)
    types = rng.integers(0, 300, size=src.size)
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, weights=weights, edge_types=types,
                        symmetrize=True, progress=False)
    assert store.has_weights and store.has_edge_types
    assert store.edge_types.dtype == np.uint16
    # Every stored (v, u, w, t) must come from an input edge (v, u) or, symmetrised, (u, v).
    expected = {}
    for s, d, w, t in zip(src.tolist(), dst.tolist(), weights.tolist(), types.tolist()):
        expected.setdefault((s, d), []).append((w, t))
        if s != d:
            expected.setdefault((d, s), []).append((w, t))
    for v in range(store.num_nodes):
        got = sorted(zip(store.neighbors(v).tolist(), store.edge_weights(v).tolist(),
                         store.node_edge_types(v).tolist()))
        want = sorted((u, w, t) for (a, u), attrs in expected.items() if a == v for w, t in attrs)
        assert got == want, f"node {v}"


def test_build_dedup_keeps_first_weight_per_type(tmp_path):
    src = np.array([0, 0, 0, 0, 1])
    dst = np.array([2, 2, 2, 1, 0])
    weights = np.array([0.5, 0.25, 0.75, 1.0, 2.0], dtype=np.float32)
    types = np.array([1, 1, 0, 3, 0])
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, weights=weights, edge_types=types, dedup=True,
                        progress=False)
    np.testing.assert_array_equal(store.neighbors(0), [1, 2, 2])
    np.testing.assert_array_equal(store.node_edge_types(0), [3, 0, 1])
    np.testing.assert_array_equal(store.edge_weights(0), [1.0, 0.75, 0.5])
    assert store.edge_types.dtype == np.uint8


def test_build_sparse_ids_remaps(tmp_path, rng):
    ids = np.unique(rng.integers(0, 10**15, size=400))
    src_pos = rng.integers(0, ids.size, size=1500)
    dst_pos = rng.integers(0, ids.size, size=1500)
    src, dst = ids[src_pos], ids[dst_pos]
    store = build_graph(tmp_path / "g.csr", src=src, dst=dst, symmetrize=True, progress=False)
    assert store.has_id_map
    present = np.unique(np.concatenate([src, dst]))
    np.testing.assert_array_equal(store.id_map, present)
    # Compare in dense positions of the sorted distinct ids.
    dense_src = np.searchsorted(present, src)
    dense_dst = np.searchsorted(present, dst)
    assert_matches_reference(store, dense_src, dense_dst, present.size, symmetrize=True)
    np.testing.assert_array_equal(store.store_ids(present[:5]), np.arange(5))
    assert store.store_ids(np.array([present[0] + 1]))[0] == -1 or present[1] == present[0] + 1
    np.testing.assert_array_equal(store.input_ids(np.arange(3)), present[:3])


def test_build_remap_never_keeps_ids(tmp_path):
    store = build_graph(tmp_path / "g.csr", src=np.array([0]), dst=np.array([999]), remap="never", progress=False)
    assert store.num_nodes == 1000
    assert not store.has_id_map


def test_build_rejects_bad_ids(tmp_path):
    with pytest.raises(GraphInputError, match="negative"):
        build_graph(tmp_path / "g.csr", src=np.array([0, -3]), dst=np.array([1, 1]), progress=False)
    with pytest.raises(GraphInputError, match="outside 0..4"):
        build_graph(tmp_path / "g.csr", src=np.array([0, 7]), dst=np.array([1, 1]), num_nodes=5, progress=False)
    with pytest.raises(ConfigError, match="differ in length"):
        build_graph(tmp_path / "g.csr", src=np.array([0, 1]), dst=np.array([1]), progress=False)
    with pytest.raises(GraphInputError, match="non-finite"):
        build_graph(tmp_path / "g.csr", src=np.array([0]), dst=np.array([1]), weights=np.array([np.nan]),
                    progress=False)
    assert not os.listdir(tmp_path)


def test_build_interrupted_leaves_nothing(tmp_path, rng):
    src, dst = random_edges(rng, 5000, 250_000)

    def stop(phase, pass_index, num_passes, done, total, seconds):
        if phase == "fill":
            raise KeyboardInterrupt

    out = tmp_path / "g.csr"
    with pytest.raises(KeyboardInterrupt):
        build_graph(out, src=src, dst=dst, memory="300KB", progress=stop)
    assert not os.listdir(tmp_path), "temporary files were left behind"


def test_build_interrupted_keeps_previous_store(tmp_path):
    out = tmp_path / "g.csr"
    build_graph(out, src=np.array([0]), dst=np.array([1]), progress=False)
    before = out.read_bytes()

    def stop(*args):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        build_graph(out, src=np.array([0, 1]), dst=np.array([1, 2]), progress=stop)
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["g.csr"]


TEXT_INPUT = """# SNAP-style header
% another comment style
0\t1
0 2
1,2
  2 ,  0
3\t3\r
\n
4 0
"""


def test_build_text_matches_arrays(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_text(TEXT_INPUT)
    store = build_graph(tmp_path / "g.csr", input_path=path, progress=False)
    assert_matches_reference(store, [0, 0, 1, 2, 3, 4], [1, 2, 2, 0, 3, 0], 5)


def test_build_text_weights_and_types(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("0,1,0.5,2\n0,2,1.5,1\n1,0,2e-1,0\n")
    store = build_graph(tmp_path / "g.csr", input_path=path, weights=True, edge_types=True, progress=False)
    np.testing.assert_array_equal(store.neighbors(0), [1, 2])
    np.testing.assert_allclose(store.edge_weights(0), [0.5, 1.5])
    np.testing.assert_array_equal(store.node_edge_types(0), [2, 1])
    np.testing.assert_allclose(store.edge_weights(1), [0.2], rtol=1e-7)


def test_build_text_error_names_line(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_text("0 1\n# fine\n2 x\n")
    with pytest.raises(GraphInputError, match=r"edges.txt:3: destination id is not an integer in line '2 x'"):
        build_graph(tmp_path / "g.csr", input_path=path, progress=False)
    assert os.listdir(tmp_path) == ["edges.txt"]


def test_build_large_text_many_buckets(tmp_path, rng):
    src, dst = random_edges(rng, 4000, 200_000)
    path = tmp_path / "edges.tsv"
    np.savetxt(path, np.stack([src, dst], axis=1), fmt="%d", delimiter="\t")
    store = build_graph(tmp_path / "g.csr", input_path=path, memory="300KB", dedup=True, progress=False)
    assert_matches_reference(store, src, dst, int(max(src.max(), dst.max())) + 1, dedup=True)


@pytest.mark.parametrize("layout", ["m2", "2m", "m2_fortran", "int32"])
def test_build_npy_layouts(tmp_path, rng, layout):
    src, dst = random_edges(rng, 100, 700)
    if layout == "m2":
        array = np.stack([src, dst], axis=1)
    elif layout == "2m":
        array = np.stack([src, dst], axis=0)
    elif layout == "m2_fortran":
        array = np.asfortranarray(np.stack([src, dst], axis=1))
    else:
        array = np.stack([src, dst], axis=1).astype(np.int32)
    np.save(tmp_path / "edges.npy", array)
    store = build_graph(tmp_path / "g.csr", input_path=tmp_path / "edges.npy", num_nodes=100, progress=False)
    assert_matches_reference(store, src, dst, 100)


@pytest.mark.parametrize("dtype,fmt", [(np.int32, "bin32"), (np.int64, "bin64")])
def test_build_binary_pairs(tmp_path, rng, dtype, fmt):
    src, dst = random_edges(rng, 100, 700)
    np.stack([src, dst], axis=1).astype(dtype).tofile(tmp_path / "edges.bin")
    store = build_graph(tmp_path / "g.csr", input_path=tmp_path / "edges.bin", input_format=fmt, num_nodes=100,
                        symmetrize=True, progress=False)
    assert_matches_reference(store, src, dst, 100, symmetrize=True)


def test_build_binary_rejects_odd_size(tmp_path):
    (tmp_path / "edges.bin").write_bytes(b"\0" * 12)
    with pytest.raises(GraphInputError, match="not a multiple of the 16-byte"):
        build_graph(tmp_path / "g.csr", input_path=tmp_path / "edges.bin", input_format="bin64", progress=False)


def test_build_unknown_suffix_needs_format(tmp_path):
    (tmp_path / "edges.dat").write_bytes(b"")
    with pytest.raises(ConfigError, match="input_format"):
        build_graph(tmp_path / "g.csr", input_path=tmp_path / "edges.dat", progress=False)


@pytest.mark.parametrize("change", ["append", "move"])
def test_build_detects_input_changed_between_passes(tmp_path, change):
    path = tmp_path / "edges.txt"
    path.write_text("0 1\n0 2\n1 2\n2 0\n")

    def rewrite_after_count(phase, pass_index, num_passes, done, total, seconds):
        if phase == "count" and done == total:
            if change == "append":
                path.write_text("0 1\n0 2\n1 2\n2 0\n2 1\n")
            else:  # same edge count, one edge moved from node 0 to node 1
                path.write_text("0 1\n1 0\n1 2\n2 0\n")

    with pytest.raises(GraphInputError, match="input changed during the build"):
        build_graph(tmp_path / "g.csr", input_path=path, num_nodes=3, progress=rewrite_after_count)
    assert sorted(os.listdir(tmp_path)) == ["edges.txt"]


def test_build_text_rejects_binary_file(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_bytes(bytes(b for b in range(1, 256) if b != ord("\n")) * 1000)  # 254 kB, no newline
    with pytest.raises(GraphInputError, match="longer than 65536 bytes"):
        build_graph(tmp_path / "g.csr", input_path=path, progress=False)

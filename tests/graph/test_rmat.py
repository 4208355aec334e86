"""R-MAT generator: determinism, quadrant probabilities, permutation and streamed build."""

import numpy as np
import pytest

from atlas_jax.graph import build_graph, generate_rmat, rmat_edges


def test_rmat_ranges_are_consistent():
    src, dst = rmat_edges(10, 4, seed=5)
    assert src.size == 4 << 10
    part_src, part_dst = rmat_edges(10, 4, seed=5, first=1000, count=77)
    np.testing.assert_array_equal(part_src, src[1000:1077])
    np.testing.assert_array_equal(part_dst, dst[1000:1077])
    assert src.min() >= 0
    assert dst.min() >= 0
    assert max(src.max(), dst.max()) < 1 << 10
    other, _ = rmat_edges(10, 4, seed=6)
    assert not np.array_equal(other, src)


def test_rmat_quadrant_frequencies():
    scale = 12
    src, dst = rmat_edges(scale, 16, seed=1, permute=False)
    top = scale - 1
    row = (src >> top) & 1
    col = (dst >> top) & 1
    n = src.size
    # 65536 edges: binomial sd <= 0.002; allow 0.01 (5 sd). Probabilities are the Graph500 A, B, C, D.
    expected = {(0, 0): 0.57, (0, 1): 0.19, (1, 0): 0.19, (1, 1): 0.05}
    for (r, c), p in expected.items():
        assert abs(np.mean((row == r) & (col == c)) - p) < 0.01, (r, c)
    assert np.count_nonzero((row == 0) & (col == 0)) / n > 0.5


def test_rmat_permutation_is_bijection():
    plain_src, plain_dst = rmat_edges(10, 8, seed=2, permute=False)
    perm_src, perm_dst = rmat_edges(10, 8, seed=2, permute=True)
    # The same edge's endpoints are relabelled consistently: the map must be a function and injective.
    mapping = {}
    for a, b in zip(np.concatenate([plain_src, plain_dst]).tolist(), np.concatenate([perm_src, perm_dst]).tolist()):
        assert mapping.setdefault(a, b) == b
    assert len(set(mapping.values())) == len(mapping)
    # Degree 0 is not left at the high ids as it is without the permutation.
    np.testing.assert_array_equal(np.sort(np.bincount(plain_src, minlength=1024)),
                                  np.sort(np.bincount(perm_src, minlength=1024)))


@pytest.mark.parametrize("symmetrize", [False, True])
def test_generate_rmat_matches_array_build(tmp_path, symmetrize):
    # Directed builds let the generator skip edges outside each bucket; both paths must give the same store.
    passes = set()
    streamed = generate_rmat(tmp_path / "r.csr", 12, 16, seed=9, symmetrize=symmetrize, memory="100KB",
                             progress=lambda phase, p, n, *rest: passes.add((phase, p)))
    assert len([p for p in passes if p[0] == "fill"]) >= 3
    src, dst = rmat_edges(12, 16, seed=9)
    reference = build_graph(tmp_path / "a.csr", src=src, dst=dst, num_nodes=1 << 12, symmetrize=symmetrize,
                            progress=False)
    np.testing.assert_array_equal(streamed.indptr, reference.indptr)
    np.testing.assert_array_equal(streamed.indices, reference.indices)

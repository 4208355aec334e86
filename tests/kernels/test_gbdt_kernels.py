"""The C++ GBDT kernels against their pure-JAX references and numpy brute force."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from atlas_jax.kernels import gbdt_histogram, gbdt_split

pytestmark = pytest.mark.skipif(not gbdt_histogram.cpp_available(), reason="C++ GBDT kernels not built")


def _rows(rows=3000, features=5, num_bins=17, slots=4, seed=0):
    rng = np.random.default_rng(seed)
    bins = rng.integers(0, num_bins, (rows, features), dtype=np.uint8)
    grad = rng.normal(size=rows).astype(np.float32)
    hess = rng.random(rows).astype(np.float32)
    slot = rng.integers(-1, slots + 1, rows).astype(np.int32)  # includes skipped -1 and out-of-range `slots`
    return bins, grad, hess, slot


def _brute_histogram(bins, grad, hess, slot, slots, num_bins):
    hist = np.zeros((slots, bins.shape[1], num_bins, 2))
    for r in range(bins.shape[0]):
        if 0 <= slot[r] < slots:
            for f in range(bins.shape[1]):
                hist[slot[r], f, bins[r, f]] += (grad[r], hess[r])
    return hist


@pytest.mark.parametrize("rows", [1, 3000, 40000])
def test_histogram_cpp_matches_brute_force(rows):
    bins, grad, hess, slot = _rows(rows=rows)
    want = _brute_histogram(bins, grad, hess, slot, 4, 17)
    got = jax.jit(lambda *a: gbdt_histogram.histogram_cpp(*a, num_slots=4, num_bins=17))(bins, grad, hess, slot)
    # float64 accumulation rounded once to float32
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-5)


def test_histogram_reference_matches_cpp():
    bins, grad, hess, slot = _rows(rows=20000, features=7, num_bins=256, slots=3)
    ref = gbdt_histogram.histogram_reference(*map(jnp.asarray, (bins, grad, hess, slot)), num_slots=3, num_bins=256)
    cpp = gbdt_histogram.histogram_cpp(*map(jnp.asarray, (bins, grad, hess, slot)), num_slots=3, num_bins=256)
    # the reference sums in float32: about 1e-7 relative error per add over ~30 rows per bin
    np.testing.assert_allclose(np.asarray(ref), np.asarray(cpp), rtol=1e-5, atol=1e-4)


def test_histogram_cpp_threads_agree():
    bins, grad, hess, slot = _rows(rows=50000)
    one = gbdt_histogram.histogram_cpp(bins, grad, hess, slot, 4, 17, num_threads=1)
    four = gbdt_histogram.histogram_cpp(bins, grad, hess, slot, 4, 17, num_threads=4)
    np.testing.assert_allclose(np.asarray(one), np.asarray(four), rtol=1e-6, atol=1e-5)


def test_histogram_cpp_rejects_bad_bin():
    bins, grad, hess, slot = _rows(rows=100, num_bins=17)
    bins[5, 2] = 40
    slot[5] = 0
    with pytest.raises(Exception, match="bin code 40 is out of range"):
        jax.block_until_ready(gbdt_histogram.histogram_cpp(bins, grad, hess, slot, 4, 17))


def test_histogram_auto_uses_cpp_on_cpu():
    bins, grad, hess, slot = _rows(rows=500)
    text = jax.jit(lambda *a: gbdt_histogram.histogram(*a, num_slots=4, num_bins=17)).lower(
        bins, grad, hess, slot).as_text()
    assert gbdt_histogram.FFI_TARGET in text


def _brute_split(hist, mask, value_bins, lam, mcw):
    best = (-np.inf, 0, 1, 1)
    nodes, features, num_bins, _ = hist.shape
    out = []
    for n in range(nodes):
        best = (-np.inf, 0, 1, 1, 0, 0, 0, 0)
        for f in range(features):
            if not mask[f]:
                continue
            g, h = hist[n, f, :, 0].astype(np.float64), hist[n, f, :, 1].astype(np.float64)
            G, H = g.sum(), h.sum()
            for t in range(1, min(num_bins - 1, value_bins[f] - 1) + 1):
                for side in (0, 1):
                    lg = g[1 : t + 1].sum() + (g[0] if side == 0 else 0)
                    lh = h[1 : t + 1].sum() + (h[0] if side == 0 else 0)
                    rg, rh = G - lg, H - lh
                    if min(lh, rh) < mcw or min(lh, rh) <= 0:
                        continue
                    gain = lg**2 / (lh + lam) + rg**2 / (rh + lam) - G**2 / (H + lam)
                    if gain > best[0]:
                        best = (gain, f, t, int(side == 0), lg, lh, rg, rh)
        out.append(best)
    return np.asarray(out)


def _random_hist(nodes=6, features=5, num_bins=12, seed=1):
    rng = np.random.default_rng(seed)
    hist = np.stack([rng.normal(size=(nodes, features, num_bins)), rng.random((nodes, features, num_bins)) * 3], -1)
    hist[1, :, 0] = 0.0  # a node with no missing values
    return hist.astype(np.float32)


@pytest.mark.parametrize("impl", ["cpp", "jax"])
def test_split_matches_brute_force(impl):
    hist = _random_hist()
    mask = np.array([True, True, False, True, True])
    value_bins = np.array([11, 5, 11, 11, 2], np.int32)
    want = _brute_split(hist, mask, value_bins, lam=1.0, mcw=0.5)
    fn = gbdt_split.best_split_cpp if impl == "cpp" else gbdt_split.best_split_reference
    sums, choice = jax.jit(lambda *a: fn(*a, reg_lambda=1.0, min_child_weight=0.5))(hist, mask, value_bins)
    np.testing.assert_array_equal(np.asarray(choice), want[:, 1:4].astype(np.int32))
    # float32 sums in the reference: 1e-4 relative on gains of order 1
    np.testing.assert_allclose(np.asarray(sums), want[:, [0, 4, 5, 6, 7]], rtol=1e-4, atol=1e-4)


def test_split_without_valid_candidate_has_minus_inf_gain():
    hist = _random_hist(nodes=2)
    for fn in (gbdt_split.best_split_cpp, gbdt_split.best_split_reference):
        search = jax.jit(lambda h, m, v, fn=fn: fn(h, m, v, reg_lambda=1.0, min_child_weight=1e9))
        sums, _ = search(hist, np.ones(5, bool), np.full(5, 11, np.int32))
        assert np.all(np.isneginf(np.asarray(sums)[:, 0]))


def _random_ensemble(trees=7, depth=4, features=5, seed=3):
    """Complete trees in heap order with random splits; some internal nodes made leaves early."""
    rng = np.random.default_rng(seed)
    nodes = 2 ** (depth + 1) - 1
    index = np.arange(nodes)
    internal = (index < 2**depth - 1) & (rng.random((trees, nodes)) > 0.15)
    internal[:, 0] = True
    return {
        "feature": np.where(internal, rng.integers(0, features, (trees, nodes)), -1).astype(np.int32),
        "threshold": rng.normal(size=(trees, nodes)).astype(np.float32),
        "default_left": rng.random((trees, nodes)) < 0.5,
        "left": np.where(internal, 2 * index + 1, -1).astype(np.int32),
        "right": np.where(internal, 2 * index + 2, -1).astype(np.int32),
        "is_leaf": ~internal,
        "value": rng.normal(size=(trees, nodes)).astype(np.float32),
    }


def _brute_predict(x, nodes, outputs):
    out = np.zeros((x.shape[0], outputs))
    for r, row in enumerate(x):
        for t in range(nodes["feature"].shape[0]):
            n = 0
            while not nodes["is_leaf"][t, n]:
                v = row[nodes["feature"][t, n]]
                left = nodes["default_left"][t, n] if np.isnan(v) else v <= nodes["threshold"][t, n]
                n = nodes["left"][t, n] if left else nodes["right"][t, n]
            out[r, t % outputs] += nodes["value"][t, n]
    return out


@pytest.mark.parametrize("outputs", [1, 7])
def test_predict_kernels_match_brute_force(outputs):
    from atlas_jax.kernels import gbdt_predict

    nodes = _random_ensemble()
    x = np.random.default_rng(4).normal(size=(300, 5)).astype(np.float32)
    x[::7, 2] = np.nan
    want = _brute_predict(x, nodes, outputs)
    cpp = gbdt_predict.predict_cpp(x, nodes, outputs)
    ref = jax.jit(lambda x: gbdt_predict.predict_reference(x, nodes, outputs, steps=4))(x)
    np.testing.assert_allclose(np.asarray(cpp), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ref), want, rtol=1e-5, atol=1e-5)


def test_predict_cpp_rejects_bad_child():
    from atlas_jax.kernels import gbdt_predict

    nodes = _random_ensemble()
    nodes["left"][0, 0] = 999
    nodes["default_left"][0, 0] = True
    x = np.full((3, 5), np.nan, np.float32)
    with pytest.raises(Exception, match="out of range"):
        jax.block_until_ready(gbdt_predict.predict_cpp(x, nodes, 1))


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1, 700])
def test_histogram_pallas_interpret_matches_reference(rows):
    from atlas_jax.kernels.gbdt_histogram_pallas import histogram_pallas

    bins, grad, hess, slot = _rows(rows=rows, features=3, num_bins=16, slots=4)
    got = histogram_pallas(bins, grad, hess, slot, num_slots=4, num_bins=16, block_rows=128, interpret=True)
    want = _brute_histogram(bins, grad, hess, slot, 4, 16)
    # float32 matmul accumulation over at most 700 rows
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)

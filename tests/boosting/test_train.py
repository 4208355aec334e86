"""Training: trees against a numpy reference grower, data parallel against one device, quality."""

import jax
import numpy as np
import pytest

from atlas_jax.boosting import GBDTConfig, fit
from atlas_jax.boosting.binning import fit_bins
from atlas_jax.boosting.tree import predict_margin_batch


def _binary_data(rows=2000, features=6, seed=0, missing=0.05):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    logit = 1.5 * x[:, 0] - x[:, 1] * x[:, 2] + np.sin(2 * x[:, 3])
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    x[rng.random(x.shape) < missing] = np.nan
    return x, y


def _reference_tree(codes, grad, hess, value_bins, depth, lam, gamma, mcw, lr):
    """Depth-wise tree in heap order by brute force: one histogram per node, no subtraction."""
    nodes = 2 ** (depth + 1) - 1
    feature = np.full(nodes, -1)
    split_bin = np.zeros(nodes, int)
    default_left = np.zeros(nodes, bool)
    value = np.zeros(nodes)
    num_bins = codes.max() + 1

    def grow(node, rows, level):
        G, H = grad[rows].sum(), hess[rows].sum()
        value[node] = -lr * G / (H + lam)
        if level == depth:
            return
        best = (-np.inf,)
        for f in range(codes.shape[1]):
            g = np.bincount(codes[rows, f], grad[rows], minlength=num_bins)
            h = np.bincount(codes[rows, f], hess[rows], minlength=num_bins)
            for t in range(1, value_bins[f]):
                for side in (0, 1):
                    lg = g[1 : t + 1].sum() + (g[0] if side == 0 else 0)
                    lh = h[1 : t + 1].sum() + (h[0] if side == 0 else 0)
                    rg, rh = G - lg, H - lh
                    if min(lh, rh) < mcw or min(lh, rh) <= 0:
                        continue
                    gain = lg**2 / (lh + lam) + rg**2 / (rh + lam) - G**2 / (H + lam)
                    if gain > best[0]:
                        best = (gain, f, t, side == 0)
        if best[0] <= max(gamma, 1e-6):
            return
        _, f, t, left_missing = best
        feature[node], split_bin[node], default_left[node] = f, t, left_missing
        code = codes[rows, f]
        goes_left = np.where(code == 0, left_missing, code <= t)
        grow(2 * node + 1, rows[goes_left], level + 1)
        grow(2 * node + 2, rows[~goes_left], level + 1)

    grow(0, np.arange(codes.shape[0]), 0)
    return feature, split_bin, default_left, value


@pytest.mark.parametrize("backend", ["auto", pytest.param("jax", marks=pytest.mark.slow)])
def test_depthwise_first_tree_matches_reference(backend):
    x, y = _binary_data()
    cfg = GBDTConfig(num_rounds=1, max_depth=3, min_child_weight=5.0, gamma=0.5, max_bins=32,
                     early_stopping_rounds=None, histogram=backend, num_devices=1)
    model = fit(x, y, cfg)
    mapper = fit_bins(x, 32)
    codes = mapper.transform(x)
    p = y.mean()
    grad, hess = (p - y).astype(np.float64), np.full(len(y), p * (1 - p))
    feature, split_bin, default_left, value = _reference_tree(
        codes, grad, hess, mapper.value_bins(), 3, lam=1.0, gamma=0.5, mcw=5.0, lr=0.1)
    trees = model.trees
    np.testing.assert_array_equal(trees.feature[0], feature)
    np.testing.assert_array_equal(trees.bin[0][feature >= 0], split_bin[feature >= 0])
    np.testing.assert_array_equal(trees.default_left[0][feature >= 0], default_left[feature >= 0])
    reached = trees.is_leaf[0] & (np.asarray(trees.cover[0]) > 0)
    # float32 histograms against float64 sums
    np.testing.assert_allclose(trees.value[0][reached], value[reached], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("policy", ["depthwise", pytest.param("lossguide", marks=pytest.mark.slow)])
def test_eight_devices_match_one(policy):
    assert len(jax.devices()) == 8
    x, y = _binary_data(rows=1999)  # not a multiple of 8: exercises row padding
    cfg = dict(num_rounds=4, max_depth=3, max_leaves=6, grow_policy=policy, subsample=0.8,
               colsample_bytree=0.7, max_bins=64, early_stopping_rounds=None)
    one = fit(x, y, GBDTConfig(**cfg, num_devices=1))
    eight = fit(x, y, GBDTConfig(**cfg, num_devices=8))
    for name in ("feature", "bin", "default_left", "left", "right", "is_leaf"):
        np.testing.assert_array_equal(getattr(eight.trees, name), getattr(one.trees, name), err_msg=name)
    assert (np.asarray(one.trees.feature) >= 0).sum() > 10
    # histograms summed in another order: float32 rounding only
    np.testing.assert_allclose(eight.trees.value, one.trees.value, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(eight.predict(x), one.predict(x), rtol=1e-5, atol=1e-6)


def _walk_one(trees, t, row):
    node = 0
    while not trees.is_leaf[t, node]:
        v = row[trees.feature[t, node]]
        left = trees.default_left[t, node] if np.isnan(v) else v <= trees.threshold[t, node]
        node = trees.left[t, node] if left else trees.right[t, node]
    return trees.value[t, node]


@pytest.mark.parametrize("policy", ["depthwise", pytest.param("lossguide", marks=pytest.mark.slow)])
def test_predict_matches_brute_force_walk(policy):
    x, y = _binary_data(rows=600)
    model = fit(x, y, GBDTConfig(num_rounds=5, max_depth=4, max_leaves=9, grow_policy=policy,
                                 early_stopping_rounds=None, num_devices=1))
    x_test, _ = _binary_data(rows=200, seed=5, missing=0.2)
    want = np.array([model.base_margin[0] + sum(_walk_one(model.trees, t, row) for t in range(model.num_trees))
                     for row in x_test])
    np.testing.assert_allclose(model.predict_margin(x_test)[:, 0], want, rtol=1e-5, atol=1e-5)
    # on bin codes, splits compare against bins and must land in the same leaves
    codes = fit_bins(x, 256).transform(x_test)
    binned = predict_margin_batch(model.trees, codes, model.base_margin, steps=model.depth, outputs=1, binned=True)
    np.testing.assert_allclose(np.asarray(binned)[:, 0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_leafwise_respects_max_leaves():
    x, y = _binary_data()
    model = fit(x, y, GBDTConfig(num_rounds=3, grow_policy="lossguide", max_leaves=7, max_depth=0,
                                 early_stopping_rounds=None, num_devices=1))
    leaves = (np.asarray(model.trees.is_leaf) & (np.asarray(model.trees.cover) > 0)).sum(axis=1)
    np.testing.assert_array_equal(leaves, [7, 7, 7])


def test_early_stopping_keeps_best_round():
    x, y = _binary_data(rows=800)
    x_val, y_val = _binary_data(rows=300, seed=9)
    model = fit(x, y, GBDTConfig(num_rounds=200, learning_rate=0.5, max_depth=4, early_stopping_rounds=5,
                                 num_devices=1), eval_set=(x_val, y_val))
    assert len(model.val_history) < 200
    assert model.best_round == int(np.argmin(model.val_history))
    assert model.num_trees == model.best_round + 1
    assert len(model.val_history) == model.best_round + 1 + 5


@pytest.mark.slow
def test_multiclass_and_regression_learn():
    from sklearn.datasets import load_iris
    from sklearn.metrics import accuracy_score

    x, y = load_iris(return_X_y=True)
    model = fit(x, y, GBDTConfig(objective="multiclass", num_rounds=20, max_depth=3, learning_rate=0.3,
                                 early_stopping_rounds=None, num_devices=1))
    assert model.num_trees == 60
    assert accuracy_score(y, model.predict_class(x)) > 0.97
    np.testing.assert_allclose(model.predict(x).sum(axis=1), 1.0, rtol=1e-6)

    rng = np.random.default_rng(0)
    xr = rng.normal(size=(1000, 3))
    yr = 2 * xr[:, 0] + np.abs(xr[:, 1])
    reg = fit(xr, yr, GBDTConfig(objective="squared_error", num_rounds=60, max_depth=4,
                                 early_stopping_rounds=None, num_devices=1))
    assert np.sqrt(np.mean((reg.predict(xr) - yr) ** 2)) < 0.1 * yr.std()


@pytest.mark.slow
def test_binary_auc_close_to_xgboost():
    xgboost = pytest.importorskip("xgboost")
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    model = fit(x_tr, y_tr, GBDTConfig(num_rounds=50, max_depth=3, early_stopping_rounds=None, num_devices=1))
    ours = roc_auc_score(y_te, model.predict(x_te))
    ref = xgboost.XGBClassifier(n_estimators=50, max_depth=3, learning_rate=0.1, tree_method="hist",
                                max_bin=256, n_jobs=1).fit(x_tr, y_tr)
    theirs = roc_auc_score(y_te, ref.predict_proba(x_te)[:, 1])
    assert ours > theirs - 0.01

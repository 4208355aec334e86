"""Model I/O, feature importance and input checks."""

import json

import numpy as np
import pytest

from atlas_jax.boosting import Booster, GBDTConfig, fit
from atlas_jax.errors import AtlasError, ConfigError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 2] > 0).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, y


@pytest.fixture(scope="module")
def model(data):
    x, y = data
    return fit(x, y, GBDTConfig(num_rounds=4, max_depth=3, early_stopping_rounds=None, num_devices=1),
               feature_names=["a", "b", "c", "d"])


def test_save_load_roundtrip(model, data, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    loaded = Booster.load(path)
    np.testing.assert_array_equal(loaded.predict_margin(data[0]), model.predict_margin(data[0]))
    for name in model.trees._fields:
        np.testing.assert_array_equal(getattr(loaded.trees, name), getattr(model.trees, name), err_msg=name)
    assert loaded.feature_names == ["a", "b", "c", "d"]
    assert not list(tmp_path.glob("*.tmp"))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(AtlasError, match="not an atlas_jax GBDT model"):
        Booster.load(path)
    path.write_text("{not json")
    with pytest.raises(AtlasError, match="not valid JSON"):
        Booster.load(path)
    with pytest.raises(AtlasError, match="not found"):
        Booster.load(tmp_path / "missing.json")


def test_load_rejects_bad_child_index(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    document = json.loads(path.read_text())
    document["trees"]["left"][0][0] = 10_000
    path.write_text(json.dumps(document))
    with pytest.raises(AtlasError, match="child index"):
        Booster.load(path)


def test_importance_counts_and_gains(model):
    feature = np.asarray(model.trees.feature)
    gain = np.asarray(model.trees.gain, np.float64)
    for f in range(4):
        assert model.feature_importance("count")[f] == (feature == f).sum()
        np.testing.assert_allclose(model.feature_importance("total_gain")[f], gain[feature == f].sum(), rtol=1e-6)
    # the label depends on features 0 and 2 only
    assert set(np.argsort(model.feature_importance("total_gain"))[-2:]) == {0, 2}
    with pytest.raises(AtlasError, match="unknown importance kind"):
        model.feature_importance("weight")


def test_fit_rejects_nan_labels(data):
    x, y = data
    y = y.copy()
    y[7] = np.nan
    with pytest.raises(AtlasError, match="NaN or infinite values \\(first at row 7\\)"):
        fit(x, y, GBDTConfig(num_rounds=1))


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "message"),
    [((10,), (10,), "2-D array"), ((10, 3), (9,), "10 rows but labels have 9"), ((10, 3), (10, 2), "1-D array")],
)
def test_fit_rejects_wrong_shapes(x_shape, y_shape, message):
    with pytest.raises(AtlasError, match=message):
        fit(np.zeros(x_shape), np.zeros(y_shape), GBDTConfig(num_rounds=1))


def test_fit_rejects_unknown_objective(data):
    with pytest.raises(ConfigError, match="unknown objective 'poisson'"):
        fit(*data, GBDTConfig(objective="poisson", num_rounds=1))


def test_fit_rejects_non_binary_labels(data):
    x, y = data
    with pytest.raises(AtlasError, match="binary labels must be 0 or 1; found 2.0"):
        fit(x, np.where(y > 0, 2.0, 0.0), GBDTConfig(num_rounds=1))


@pytest.mark.parametrize(
    ("field", "value"),
    [("subsample", 0.0), ("max_depth", 0), ("learning_rate", -1.0), ("grow_policy", "best"), ("histogram", "gpu")],
)
def test_fit_rejects_bad_config(data, field, value):
    with pytest.raises(ConfigError, match=f"gbdt.{field} must be"):
        fit(*data, GBDTConfig(num_rounds=1, **{field: value}))


def test_predict_rejects_wrong_feature_count(model):
    with pytest.raises(AtlasError, match="features have 3 columns but the model was trained on 4"):
        model.predict(np.zeros((2, 3)))


def test_fit_rejects_too_many_devices(data):
    with pytest.raises(ConfigError, match="num_devices must be in 1..8"):
        fit(*data, GBDTConfig(num_rounds=1, num_devices=9))

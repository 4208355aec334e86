import numpy as np
import pytest

from atlas_jax.boosting.binning import fit_bins
from atlas_jax.errors import AtlasError, ConfigError


def test_bins_few_values_get_own_bin():
    x = np.array([[3.0], [1.0], [2.0], [3.0], [np.nan]])
    mapper = fit_bins(x)
    np.testing.assert_array_equal(mapper.transform(x)[:, 0], [3, 1, 2, 3, 0])
    assert mapper.num_bins == 4


def test_bins_threshold_matches_code():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 3)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    mapper = fit_bins(x, max_bins=32)
    codes = mapper.transform(x)
    edges = mapper.padded_edges()
    for f in range(3):
        for t in range(1, mapper.value_bins()[f]):
            present = ~np.isnan(x[:, f])
            np.testing.assert_array_equal(codes[present, f] <= t, x[present, f] <= edges[f, t - 1])


def test_bins_respect_max_bins():
    x = np.random.default_rng(1).normal(size=(3000, 2))
    mapper = fit_bins(x, max_bins=16)
    assert mapper.num_bins <= 16
    assert mapper.transform(x).max() <= 15


@pytest.mark.parametrize("max_bins", [1, 257])
def test_bins_reject_bad_max_bins(max_bins):
    with pytest.raises(ConfigError, match="max_bins"):
        fit_bins(np.zeros((3, 1)), max_bins=max_bins)


def test_bins_reject_wrong_rank():
    with pytest.raises(AtlasError, match="2-D"):
        fit_bins(np.zeros(3))

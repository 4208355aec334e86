"""A trained ensemble: prediction, feature importance, save and load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from atlas_jax.boosting.binning import check_features
from atlas_jax.boosting.tree import Trees, predict_margin
from atlas_jax.errors import AtlasError

IMPORTANCE_KINDS = ("gain", "total_gain", "count")


@dataclass
class Booster:
    """Gradient-boosted trees with numpy node arrays.

    Attributes:
        objective: binary, multiclass or squared_error.
        num_outputs: margins per row (classes for multiclass, else 1).
        base_margin: float32[num_outputs] starting margin.
        trees: node arrays [trees, nodes]; tree i adds to output i % num_outputs.
        depth: depth of the deepest tree, the walk length of prediction.
        num_features: columns the model expects.
        feature_names: optional column names.
        best_round: index of the last round kept.
        val_history: validation loss after each round that ran.
        params: the hyperparameters it was trained with.
    """

    objective: str
    num_outputs: int
    base_margin: np.ndarray
    trees: Trees
    depth: int
    num_features: int
    feature_names: Optional[list[str]] = None
    best_round: int = -1
    val_history: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def num_trees(self) -> int:
        return int(np.shape(self.trees.feature)[0])

    def predict_margin(self, x: np.ndarray) -> np.ndarray:
        """Raw margins, float32[rows, num_outputs], of features float[rows, features] (NaN = missing)."""
        x = check_features(x, self.num_features)
        return predict_margin(self.trees, x, self.base_margin, max(self.depth, 1), self.num_outputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions: P(y=1)[rows] (binary), probabilities [rows, classes] (multiclass) or values [rows]."""
        margin = self.predict_margin(x)
        if self.objective == "binary":
            return 1.0 / (1.0 + np.exp(-margin[:, 0].astype(np.float64)))
        if self.objective == "multiclass":
            shifted = margin - margin.max(axis=1, keepdims=True)
            p = np.exp(shifted.astype(np.float64))
            return p / p.sum(axis=1, keepdims=True)
        return margin[:, 0]

    def predict_class(self, x: np.ndarray) -> np.ndarray:
        """Predicted class ids int64[rows] (binary: P(y=1) > 0.5)."""
        if self.objective == "squared_error":
            raise AtlasError("predict_class needs a classification objective; this model uses squared_error")
        p = self.predict(x)
        return (p > 0.5).astype(np.int64) if self.objective == "binary" else p.argmax(axis=1)

    def feature_importance(self, kind: str = "gain") -> np.ndarray:
        """Importance of each feature, float64[num_features].

        Args:
            kind: "gain" (mean split gain), "total_gain" (summed split gain) or "count" (number of splits).

        Raises:
            AtlasError: unknown `kind`.
        """
        if kind not in IMPORTANCE_KINDS:
            raise AtlasError(f"unknown importance kind '{kind}'; valid kinds: {', '.join(IMPORTANCE_KINDS)}")
        feature = np.asarray(self.trees.feature).reshape(-1)
        gain = np.asarray(self.trees.gain, np.float64).reshape(-1)
        split = feature >= 0
        count = np.bincount(feature[split], minlength=self.num_features).astype(np.float64)
        if kind == "count":
            return count
        total = np.bincount(feature[split], weights=gain[split], minlength=self.num_features)
        if kind == "total_gain":
            return total
        return np.divide(total, count, out=np.zeros_like(total), where=count > 0)

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (format in `atlas_jax.boosting.io`)."""
        from atlas_jax.boosting.io import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "Booster":
        """Read a model written by `save`."""
        from atlas_jax.boosting.io import load_model

        return load_model(path)

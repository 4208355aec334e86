"""Model files: one JSON document per Booster.

Format (version 1), a JSON object with:

    format        "atlas_jax.gbdt"
    version       1
    objective     "binary" | "multiclass" | "squared_error"
    num_outputs   margins per row; tree i adds to output i % num_outputs
    num_features  columns the model expects
    feature_names list of names, or null
    base_margin   list[num_outputs] of starting margins
    depth         depth of the deepest tree
    best_round    index of the last boosting round kept
    val_history   validation loss after each round that ran
    params        hyperparameters used for training (informational)
    trees         object of node arrays, each a list[trees] of list[nodes]:
                  feature (int, -1 at leaves), bin (int), threshold (float),
                  default_left (bool), left and right (child index, -1 at leaves),
                  is_leaf (bool), value (float, learning rate applied),
                  gain (float), cover (float, hessian sum)

A row goes left at an internal node when its value is <= threshold, or when it is
missing (NaN) and default_left is true. Floats are written as the shortest decimal
that reads back to the same float32. Infinite thresholds (from infinite feature
values) are written as Python's json module does, `Infinity`/`-Infinity`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from atlas_jax.boosting.model import Booster
from atlas_jax.boosting.tree import Trees
from atlas_jax.errors import AtlasError

FORMAT = "atlas_jax.gbdt"
VERSION = 1
_DTYPES = {
    "feature": np.int32,
    "bin": np.int32,
    "threshold": np.float32,
    "default_left": np.bool_,
    "left": np.int32,
    "right": np.int32,
    "is_leaf": np.bool_,
    "value": np.float32,
    "gain": np.float32,
    "cover": np.float32,
}


def _to_json(a: np.ndarray) -> list:
    if a.dtype == np.float32:
        # float32 -> shortest repr that round-trips through float32.
        return [[float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else float(v)
                 for v in row] for row in a]
    return a.tolist()


def save_model(model: Booster, path: str | Path) -> None:
    """Write `model` to `path` as JSON, atomically (temp file, then rename)."""
    path = Path(path)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "objective": model.objective,
        "num_outputs": int(model.num_outputs),
        "num_features": int(model.num_features),
        "feature_names": model.feature_names,
        "base_margin": [float(v) for v in np.asarray(model.base_margin, np.float32)],
        "depth": int(model.depth),
        "best_round": int(model.best_round),
        "val_history": [float(v) for v in model.val_history],
        "params": model.params,
        "trees": {name: _to_json(np.asarray(getattr(model.trees, name), dtype))
                  for name, dtype in _DTYPES.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(document, out)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def _check_trees(trees: Trees, num_features: int, path: Path) -> None:
    nodes = trees.feature.shape[1]
    internal = ~trees.is_leaf
    if (trees.feature[internal] < 0).any() or (trees.feature >= num_features).any():
        raise AtlasError(f"model file {path} has a split feature outside 0..{num_features - 1}")
    for side in (trees.left, trees.right):
        if ((side[internal] < 0) | (side[internal] >= nodes)).any():
            raise AtlasError(f"model file {path} has a child index outside 0..{nodes - 1}")


def load_model(path: str | Path) -> Booster:
    """Read a model written by `save_model`.

    Raises:
        AtlasError: the file is missing, not JSON, of another format or version, or inconsistent.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise AtlasError(f"model file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise AtlasError(f"model file {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise AtlasError(f"{path} is not an atlas_jax GBDT model (expected format '{FORMAT}')")
    if document.get("version") != VERSION:
        raise AtlasError(f"{path} has model format version {document.get('version')}; this atlas_jax reads version {VERSION}")
    try:
        arrays = {name: np.asarray(document["trees"][name], dtype).reshape(len(document["trees"][name]), -1)
                  for name, dtype in _DTYPES.items()}
        trees = Trees(**arrays)
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1:
            raise AtlasError(f"model file {path} has node arrays of different shapes: {sorted(shapes)}")
        _check_trees(trees, int(document["num_features"]), path)
        return Booster(
            objective=document["objective"],
            num_outputs=int(document["num_outputs"]),
            base_margin=np.asarray(document["base_margin"], np.float32),
            trees=trees,
            depth=int(document["depth"]),
            num_features=int(document["num_features"]),
            feature_names=document.get("feature_names"),
            best_round=int(document.get("best_round", -1)),
            val_history=list(document.get("val_history", [])),
            params=dict(document.get("params", {})),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise AtlasError(f"model file {path} is malformed ({type(error).__name__}: {error})") from None

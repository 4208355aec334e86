"""Structured config of gradient-boosted trees (`gbdt` group); imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

OBJECTIVES = ("binary", "multiclass", "squared_error")
GROW_POLICIES = ("depthwise", "lossguide")
HISTOGRAM_BACKENDS = ("auto", "cpp", "jax")


@dataclass
class GBDTConfig:
    objective: str = "binary"  # binary (logloss), multiclass (softmax) or squared_error
    num_rounds: int = 200  # boosting rounds; multiclass grows one tree per class per round
    learning_rate: float = 0.1  # shrinkage applied to every leaf value
    max_depth: int = 6  # depth limit of each tree; lossguide: 0 means no limit
    max_leaves: int = 31  # lossguide only: leaves per tree
    grow_policy: str = "depthwise"  # depthwise (level by level) or lossguide (best leaf first)
    max_bins: int = 256  # bins per feature, one of them for missing values (2..256)
    reg_lambda: float = 1.0  # L2 penalty on leaf values
    gamma: float = 0.0  # minimum loss reduction a split must bring
    min_child_weight: float = 1.0  # minimum hessian sum in each child of a split
    subsample: float = 1.0  # fraction of rows drawn (without replacement) for each tree
    colsample_bytree: float = 1.0  # fraction of features drawn for each tree
    early_stopping_rounds: Optional[int] = 20  # stop after this many rounds without a better validation loss; null disables
    histogram: str = "auto"  # histogram, split and predict kernels: auto (C++ on CPU, else JAX), cpp or jax
    num_devices: Optional[int] = None  # devices of the `data` mesh axis the rows are sharded over; null: all
    binning_sample: int = 200_000  # rows sampled to place quantile bin edges
    seed: int = 0  # seed of bin sampling, row and column subsampling
    log_every: int = 10  # log the validation loss every this many rounds

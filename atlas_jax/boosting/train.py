"""Boosting loop: bin the data once, shard rows over the `data` mesh axis, add trees.

One jitted step per round computes gradients, draws the row and column samples,
grows one tree per output inside `jax.shard_map` and updates the training
margins. The step compiles once and is reused by every round.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from atlas_jax.boosting.binning import BinMapper, check_features, fit_bins
from atlas_jax.boosting.config import GBDTConfig, GROW_POLICIES, HISTOGRAM_BACKENDS
from atlas_jax.boosting.grow import FeatureInfo, GrowSettings, grow_depthwise, grow_leafwise
from atlas_jax.boosting.model import Booster
from atlas_jax.boosting.objectives import Objective, make_objective
from atlas_jax.boosting.split import SplitParams
from atlas_jax.boosting.tree import Trees, predict_margin, tree_depth
from atlas_jax.errors import AtlasError, ConfigError
from atlas_jax.kernels.gbdt_histogram import resolve_backend

logger = logging.getLogger(__name__)

DATA_AXIS = "data"
MAX_DEPTHWISE_DEPTH = 12  # 2^12 histograms per level; deeper trees should use grow_policy=lossguide


def check_config(cfg: GBDTConfig) -> None:
    """Raise ConfigError naming the first invalid field of `cfg`."""
    checks = [
        (cfg.num_rounds >= 1, "num_rounds", cfg.num_rounds, "at least 1"),
        (cfg.learning_rate > 0, "learning_rate", cfg.learning_rate, "positive"),
        (cfg.reg_lambda >= 0, "reg_lambda", cfg.reg_lambda, "non-negative"),
        (cfg.gamma >= 0, "gamma", cfg.gamma, "non-negative"),
        (cfg.min_child_weight >= 0, "min_child_weight", cfg.min_child_weight, "non-negative"),
        (0 < cfg.subsample <= 1, "subsample", cfg.subsample, "in (0, 1]"),
        (0 < cfg.colsample_bytree <= 1, "colsample_bytree", cfg.colsample_bytree, "in (0, 1]"),
        (2 <= cfg.max_bins <= 256, "max_bins", cfg.max_bins, "in 2..256"),
        (cfg.grow_policy in GROW_POLICIES, "grow_policy", cfg.grow_policy, f"one of {', '.join(GROW_POLICIES)}"),
        (cfg.histogram in HISTOGRAM_BACKENDS, "histogram", cfg.histogram, f"one of {', '.join(HISTOGRAM_BACKENDS)}"),
        (cfg.early_stopping_rounds is None or cfg.early_stopping_rounds >= 1, "early_stopping_rounds",
         cfg.early_stopping_rounds, "at least 1 or null"),
    ]
    if cfg.grow_policy == "depthwise":
        checks.append((1 <= cfg.max_depth <= MAX_DEPTHWISE_DEPTH, "max_depth", cfg.max_depth,
                       f"in 1..{MAX_DEPTHWISE_DEPTH} for depthwise growth (use grow_policy=lossguide for deeper trees)"))
    else:
        checks.append((cfg.max_depth >= 0, "max_depth", cfg.max_depth, "non-negative (0: no limit)"))
        checks.append((cfg.max_leaves >= 2, "max_leaves", cfg.max_leaves, "at least 2"))
    for ok, name, value, expected in checks:
        if not ok:
            raise ConfigError(f"gbdt.{name} must be {expected}; got {value!r}")


def data_mesh(num_devices: Optional[int] = None) -> jax.sharding.Mesh:
    """Create a 1-D mesh named `data` over the first `num_devices` devices (all when None)."""
    devices = jax.devices()
    count = len(devices) if num_devices is None else num_devices
    if not 1 <= count <= len(devices):
        raise ConfigError(f"gbdt.num_devices must be in 1..{len(devices)} (devices present); got {num_devices}")
    # Auto axes: only the shard_map inside the step is sharded by hand, and the
    # per-round sampling around it lets XLA choose the layout.
    return jax.make_mesh((count,), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices[:count])


def _walk_steps(cfg: GBDTConfig) -> int:
    if cfg.grow_policy == "depthwise":
        return cfg.max_depth
    return cfg.max_depth if cfg.max_depth > 0 else cfg.max_leaves - 1


@functools.lru_cache(maxsize=16)
def _make_step(objective: Objective, grow_policy: str, subsample: float, kept_features: int, mesh,
               settings: GrowSettings, rows: int, features: int):
    """Jitted boosting round: (margin, bins, y, ok, key, value_bins, edges) -> (margin, trees [outputs, nodes]).

    Cached on its (hashable) arguments, so fits with the same shapes and settings,
    such as HPO trials on one dataset, reuse one compiled step.
    """
    grow = grow_depthwise if grow_policy == "depthwise" else grow_leafwise

    def local_round(margin, bins, y, ok, draw, feature_mask, value_bins, edges):
        grad, hess = objective.grad_hess(margin, y)
        sampled = ok & (draw < subsample)
        info = FeatureInfo(feature_mask, value_bins, edges)
        trees = []
        for k in range(objective.num_outputs):
            g = jnp.where(sampled, grad[:, k], 0.0)
            h = jnp.where(sampled, hess[:, k], 0.0)
            tree, leaf = grow(bins, g, h, sampled, info, settings)
            margin = margin.at[:, k].add(tree.value[leaf])
            trees.append(tree)
        return margin, jax.tree.map(lambda *a: jnp.stack(a), *trees)

    rows_spec = P(DATA_AXIS)
    sharded_round = jax.shard_map(
        local_round,
        mesh=mesh,
        in_specs=(rows_spec, rows_spec, rows_spec, rows_spec, rows_spec, P(), P(), P()),
        out_specs=(rows_spec, P()),
    )

    def step(margin, bins, y, ok, key, value_bins, edges):
        row_key, column_key = jax.random.split(key)
        # Drawn for all rows at once, so a row's draw does not depend on the shard it lands in.
        draw = jax.random.uniform(row_key, (rows,)) if subsample < 1 else jnp.zeros((rows,))
        order = jax.random.permutation(column_key, features)
        feature_mask = jnp.zeros((features,), bool).at[order[:kept_features]].set(True)
        return sharded_round(margin, bins, y, ok, draw, feature_mask, value_bins, edges)

    return jax.jit(step, donate_argnums=(0,))


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0],) + a.shape[1:], a.dtype)])


def fit(
    x: np.ndarray,
    y: np.ndarray,
    cfg: GBDTConfig | None = None,
    *,
    eval_set: tuple[np.ndarray, np.ndarray] | None = None,
    num_class: int | None = None,
    feature_names: Sequence[str] | None = None,
    bin_mapper: BinMapper | None = None,
    on_round: Callable[[int, dict], None] | None = None,
) -> Booster:
    """Train a gradient-boosted tree ensemble.

    Args:
        x: float[rows, features] training features; NaN marks a missing value.
        y: [rows] labels: 0/1 (binary), class ids (multiclass) or values (squared_error).
        cfg: hyperparameters; defaults to `GBDTConfig()`.
        eval_set: validation (features, labels); its loss is logged every round and drives
            early stopping when `cfg.early_stopping_rounds` is set.
        num_class: classes for objective=multiclass; default max(y) + 1.
        feature_names: names stored in the model, one per column of `x`.
        bin_mapper: bin edges to use instead of fitting them on `x`.
        on_round: called as on_round(round_index, metrics) after every round; may raise to stop.

    Returns:
        The trained Booster, truncated to the best validation round when early stopping ran.

    Raises:
        ConfigError: an invalid hyperparameter or objective.
        AtlasError: bad input arrays (shapes, NaN labels, labels invalid for the objective).
    """
    cfg = cfg or GBDTConfig()
    check_config(cfg)
    x = check_features(x)
    rows, features = x.shape
    if rows == 0:
        raise AtlasError("cannot train on 0 rows")
    if cfg.objective == "multiclass" and num_class is None:
        raw = np.asarray(y)
        num_class = int(np.nanmax(raw)) + 1 if raw.size and np.issubdtype(raw.dtype, np.number) else None
    objective = make_objective(cfg.objective, num_class)
    y = objective.check_labels(y)
    if y.shape[0] != rows:
        raise AtlasError(f"features have {rows} rows but labels have {y.shape[0]}; pass one label per row")
    if feature_names is not None and len(feature_names) != features:
        raise AtlasError(f"got {len(feature_names)} feature names for {features} features")
    if eval_set is not None:
        x_val = check_features(eval_set[0], features)
        y_val = objective.check_labels(eval_set[1], "validation labels")
        if y_val.shape[0] != x_val.shape[0]:
            raise AtlasError(f"validation features have {x_val.shape[0]} rows but labels have {y_val.shape[0]}")

    # Bin once; every round reads the same uint8 codes.
    started = time.perf_counter()
    mapper = bin_mapper or fit_bins(x, cfg.max_bins, cfg.binning_sample, cfg.seed)
    codes = mapper.transform(x)
    logger.info("binned %d x %d features into %d bins in %.2fs", rows, features, mapper.num_bins,
                time.perf_counter() - started)

    # Shard rows over the mesh; padding rows never enter a histogram.
    mesh = data_mesh(cfg.num_devices)
    devices = mesh.devices.size
    padded = math.ceil(rows / devices) * devices
    rows_sharding = NamedSharding(mesh, P(DATA_AXIS))
    replicated = NamedSharding(mesh, P())
    base_margin = objective.base_margin(y)
    outputs = objective.num_outputs
    margin = jax.device_put(np.broadcast_to(base_margin, (padded, outputs)).copy(), rows_sharding)
    bins_dev = jax.device_put(_pad_rows(codes, padded), rows_sharding)
    y_dev = jax.device_put(_pad_rows(y, padded), rows_sharding)
    ok_dev = jax.device_put(np.arange(padded) < rows, rows_sharding)
    value_bins = jax.device_put(mapper.value_bins(), replicated)
    edges = jax.device_put(mapper.padded_edges(), replicated)

    params = SplitParams(float(cfg.reg_lambda), float(cfg.gamma), float(cfg.min_child_weight), float(cfg.learning_rate))
    backend = resolve_backend(cfg.histogram, mesh.devices.flat[0].platform)
    settings = GrowSettings(params, mapper.num_bins, cfg.max_depth, cfg.max_leaves, backend, DATA_AXIS)
    kept_features = max(1, int(round(cfg.colsample_bytree * features)))
    step = _make_step(objective, cfg.grow_policy, float(cfg.subsample), kept_features, mesh, settings, padded, features)
    steps = _walk_steps(cfg)
    key = jax.random.key(cfg.seed)

    val_margin = None
    if eval_set is not None:
        val_margin = np.broadcast_to(base_margin, (x_val.shape[0], outputs)).copy()
        y_val_dev = jnp.asarray(y_val)

    # Boost.
    rounds: list[Trees] = []
    history: list[float] = []
    best_round, best_loss = -1, math.inf
    started = time.perf_counter()
    for r in range(cfg.num_rounds):
        margin, trees = step(margin, bins_dev, y_dev, ok_dev, jax.random.fold_in(key, r), value_bins, edges)
        rounds.append(trees)
        metrics: dict = {}
        if val_margin is not None:
            val_margin += predict_margin(trees, x_val, np.zeros(outputs, np.float32), steps, outputs)
            loss = float(objective.loss(jnp.asarray(val_margin), y_val_dev))
            history.append(loss)
            metrics[f"val_{objective.metric_name}"] = loss
            if loss < best_loss:
                best_round, best_loss = r, loss
        if r == 0:
            jax.block_until_ready(trees)
            logger.info("round 0 (includes compilation) took %.2fs", time.perf_counter() - started)
            started_steady = time.perf_counter()
        elif (r + 1) % max(cfg.log_every, 1) == 0 or r + 1 == cfg.num_rounds:
            jax.block_until_ready(trees)
            elapsed = time.perf_counter() - started_steady
            rate = r / elapsed if elapsed > 0 else float("inf")
            logger.info("round %d/%d %s %.1f rounds/s, ETA %.0fs", r + 1, cfg.num_rounds,
                        " ".join(f"{k}={v:.5f}" for k, v in metrics.items()), rate, (cfg.num_rounds - r - 1) / rate)
        if on_round is not None:
            on_round(r, metrics)
        if (val_margin is not None and cfg.early_stopping_rounds is not None
                and r - best_round >= cfg.early_stopping_rounds):
            logger.info("early stopping at round %d: best %s=%.5f at round %d", r + 1,
                        objective.metric_name, best_loss, best_round + 1)
            break

    early_stopped = val_margin is not None and cfg.early_stopping_rounds is not None
    kept = rounds[: best_round + 1] if early_stopped else rounds
    ensemble = jax.tree.map(lambda *a: np.concatenate([np.asarray(t) for t in a]), *kept)
    return Booster(
        objective=objective.name,
        num_outputs=outputs,
        base_margin=base_margin,
        trees=ensemble,
        depth=tree_depth(ensemble),
        num_features=features,
        feature_names=list(feature_names) if feature_names is not None else None,
        best_round=len(kept) - 1,
        val_history=history,
        params=dataclasses.asdict(cfg),
    )

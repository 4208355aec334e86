"""Benchmark atlas_jax GBDT beside XGBoost (hist) and LightGBM with matched settings.

Usage:
    python scripts/bench_gbdt.py                      # all three tasks
    python scripts/bench_gbdt.py --tasks credit breast_cancer --splits 5
    python scripts/bench_gbdt.py --rows 1000000 --threads 2

Every library gets the same max depth, bins, learning rate, rounds, L2 penalty
and minimum child hessian, and the same thread count. LightGBM grows leaf-wise,
so it gets num_leaves = 2^depth with the same depth limit. Fit time includes
binning (XGBoost's DMatrix, LightGBM's Dataset) and, for atlas_jax, compiling
the boosting step. The small tables report means over several stratified
train/test splits because one 300-row test set moves AUC by more than 0.002.
Prints the machine, the versions and a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}"


def synthetic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate a 28-feature binary task with interactions and 2% missing values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 28)).astype(np.float32)
    logit = (x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] - 0.3 * x[:, 4] ** 2
             + 0.2 * x[:, 5:10].sum(axis=1) + 0.5 * (x[:, 10] > 0.5) * x[:, 11])
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    x[rng.random(x.shape) < 0.02] = np.nan
    return x, y


def table(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "credit":
        from atlas_jax.data.german_credit import encode_german_credit, load_german_credit

        x, y, _ = encode_german_credit(*load_german_credit())
        return x, y.astype(np.float32)
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return x.astype(np.float32), y.astype(np.float32)


def fit_atlas(x, y, args):
    from atlas_jax.boosting import GBDTConfig, fit

    cfg = GBDTConfig(num_rounds=args.rounds, learning_rate=args.learning_rate, max_depth=args.depth,
                     max_bins=args.bins, reg_lambda=1.0, min_child_weight=1.0, early_stopping_rounds=None,
                     num_devices=1, log_every=max(args.rounds // 4, 1))
    model = fit(x, y, cfg)
    return lambda data: model.predict(data)


def fit_xgboost(x, y, args):
    import xgboost

    params = dict(tree_method="hist", max_depth=args.depth, max_bin=args.bins, eta=args.learning_rate,
                  reg_lambda=1.0, min_child_weight=1.0, objective="binary:logistic", nthread=args.threads)
    model = xgboost.train(params, xgboost.DMatrix(x, label=y, nthread=args.threads), args.rounds)
    return lambda data: model.predict(xgboost.DMatrix(data, nthread=args.threads))


def fit_lightgbm(x, y, args):
    import lightgbm

    params = dict(objective="binary", max_depth=args.depth, num_leaves=2**args.depth, max_bin=args.bins - 1,
                  learning_rate=args.learning_rate, lambda_l2=1.0, min_sum_hessian_in_leaf=1.0,
                  min_data_in_leaf=1, num_threads=args.threads, verbose=-1, deterministic=True)
    model = lightgbm.train(params, lightgbm.Dataset(x, label=y, params={"max_bin": args.bins - 1}),
                           args.rounds)
    return lambda data: model.predict(data, num_threads=args.threads)


LIBRARIES = {"atlas_jax": fit_atlas, "xgboost": fit_xgboost, "lightgbm": fit_lightgbm}


def measure(fit, x_train, y_train, x_test, y_test, args) -> tuple[float, float, float]:
    from sklearn.metrics import roc_auc_score

    started = time.perf_counter()
    predict = fit(x_train, y_train, args)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    p = predict(x_test)
    predict_s = time.perf_counter() - started
    return fit_s, predict_s, roc_auc_score(y_test, p)


def run_task(name: str, args) -> list[tuple]:
    from sklearn.model_selection import StratifiedShuffleSplit

    if name == "synthetic":
        x, y = synthetic(args.rows, seed=0)
        x_test, y_test = synthetic(args.test_rows, seed=1)
        splits = [(x, y, x_test, y_test)]
        label = f"generated {args.rows:,} x 28 (test {args.test_rows:,})"
    else:
        x, y = table(name)
        cv = StratifiedShuffleSplit(n_splits=args.splits, test_size=0.3, random_state=0)
        splits = [(x[a], y[a], x[b], y[b]) for a, b in cv.split(x, y)]
        label = f"{'German credit' if name == 'credit' else 'breast_cancer'} {x.shape[0]} x {x.shape[1]}, " \
                f"mean of {args.splits} splits"
    rows = []
    for library in args.libraries:
        results = np.array([measure(LIBRARIES[library], *split, args) for split in splits])
        fit_s, predict_s, auc = results.mean(axis=0)
        rows.append((label, library, fit_s, predict_s, auc))
        print(f"  {label} {library}: fit {fit_s:.2f}s predict {predict_s:.3f}s AUC {auc:.4f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["credit", "breast_cancer", "synthetic"],
                        choices=["credit", "breast_cancer", "synthetic"])
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=list(LIBRARIES))
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows of the generated task")
    parser.add_argument("--test-rows", type=int, default=200_000, help="test rows of the generated task")
    parser.add_argument("--splits", type=int, default=5, help="train/test splits of the small tables")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds")
    parser.add_argument("--depth", type=int, default=6, help="max tree depth")
    parser.add_argument("--bins", type=int, default=256, help="bins per feature, missing-value bin included")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for XGBoost and LightGBM")
    args = parser.parse_args()

    import jax
    import lightgbm
    import xgboost

    print(f"machine: {machine()}")
    print(f"versions: jax {jax.__version__}, xgboost {xgboost.__version__}, lightgbm {lightgbm.__version__}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"settings: depth {args.depth}, bins {args.bins}, learning rate {args.learning_rate}, "
          f"rounds {args.rounds}, lambda 1, min_child_weight 1, {args.threads} threads")
    rows = []
    for name in args.tasks:
        rows += run_task(name, args)

    print("\n| task | library | fit s | predict s | AUC | fit / XGBoost | AUC - XGBoost |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, library, fit_s, predict_s, auc in rows:
        ref = next((r for r in rows if r[0] == label and r[1] == "xgboost"), None)
        ratio = f"{fit_s / ref[2]:.2f}" if ref else "-"
        delta = f"{auc - ref[4]:+.4f}" if ref else "-"
        print(f"| {label} | {library} | {fit_s:.2f} | {predict_s:.3f} | {auc:.4f} | {ratio} | {delta} |")


if __name__ == "__main__":
    main()

"""Sampled vs full-graph GraphSAGE on a CSBM, and GraphSAGE vs an MLP on the kNN graph of digits.

    python experiments/gnn_accuracy/run.py [--comparison knn|csbm|both] [--csbm-nodes 100000] [--seeds 0 1 2]

Every model of one comparison trains on the same dataset folder (same graph, features
and splits). Test accuracy comes from full-neighbourhood inference on the test nodes.
Prints the machine, versions, command and a results table, and writes
results_<comparison>.json next to this script.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from atlas_jax.config import OptimConfig
from atlas_jax.gnn.config import GNNConfig, GNNDataConfig, GNNModelConfig, GNNSamplerConfig
from atlas_jax.gnn.datasets import prepare_dataset
from atlas_jax.gnn.trainer import RunOptions, train_gnn
from atlas_jax.train.loop import versions

HERE = Path(__file__).resolve().parent


def csbm_runs(nodes: int) -> tuple[GNNDataConfig, list[tuple[str, GNNConfig, OptimConfig]]]:
    data = GNNDataConfig(name="csbm", num_nodes=nodes, num_classes=5, num_features=32, avg_degree=10,
                         homophily=0.8, feature_signal=1.0, train_fraction=0.6, val_fraction=0.2)
    sage = GNNModelConfig(name="sage_mean", hidden=128, num_layers=2, dropout=0.2)
    sampled = GNNConfig(model=sage, sampler=GNNSamplerConfig(fanouts=[10, 10], batch_size=512, batches_per_step=1),
                        mode="sampled", epochs=5, eval_every_epochs=5)
    full = GNNConfig(model=copy.deepcopy(sage), mode="full", epochs=150, eval_every_epochs=150)
    mlp = GNNConfig(model=GNNModelConfig(name="mlp", hidden=128, num_layers=2, dropout=0.2), mode="full",
                    epochs=150, eval_every_epochs=150)
    sampled_optim = OptimConfig(learning_rate=3e-3, warmup_steps=20)
    full_optim = OptimConfig(learning_rate=1e-2, warmup_steps=10)
    return data, [("GraphSAGE sampled [10,10]", sampled, sampled_optim),
                  ("GraphSAGE full graph", full, full_optim),
                  ("MLP (no edges)", mlp, full_optim)]


def knn_runs() -> tuple[GNNDataConfig, list[tuple[str, GNNConfig, OptimConfig]]]:
    data = GNNDataConfig(name="knn", source="digits", knn_k=10, train_fraction=0.1, val_fraction=0.2)
    sage = GNNModelConfig(name="sage_mean", hidden=64, num_layers=2, dropout=0.5)
    sampled = GNNConfig(model=sage, sampler=GNNSamplerConfig(fanouts=[15, 10], batch_size=32, batches_per_step=1),
                        mode="sampled", epochs=40, eval_every_epochs=40)
    full = GNNConfig(model=copy.deepcopy(sage), mode="full", epochs=200, eval_every_epochs=200)
    mlp = GNNConfig(model=GNNModelConfig(name="mlp", hidden=64, num_layers=2, dropout=0.5), mode="full",
                    epochs=200, eval_every_epochs=200)
    optim = OptimConfig(learning_rate=1e-2, warmup_steps=10, weight_decay=5e-4)
    return data, [("GraphSAGE sampled [15,10]", sampled, optim),
                  ("GraphSAGE full graph", full, optim),
                  ("MLP (no edges)", mlp, optim)]


def run_comparison(name: str, data: GNNDataConfig, runs, seeds: list[int], cache_dir: str) -> list[dict]:
    rows = []
    for seed in seeds:
        data_cfg = copy.deepcopy(data)
        data_cfg.cache_dir, data_cfg.seed = cache_dir, seed
        dataset = prepare_dataset(data_cfg)
        for label, cfg, optim in runs:
            cfg = copy.deepcopy(cfg)
            cfg.data = data_cfg
            started = time.perf_counter()
            summary = train_gnn(cfg, optim, dataset, RunOptions(seed=seed, progress=False)).summary
            rows.append({
                "comparison": name, "model": label, "seed": seed, "nodes": dataset.num_nodes,
                "edges": int(dataset.store.num_edges), "edge_homophily": dataset.meta["edge_homophily"],
                "train_nodes": len(dataset.splits["train"]), "test_nodes": len(dataset.splits["test"]),
                "steps": summary["steps"], "test_accuracy": summary["test_accuracy"],
                "val_accuracy": summary["val_accuracy"], "seconds": time.perf_counter() - started,
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csbm-nodes", type=int, default=100_000, help="nodes of the CSBM graph")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (dataset split and model)")
    parser.add_argument("--csbm-seeds", type=int, nargs="+", default=[0], help="seeds of the CSBM comparison")
    parser.add_argument("--cache-dir", default="data_cache/gnn", help="folder of generated datasets")
    parser.add_argument("--comparison", choices=("knn", "csbm", "both"), default="both", help="which comparison to run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.node()} {platform.machine()}, {jax.device_count()} {jax.devices()[0].platform} device(s), "
          f"python {platform.python_version()}")
    print(f"versions: {versions()}")
    rows = []
    if args.comparison in ("knn", "both"):
        rows += run_comparison("knn-digits", *knn_runs(), args.seeds, args.cache_dir)
    if args.comparison in ("csbm", "both"):
        rows += run_comparison(f"csbm-{args.csbm_nodes}", *csbm_runs(args.csbm_nodes), args.csbm_seeds, args.cache_dir)

    print("\n| comparison | model | seeds | test accuracy (mean +- std) | steps | seconds/run |")
    print("|---|---|---|---|---|---|")
    for comparison in dict.fromkeys(r["comparison"] for r in rows):
        for model in dict.fromkeys(r["model"] for r in rows if r["comparison"] == comparison):
            group = [r for r in rows if r["comparison"] == comparison and r["model"] == model]
            accuracy = np.array([r["test_accuracy"] for r in group])
            print(f"| {comparison} | {model} | {len(group)} | {accuracy.mean():.4f} +- {accuracy.std():.4f} | "
                  f"{group[0]['steps']} | {np.mean([r['seconds'] for r in group]):.0f} |")
    (HERE / f"results_{args.comparison}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

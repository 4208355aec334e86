"""Benchmark sampled GNN training on a large CSBM: where an epoch's time goes.

    python scripts/bench_gnn.py --nodes 10000000 --cache-dir /work/scratch/gnn/bench

Generates (or reuses) a CSBM graph, then trains GraphSAGE for one epoch over the
training nodes in several input-pipeline settings, side by side in one process.
Batches are made either synchronously in the training thread or ahead of time by
background threads, with features in memory or read from zarr through tensorstore.

For each setting it reports the time split and the padding waste of the static
budgets. Sampling, feature fetch and padding are summed over the pipeline threads.
Input wait is the step loop's time blocked on the next batch, transfer its time
copying the batch to the device, and compute its time in the jitted step. The wait
fraction is input wait over (input wait + transfer + compute), and seeds/s counts
seeds over the same time. The first (compiling) step is timed apart and left out.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import platform
import sys
import time

import jax
import psutil

from atlas_jax.config import OptimConfig
from atlas_jax.gnn.config import GNNConfig, GNNDataConfig, GNNModelConfig, GNNSamplerConfig
from atlas_jax.gnn.datasets import open_dataset, prepare_dataset
from atlas_jax.gnn.trainer import RunOptions, train_gnn
from atlas_jax.train.loop import versions


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000_000, help="CSBM nodes")
    parser.add_argument("--avg-degree", type=float, default=10.0, help="mean undirected degree")
    parser.add_argument("--features", type=int, default=32, help="feature dimension (float32)")
    parser.add_argument("--train-fraction", type=float, default=0.01, help="fraction of nodes with training labels")
    parser.add_argument("--batch-size", type=int, default=1024, help="seed nodes per batch")
    parser.add_argument("--fanouts", type=int, nargs="+", default=[10, 5], help="neighbours sampled per hop")
    parser.add_argument("--hidden", type=int, default=128, help="GraphSAGE hidden width")
    parser.add_argument("--threads", type=int, default=2, help="background pipeline threads when prefetching")
    parser.add_argument("--prefetch", type=int, default=8, help="batches prepared ahead when prefetching")
    parser.add_argument("--max-steps", type=int, default=None, help="stop each setting after this many steps")
    parser.add_argument("--tensorstore-steps", type=int, default=30,
                        help="steps of the tensorstore settings (0 skips them)")
    parser.add_argument("--cache-dir", default="/work/scratch/gnn/bench", help="folder of the generated dataset")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("absl", "jax", "orbax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {jax.device_count()} {jax.devices()[0].platform} device(s)")
    print(f"versions: {versions()}")

    # Dataset: generated once, reused by later runs with the same parameters.
    data = GNNDataConfig(
        name="csbm", cache_dir=args.cache_dir, num_nodes=args.nodes, num_classes=5, num_features=args.features,
        avg_degree=args.avg_degree, homophily=0.8, feature_signal=1.0, train_fraction=args.train_fraction,
        val_fraction=0.001, feature_store="memory",
    )
    started = time.perf_counter()
    dataset = prepare_dataset(data)
    prepare_s = time.perf_counter() - started
    print(f"dataset: {dataset.folder}: {dataset.num_nodes:,} nodes, {dataset.store.num_edges:,} directed edges, "
          f"{len(dataset.splits['train']):,} training nodes (prepared or opened in {prepare_s:.0f} s)")

    base = GNNConfig(
        data=data,
        model=GNNModelConfig(name="sage_mean", hidden=args.hidden, num_layers=len(args.fanouts), dropout=0.0),
        sampler=GNNSamplerConfig(fanouts=list(args.fanouts), batch_size=args.batch_size, batches_per_step=1,
                                 num_threads=args.threads, prefetch=args.prefetch, sampler_threads=1),
        mode="sampled", epochs=1, eval_mode="sampled", data_parallel=1,
    )
    optim = OptimConfig(learning_rate=3e-3, warmup_steps=10)
    zarr = None
    settings = [("memory", "synchronous", 0, args.max_steps), ("memory", "prefetch", args.threads, args.max_steps)]
    if args.tensorstore_steps:
        zarr = open_dataset(dataset.folder, "tensorstore")
        settings += [("tensorstore", "synchronous", 0, args.tensorstore_steps),
                     ("tensorstore", "prefetch", args.threads, args.tensorstore_steps)]

    rows = []
    for store, pipeline_mode, threads, max_steps in settings:
        cfg = copy.deepcopy(base)
        cfg.sampler.num_threads = threads
        source = zarr if store == "tensorstore" else dataset
        started = time.perf_counter()
        summary = train_gnn(cfg, optim, source, RunOptions(progress=False, evaluate_test=False, max_steps=max_steps)).summary
        wall = time.perf_counter() - started
        measured = summary["steps"] - 1  # the first step compiles and is timed apart
        row = {
            "features": store, "pipeline": pipeline_mode, "threads": threads, "steps": summary["steps"],
            "steps_per_epoch": summary["steps_per_epoch"], "first_step_s": summary["first_step_s"],
            "sample_s": summary["time_sample_s"], "fetch_s": summary["time_fetch_s"], "pad_s": summary["time_pad_s"],
            "compute_s": summary["time_compute_s"], "input_wait_s": summary["time_input_wait_s"],
            "transfer_s": summary["time_transfer_s"],
            "input_wait_fraction": summary["input_wait_fraction"], "seeds_per_s": summary["seeds_per_s"],
            "node_padding": summary["node_padding"], "edge_padding": summary["edge_padding"],
            "ms_per_step": 1000 * (summary["time_compute_s"] + summary["time_input_wait_s"] + summary["time_transfer_s"])
            / max(measured, 1),
            "wall_s": wall, "val_accuracy": summary["best_val_accuracy"], "layout": summary["layout"],
            "peak_rss_gib": psutil.Process().memory_info().rss / 2**30,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    print("\n| features | pipeline | steps | sampling s | fetch s | padding s | compute s | transfer s | input wait s "
          "| wait fraction | seeds/s | node padding | edge padding |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['features']} | {r['pipeline']} ({r['threads']} threads) | {r['steps']} | {r['sample_s']:.1f} | "
              f"{r['fetch_s']:.1f} | {r['pad_s']:.1f} | {r['compute_s']:.1f} | {r['transfer_s']:.1f} | "
              f"{r['input_wait_s']:.1f} | "
              f"{r['input_wait_fraction']:.1%} | {r['seeds_per_s']:,.0f} | {r['node_padding']:.1%} | "
              f"{r['edge_padding']:.1%} |")


if __name__ == "__main__":
    main()

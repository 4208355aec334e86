"""Benchmark the graph store: lookup latency, sampling throughput and builder throughput.

Prints the machine, versions, the command and one markdown table per section.
Stores are generated under --workdir and deleted after each measurement
unless --keep is given.

    python scripts/bench_graph.py --section all --scales 16,18,20,22,24,26,28 --workdir /work/scratch/graph
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


# ---------------------------------------------------------------- machine


def machine_summary() -> list[str]:
    from atlas_jax import _core

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    info = _core.build_info()
    return [
        f"machine: {platform.node()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, {memory_gb:.1f} GiB RAM",
        f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (the machine is shared)",
        f"python {platform.python_version()}, numpy {np.__version__}, atlas_jax._core {info['version']} "
        f"({info['build_type']}, {info['compiler']})",
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}",
    ]


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


# ---------------------------------------------------------------- builds in a child process


def _build_child(spec: dict) -> dict:
    """Run one build in this process and report wall time, CPU time and peak RSS."""
    from atlas_jax.graph import build_graph, generate_rmat

    start_wall = time.perf_counter()
    start_cpu = time.process_time()
    if spec["kind"] == "rmat":
        store = generate_rmat(spec["out"], spec["scale"], spec["edge_factor"], spec["seed"], memory=spec["memory"],
                              num_threads=spec.get("threads"), progress=False)
    else:
        store = build_graph(spec["out"], input_path=spec["input"], input_format=spec["format"],
                            memory=spec["memory"], progress=False)
    return {
        "seconds": time.perf_counter() - start_wall,
        "cpu_seconds": time.process_time() - start_cpu,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "num_nodes": store.num_nodes,
        "num_edges": store.num_edges,
        "file_gb": os.path.getsize(spec["out"]) / 2**30,
    }


def build_in_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- latency


def bench_latency(args: argparse.Namespace) -> None:
    from atlas_jax import _core
    from atlas_jax.graph import GraphStore

    rows = []
    for scale in args.scales:
        path = Path(args.workdir) / f"rmat{scale}.csr"
        build = build_in_child(dict(kind="rmat", out=str(path), scale=scale, edge_factor=args.edge_factor,
                                    seed=1, memory=args.memory))
        store = GraphStore.open(path)
        ids = np.random.default_rng(scale).integers(0, store.num_nodes, size=args.lookups)
        warm = _core.time_lookups(store._core, ids, args.repeats, True)
        sweep = _core.time_lookups(store._core, ids, args.repeats, False)
        rows.append([str(scale), f"{store.num_nodes:,}", f"{store.num_edges:,}", f"{build['file_gb']:.2f}",
                     f"{np.percentile(warm, 50):.0f}", f"{np.percentile(warm, 99):.0f}",
                     f"{np.percentile(sweep, 50):.0f}", f"{np.percentile(sweep, 99):.0f}",
                     f"{build['seconds']:.1f}", f"{build['num_edges'] / build['seconds'] / 1e6:.2f}",
                     f"{build['peak_rss_gb']:.2f}"])
        print(f"  scale {scale}: {rows[-1]}", file=sys.stderr)
        del store
        if not args.keep:
            path.unlink()
    print_table(
        f"Neighbour lookup latency (R-MAT, edge factor {args.edge_factor}, {args.lookups:,} uniform random ids, "
        f"timed in C++; warm: median of {args.repeats} back-to-back lookups per id; random order: mean over "
        f"{args.repeats} rounds through all ids, pages resident but CPU caches cold)",
        ["scale", "nodes", "edges", "file (GiB)", "warm p50 (ns)", "warm p99 (ns)", "random-order p50 (ns)",
         "random-order p99 (ns)", "build (s)", "build (M edges/s)", "build peak RSS (GiB)"],
        rows,
    )


# ---------------------------------------------------------------- sampling


def numpy_sample(indptr: np.ndarray, indices: np.ndarray, seeds: np.ndarray, fanouts: list[int],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised numpy sampler with the same semantics: without replacement, new nodes expand next hop."""
    frontier = seeds
    seen = np.sort(seeds)
    hops = [seeds]
    senders, receivers = [], []
    for fanout in fanouts:
        start = indptr[frontier]
        degree = indptr[frontier + 1] - start
        total = int(degree.sum())
        segment = np.repeat(np.arange(frontier.size), degree)
        position = np.arange(total) - np.repeat(np.cumsum(degree) - degree, degree)
        # Random order within each segment: sort by segment + a uniform key in [0, 1).
        order = np.argsort(segment + rng.random(total), kind="stable")
        chosen = order[position < fanout]
        neighbors = indices[start[segment[chosen]] + position[chosen]].astype(np.int64)
        senders.append(neighbors)
        receivers.append(frontier[segment[chosen]])
        new = np.setdiff1d(neighbors, seen)
        seen = np.union1d(seen, new)
        hops.append(new)
        frontier = new
    nodes = np.concatenate(hops)
    order = np.argsort(nodes)
    local = lambda ids: order[np.searchsorted(nodes, ids, sorter=order)]  # noqa: E731
    send = np.concatenate(senders)
    recv = np.concatenate(receivers)
    return nodes, local(send).astype(np.int32), local(recv).astype(np.int32)


def numpy_sample_with_replacement(indptr: np.ndarray, indices: np.ndarray, seeds: np.ndarray, fanouts: list[int],
                                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheaper vectorised baseline: min(degree, fanout) draws per node, with replacement, O(sampled edges)."""
    frontier = seeds
    seen = np.sort(seeds)
    hops = [seeds]
    senders, receivers = [], []
    for fanout in fanouts:
        start = indptr[frontier]
        degree = indptr[frontier + 1] - start
        draws = np.minimum(degree, fanout)
        segment = np.repeat(np.arange(frontier.size), draws)
        offset = (rng.random(segment.size) * degree[segment]).astype(np.int64)
        neighbors = indices[start[segment] + offset].astype(np.int64)
        senders.append(neighbors)
        receivers.append(frontier[segment])
        new = np.setdiff1d(neighbors, seen)
        seen = np.union1d(seen, new)
        hops.append(new)
        frontier = new
    nodes = np.concatenate(hops)
    order = np.argsort(nodes)
    local = lambda ids: order[np.searchsorted(nodes, ids, sorter=order)]  # noqa: E731
    return nodes, local(np.concatenate(senders)).astype(np.int32), local(np.concatenate(receivers)).astype(np.int32)


def bench_sampling(args: argparse.Namespace) -> None:
    from atlas_jax.graph import GraphStore, sample

    path = Path(args.workdir) / f"rmat{args.sample_scale}_sample.csr"
    if not path.exists():  # a store left by an earlier run with --keep is reused
        build_in_child(dict(kind="rmat", out=str(path), scale=args.sample_scale, edge_factor=16, seed=2,
                            memory=args.memory))
    store = GraphStore.open(path)
    indptr = np.asarray(store.indptr)
    indices = np.asarray(store.indices)
    rng = np.random.default_rng(0)
    # Seeds among nodes with edges, as a training set would be.
    candidates = np.flatnonzero(np.diff(indptr) > 0)
    batches = [rng.choice(candidates, size=args.batch_size, replace=False) for _ in range(args.batches)]

    rows = []
    for fanouts in ([15, 10, 5], [25, 10]):
        def run_cpp(threads: int) -> float:
            sample(store, batches[0], fanouts, seed=0, num_threads=threads)  # warm
            edges = 0
            start = time.perf_counter()
            for i, seeds in enumerate(batches):
                edges += sample(store, seeds, fanouts, seed=i, num_threads=threads).num_edges
            return edges / (time.perf_counter() - start)

        def run_numpy(sampler) -> float:
            sampler(indptr, indices, batches[0], fanouts, rng)  # warm
            edges = 0
            start = time.perf_counter()
            for seeds in batches[: args.numpy_batches]:
                edges += sampler(indptr, indices, seeds, fanouts, rng)[1].size
            return edges / (time.perf_counter() - start)

        exact_rate = run_numpy(numpy_sample)
        replacement_rate = run_numpy(numpy_sample_with_replacement)
        for threads in (1, 2):
            rate = run_cpp(threads)
            rows.append([str(fanouts), str(threads), f"{rate / 1e6:.2f}", f"{exact_rate / 1e6:.3f}",
                         f"{rate / exact_rate:.0f}x", f"{replacement_rate / 1e6:.2f}",
                         f"{rate / replacement_rate:.1f}x"])
            print(f"  {rows[-1]}", file=sys.stderr)
    del store
    if not args.keep:
        path.unlink()
    print_table(
        f"Neighbour sampling (R-MAT scale {args.sample_scale}, edge factor 16, batch {args.batch_size}, "
        f"{args.batches} batches, seeds with degree > 0)",
        ["fanouts", "threads", "atlas (M edges/s)", "numpy, same semantics (M edges/s)", "speedup",
         "numpy, with replacement (M edges/s)", "speedup"],
        rows,
    )


# ---------------------------------------------------------------- builder


def bench_build(args: argparse.Namespace) -> None:
    from atlas_jax.graph import rmat_edges

    workdir = Path(args.workdir)
    scale = args.build_scale
    rows = []

    def add(label: str, spec: dict, input_edges: int) -> None:
        result = build_in_child(spec)
        rows.append([label, f"{input_edges:,}", spec["memory"], f"{result['seconds']:.1f}",
                     f"{result['cpu_seconds']:.1f}", f"{input_edges / result['seconds'] / 1e6:.2f}",
                     f"{result['peak_rss_gb']:.2f}"])
        print(f"  {rows[-1]}", file=sys.stderr)
        Path(spec["out"]).unlink()

    edges = 16 << scale
    out = str(workdir / "build_bench.csr")
    for memory in (args.memory, "256MB"):
        add(f"R-MAT scale {scale} (streamed)", dict(kind="rmat", out=out, scale=scale, edge_factor=16, seed=3,
                                                    memory=memory), edges)
    src, dst = rmat_edges(scale, 16, seed=3)
    pairs = np.stack([src, dst], axis=1)
    npy = workdir / "edges.npy"
    np.save(npy, pairs)
    add(f".npy int64 (scale {scale})", dict(kind="file", out=out, input=str(npy), format="npy", memory=args.memory),
        edges)
    npy.unlink()
    text = workdir / "edges.txt"
    np.savetxt(text, pairs[: edges // 4], fmt="%d", delimiter="\t")
    add(f"text, tab-separated (first quarter of scale {scale})",
        dict(kind="file", out=out, input=str(text), format="text", memory=args.memory), edges // 4)
    text.unlink()
    print_table(
        "Builder throughput (input edges per second of wall time; peak RSS of the building process)",
        ["input", "edges", "memory budget", "wall (s)", "CPU (s)", "M edges/s", "peak RSS (GiB)"],
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=["latency", "sample", "build", "all"], default="all")
    parser.add_argument("--scales", default="16,18,20,22,24,26,28",
                        help="R-MAT scales (log2 nodes) for the latency sweep, comma-separated")
    parser.add_argument("--edge-factor", type=int, default=16, help="edges per node in the latency sweep")
    parser.add_argument("--lookups", type=int, default=100_000, help="random node ids timed per scale")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per id after one warm-up round")
    parser.add_argument("--sample-scale", type=int, default=22, help="R-MAT scale of the sampling store")
    parser.add_argument("--batch-size", type=int, default=1024, help="seed nodes per sampled batch")
    parser.add_argument("--batches", type=int, default=20, help="batches timed per configuration")
    parser.add_argument("--numpy-batches", type=int, default=5, help="batches timed for the numpy samplers")
    parser.add_argument("--build-scale", type=int, default=22, help="R-MAT scale of the builder inputs")
    parser.add_argument("--memory", default="4GB", help="builder memory budget (bytes, K/M/G/T suffix)")
    parser.add_argument("--workdir", default="/work/scratch/graph", help="directory for generated stores")
    parser.add_argument("--keep", action="store_true", help="keep generated stores")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_build_child(json.loads(args.child))))
        return 0
    args.scales = [int(s) for s in args.scales.split(",")]
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    for line in machine_summary():
        print(line)
    if args.section in ("latency", "all"):
        bench_latency(args)
    if args.section in ("sample", "all"):
        bench_sampling(args)
    if args.section in ("build", "all"):
        bench_build(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

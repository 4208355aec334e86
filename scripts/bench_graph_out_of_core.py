"""One-off out-of-core runs of the graph store, too big for the regular benchmark.

``billion``: build an R-MAT store with 2^30 nodes through the out-of-core
builder in a child process, report its wall time and peak RSS, then sample from it.

``larger-than-ram``: write a store bigger than physical memory straight from
a streamed generator (a uniform random graph, every node with the same
out-degree, neighbours drawn with replacement), then sample from it and report
anonymous memory, file-backed memory, major page faults and throughput.

Both delete their store afterwards unless --keep is given.

    python scripts/bench_graph_out_of_core.py billion --workdir /work/scratch/graph
    python scripts/bench_graph_out_of_core.py larger-than-ram --workdir /work/scratch/graph
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ALIGNMENT = 4096
HEADER_FORMAT = "<8sIIII4Q" + "QQII" * 5 + "64sII"  # see docs/graph_format.md


def memory_status() -> dict[str, float]:
    """RssAnon, RssFile and VmHWM of this process in GiB, from /proc/self/status."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 2**20
    return out


def system_memory() -> str:
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = int(value.split()[0]) / 2**20
    return (f"MemTotal {fields['MemTotal']:.1f} GiB, MemAvailable {fields['MemAvailable']:.1f} GiB, "
            f"Cached {fields['Cached']:.1f} GiB")


def header_line() -> None:
    from atlas_jax import _core

    print(f"machine: {os.uname().nodename}, {os.cpu_count()} CPUs; {system_memory()}")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (the machine is shared)")
    print(f"atlas_jax._core {_core.build_info()['version']}, numpy {np.__version__}")
    print(f"command: python {' '.join(sys.argv)}")
    sys.stdout.flush()


def sample_report(store, batches: int, batch_size: int, fanouts: list[int], threads: int) -> dict:
    """Sample `batches` batches of uniform random seeds and report throughput, faults and memory."""
    from atlas_jax.graph import sample

    rng = np.random.default_rng(0)
    before = resource.getrusage(resource.RUSAGE_SELF)
    max_anon = memory_status()["RssAnon"]
    edges = 0
    start = time.perf_counter()
    for i in range(batches):
        seeds = np.unique(rng.integers(0, store.num_nodes, size=batch_size))
        edges += sample(store, seeds, fanouts, seed=i, num_threads=threads).num_edges
        max_anon = max(max_anon, memory_status()["RssAnon"])
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    status = memory_status()
    return {
        "batches": batches,
        "sampled_edges": edges,
        "seconds": seconds,
        "edges_per_second": edges / seconds,
        "major_faults": after.ru_majflt - before.ru_majflt,
        "minor_faults": after.ru_minflt - before.ru_minflt,
        "max_rss_anon_gb": max_anon,
        "rss_file_gb": status["RssFile"],
    }


def print_sampling(title: str, report: dict, fanouts: list[int], batch_size: int, threads: int) -> None:
    print(f"\n### {title}\n")
    print("| fanouts | batch | threads | batches | sampled edges | seconds | edges/s | major faults | "
          "major faults per batch | max RssAnon (GiB) | RssFile at end (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {fanouts} | {batch_size} | {threads} | {report['batches']} | {report['sampled_edges']:,} | "
          f"{report['seconds']:.1f} | {report['edges_per_second']:.3g} | {report['major_faults']:,} | "
          f"{report['major_faults'] / report['batches']:.0f} | {report['max_rss_anon_gb']:.3f} | "
          f"{report['rss_file_gb']:.2f} |")
    sys.stdout.flush()


# ---------------------------------------------------------------- billion


def run_billion(args: argparse.Namespace) -> None:
    from atlas_jax.graph import GraphStore

    path = Path(args.workdir) / f"rmat{args.scale}_ef{args.edge_factor}.csr"
    child = (
        "import json, resource, time\n"
        "from atlas_jax.graph import generate_rmat\n"
        "t = time.perf_counter(); c = time.process_time()\n"
        f"s = generate_rmat({str(path)!r}, {args.scale}, {args.edge_factor}, 1, memory={args.memory!r}, progress=False)\n"
        "print(json.dumps(dict(seconds=time.perf_counter() - t, cpu_seconds=time.process_time() - c,\n"
        "    peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,\n"
        "    num_nodes=s.num_nodes, num_edges=s.num_edges)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stderr[-3000:]}")
    build = json.loads(proc.stdout.strip().splitlines()[-1])
    size_gb = path.stat().st_size / 2**30
    print(f"\n### R-MAT scale {args.scale}, edge factor {args.edge_factor}, memory budget {args.memory}\n")
    print("| nodes | edges | file (GiB) | wall (s) | CPU (s) | input edges/s | peak RSS (GiB) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {build['num_nodes']:,} | {build['num_edges']:,} | {size_gb:.2f} | {build['seconds']:.0f} | "
          f"{build['cpu_seconds']:.0f} | {build['num_edges'] / build['seconds']:.3g} | {build['peak_rss_gb']:.2f} |")
    sys.stdout.flush()
    store = GraphStore.open(path)
    from atlas_jax import _core

    ids = np.random.default_rng(0).integers(0, store.num_nodes, size=100_000)
    warm = _core.time_lookups(store._core, ids, 5, True)
    sweep = _core.time_lookups(store._core, ids, 5, False)
    print(f"\nlookup latency over 100,000 random ids, timed in C++: warm p50 {np.percentile(warm, 50):.0f} ns, "
          f"p99 {np.percentile(warm, 99):.0f} ns; random order p50 {np.percentile(sweep, 50):.0f} ns, "
          f"p99 {np.percentile(sweep, 99):.0f} ns")
    report = sample_report(store, args.batches, 1024, [15, 10, 5], 2)
    print_sampling(f"Sampling from the 2^{args.scale}-node store", report, [15, 10, 5], 1024, 2)
    del store
    if not args.keep:
        path.unlink()


# ---------------------------------------------------------------- larger than RAM


def write_uniform_store(path: Path, nodes_log2: int, degree: int, seed: int) -> None:
    """Write a store whose node v has `degree` uniform random neighbours, streaming section by section."""
    from atlas_jax import _core

    n = 1 << nodes_log2
    m = n * degree
    indices_dtype = np.int32 if n <= 2**31 else np.int64
    indptr_offset = ALIGNMENT
    indptr_bytes = (n + 1) * 8
    indices_offset = -(-(indptr_offset + indptr_bytes) // ALIGNMENT) * ALIGNMENT
    indices_bytes = m * np.dtype(indices_dtype).itemsize
    file_size = -(-(indices_offset + indices_bytes) // ALIGNMENT) * ALIGNMENT
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    rng = np.random.default_rng(seed)
    chunk_nodes = 1 << 22
    try:
        with open(tmp, "wb") as f:
            f.truncate(file_size)
            f.seek(indptr_offset)
            indptr_crc = 0
            for lo in range(0, n + 1, chunk_nodes):
                part = np.arange(lo, min(n + 1, lo + chunk_nodes), dtype=np.int64) * degree
                indptr_crc = _core.crc32(part, indptr_crc)
                part.tofile(f)
            f.seek(indices_offset)
            indices_crc = 0
            start = time.perf_counter()
            for lo in range(0, n, chunk_nodes):
                part = rng.integers(0, n, size=min(chunk_nodes, n - lo) * degree, dtype=indices_dtype)
                indices_crc = _core.crc32(part, indices_crc)
                part.tofile(f)
                done = lo + chunk_nodes
                if (lo // chunk_nodes) % 8 == 0:
                    rate = done * degree / (time.perf_counter() - start)
                    print(f"  wrote {min(done, n) * degree:,} of {m:,} edges ({rate / 1e6:.0f} M edges/s)",
                          file=sys.stderr)
            sections = [(indptr_offset, indptr_bytes, 2, indptr_crc),
                        (indices_offset, indices_bytes, 1 if indices_dtype == np.int32 else 2, indices_crc)]
            sections += [(0, 0, 0, 0)] * 3
            fields = [b"ATLASCSR", 1, 0x01020304, 248, ALIGNMENT, 0, n, m, file_size]
            for section in sections:
                fields.extend(section)
            header = struct.pack(HEADER_FORMAT, *fields, b"\0" * 64, 0, 0)
            crc = _core.crc32(header)
            header = header[:244] + struct.pack("<I", crc)
            f.seek(0)
            f.write(header)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_larger_than_ram(args: argparse.Namespace) -> None:
    from atlas_jax.graph import GraphStore

    path = Path(args.workdir) / f"uniform{args.nodes_log2}_d{args.degree}.csr"
    start = time.perf_counter()
    write_uniform_store(path, args.nodes_log2, args.degree, seed=5)
    write_seconds = time.perf_counter() - start
    size_gb = path.stat().st_size / 2**30
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"\nstore: 2^{args.nodes_log2} nodes, out-degree {args.degree}, {size_gb:.1f} GiB on disk "
          f"({size_gb / ram_gb:.2f} x the {ram_gb:.1f} GiB of RAM), written in {write_seconds:.0f} s")
    print(f"after writing: {system_memory()}")
    store = GraphStore.open(path)
    # Random access everywhere: no readahead on indptr either (open() already sets it for indices).
    store.advise("indptr", "random")
    report = sample_report(store, args.batches, 1024, [15, 10, 5], 2)
    print(f"after sampling: {system_memory()}")
    print_sampling(f"Sampling from a {size_gb:.1f} GiB store on a {ram_gb:.1f} GiB machine", report, [15, 10, 5],
                   1024, 2)
    del store
    if not args.keep:
        path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    billion = sub.add_parser("billion", help="build a 2^30-node R-MAT store and report peak RSS")
    billion.add_argument("--scale", type=int, default=30, help="log2 of the node count")
    billion.add_argument("--edge-factor", type=int, default=1, help="edges per node")
    billion.add_argument("--memory", default="7GB", help="builder memory budget (bytes, K/M/G/T suffix)")
    billion.add_argument("--batches", type=int, default=50, help="sampled batches of 1024 seeds")
    big = sub.add_parser("larger-than-ram", help="write a store larger than RAM and sample from it")
    big.add_argument("--nodes-log2", type=int, default=28, help="log2 of the node count")
    big.add_argument("--degree", type=int, default=24, help="out-degree of every node")
    big.add_argument("--batches", type=int, default=10, help="sampled batches of 1024 seeds")
    for p in (billion, big):
        p.add_argument("--workdir", default="/work/scratch/graph", help="directory for the store")
        p.add_argument("--keep", action="store_true", help="keep the store")
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    header_line()
    if args.command == "billion":
        run_billion(args)
    else:
        run_larger_than_ram(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``atlas-graph`` command: build, inspect, sample and generate graph stores."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

import numpy as np

from atlas_jax.errors import AtlasError

logger = logging.getLogger(__name__)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 15,10,5, got {text!r}") from None


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symmetrize", action="store_true", help="store every edge in both directions")
    parser.add_argument("--drop-self-loops", action="store_true", help="drop edges (v, v)")
    parser.add_argument("--dedup", action="store_true", help="keep one copy of repeated (neighbour, type) edges per node")
    parser.add_argument("--no-sort", action="store_true", help="keep input order within each node instead of sorting")
    parser.add_argument(
        "--memory", default="2GB",
        help="builder memory budget in bytes, with an optional binary unit suffix: K, M, G, T (default: 2GB)",
    )
    parser.add_argument("--temp-dir", default=None, help="directory for temporary files (default: next to the output)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atlas-graph",
        description="Build, inspect, sample and generate memory-mapped CSR graph stores.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build a store from an edge-list file")
    build.add_argument("input", help="edge list: text (src dst [weight] [type]), .npy, or raw binary pairs")
    build.add_argument("output", help="store file to write")
    build.add_argument("--format", choices=["text", "npy", "bin32", "bin64"], default=None,
                       help="input format (default: from the suffix; bin32/bin64 are int32/int64 (src, dst) pairs)")
    build.add_argument("--num-nodes", type=int, default=None,
                       help="node count in nodes; ids must be below it (default: 1 + the largest id)")
    build.add_argument("--weights", action="store_true", help="text input: read column 3 as a float32 edge weight")
    build.add_argument("--edge-types", action="store_true",
                       help="text input: read the last column as an edge type in 0..65535")
    build.add_argument("--remap", choices=["auto", "always", "never"], default="auto",
                       help="renumber sparse ids densely and keep an id map (auto: when the largest id exceeds "
                            "4 x the edge count)")
    _add_build_options(build)

    info = sub.add_parser("info", help="print a store's header, sections and degree statistics")
    info.add_argument("store", help="store file")
    info.add_argument("--verify", action="store_true", help="also read and checksum every section")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sample = sub.add_parser("sample", help="sample neighbourhoods and report throughput")
    sample.add_argument("store", help="store file")
    sample.add_argument("--fanouts", type=_int_list, default=[15, 10, 5],
                        help="neighbours per node at each hop, comma-separated (default: 15,10,5)")
    sample.add_argument("--batch-size", type=int, default=1024, help="seed nodes per batch (default: 1024)")
    sample.add_argument("--batches", type=int, default=10, help="number of batches to draw (default: 10)")
    sample.add_argument("--seeds", type=_int_list, default=None,
                        help="explicit seed node ids, comma-separated (overrides --batch-size and --batches)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sample.add_argument("--weighted", action="store_true", help="draw neighbours proportionally to edge weights")
    sample.add_argument("--threads", type=int, default=None, help="sampler threads (default: CPU count, up to 8)")
    sample.add_argument("--output", default=None, help="write the last sampled subgraph to this .npz file")

    generate = sub.add_parser("generate", help="build a Graph500 R-MAT store from the streamed generator")
    generate.add_argument("output", help="store file to write")
    generate.add_argument("--scale", type=int, required=True, help="log2 of the node count (nodes = 2^scale)")
    generate.add_argument("--edge-factor", type=int, default=16,
                          help="edges per node (edges = edge_factor * 2^scale, default: 16)")
    generate.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    generate.add_argument("--no-permute", action="store_true", help="keep R-MAT ids instead of a seeded relabelling")
    generate.add_argument("--threads", type=int, default=None, help="generator threads (default: CPU count)")
    _add_build_options(generate)
    return parser


def _print_info(info: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    sections = info.pop("sections")
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    print()
    print(f"{'section':<8}  {'offset (B)':>14}  {'size (B)':>16}  {'dtype':<8}  crc32")
    for name, section in sections.items():
        print(f"{name:<8}  {section['offset']:>14}  {section['nbytes']:>16}  {section['dtype']:<8}  "
              f"{section['crc32']:#010x}")


def _run(args: argparse.Namespace) -> int:
    from atlas_jax import graph

    if args.command == "build":
        store = graph.build_graph(
            args.output, input_path=args.input, input_format=args.format, num_nodes=args.num_nodes,
            symmetrize=args.symmetrize, drop_self_loops=args.drop_self_loops, dedup=args.dedup,
            sort=not args.no_sort, weights=args.weights or None, edge_types=args.edge_types or None,
            remap=args.remap, memory=args.memory, temp_dir=args.temp_dir, progress=not args.quiet,
        )
        print(store)
    elif args.command == "generate":
        store = graph.generate_rmat(
            args.output, args.scale, args.edge_factor, args.seed, permute=not args.no_permute,
            symmetrize=args.symmetrize, drop_self_loops=args.drop_self_loops, dedup=args.dedup,
            sort=not args.no_sort, memory=args.memory, num_threads=args.threads, temp_dir=args.temp_dir,
            progress=not args.quiet,
        )
        print(store)
    elif args.command == "info":
        store = graph.GraphStore.open(args.store, verify=args.verify)
        _print_info(store.info(), args.json)
    elif args.command == "sample":
        store = graph.GraphStore.open(args.store)
        rng = np.random.default_rng(args.seed)
        total_edges = 0
        start = time.perf_counter()
        batches = 1 if args.seeds is not None else args.batches
        result = None
        for batch in range(batches):
            if args.seeds is not None:
                seeds = np.asarray(args.seeds, dtype=np.int64)
            else:
                seeds = rng.choice(store.num_nodes, size=min(args.batch_size, store.num_nodes), replace=False)
            result = graph.sample(store, seeds, args.fanouts, seed=args.seed + batch, weighted=args.weighted,
                                  num_threads=args.threads)
            total_edges += result.num_edges
        seconds = time.perf_counter() - start
        print(f"{batches} batches, fanouts {args.fanouts}: {total_edges} sampled edges in {seconds:.3f} s "
              f"({total_edges / max(seconds, 1e-9):.4g} edges/s); last batch {result.num_nodes} nodes")
        if args.output is not None:
            np.savez(args.output, nodes=result.nodes, senders=result.senders, receivers=result.receivers,
                     node_hop_offsets=result.node_hop_offsets, edge_hop_offsets=result.edge_hop_offsets)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``atlas-graph``; returns the process exit status."""
    args = _make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (AtlasError, OSError, IndexError) as err:
        print(f"atlas-graph {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"atlas-graph {args.command}: interrupted; no output was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

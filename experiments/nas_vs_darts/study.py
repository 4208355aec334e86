"""Run the whole NAS-versus-DARTS study, one process per method, and print the tables.

    python experiments/nas_vs_darts/study.py            # run everything missing, then report
    python experiments/nas_vs_darts/study.py digits     # only one dataset's jobs
    python experiments/nas_vs_darts/study.py --report   # only rebuild the tables from results

Results go to $NAS_STUDY_RESULTS (default /work/scratch/nas/nas_vs_darts); the tables are also
written to results.md next to this script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import common

HERE = Path(__file__).resolve().parent
METHODS = ("ours", "rs_ws", "darts1", "plain_rs", "darts2", "darts1_shared", "darts2_shared")
LABELS = {
    "ours": "supernet + evolution (ours)",
    "rs_ws": "supernet + random search",
    "darts1": "DARTS 1st order",
    "darts2": "DARTS 2nd order",
    "darts1_shared": "DARTS 1st order, shared weights",
    "darts2_shared": "DARTS 2nd order, shared weights",
    "plain_rs": "plain random search",
}


def jobs(datasets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    out = []
    for dataset in datasets:
        for method in METHODS[:4]:
            out.append((f"{dataset}_{method}.json", ["run_method.py", dataset, method]))
        out.append((f"{dataset}_rank.json", ["rank.py", dataset, str(common.RANK_COUNT)]))
        for which in ("supernet", "largest"):
            out.append((f"{dataset}_memory_{which}.json", ["memory.py", dataset, which]))
        # The slowest baselines run last, so the targets' measurements finish first.
        for method in METHODS[4:]:
            out.append((f"{dataset}_{method}.json", ["run_method.py", dataset, method]))
    return out


def run_all(datasets: tuple[str, ...]) -> None:
    for result, argv in jobs(datasets):
        if (common.RESULTS / result).is_file():
            continue
        start = time.perf_counter()
        print(f"running {' '.join(argv)}", flush=True)
        subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], check=True, cwd=HERE)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)


def load(name: str) -> dict | None:
    path = common.RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def report() -> str:
    from atlas_jax.nas.pipeline import seeds_ci

    lines = []
    machine = None
    for dataset in common.DATASETS:
        lines += [f"### {dataset}", "",
                  "| method | search run s (mean) | compile s (mean) | peak RSS MiB | test acc (mean ± 95% CI) "
                  "| widest / skip-only | DARTS-1 time / method time |",
                  "|---|---|---|---|---|---|---|"]
        darts1 = load(f"{dataset}_darts1.json")
        darts1_time = np.mean([r["search_run_seconds"] for r in darts1["runs"]]) if darts1 else float("nan")
        for method in METHODS:
            data = load(f"{dataset}_{method}.json")
            if data is None:
                lines.append(f"| {LABELS[method]} | not run | | | | | |")
                continue
            machine = data["machine"]
            runs = data["runs"]
            run_s = np.mean([r["search_run_seconds"] for r in runs])
            compile_s = np.mean([r["compile_seconds"] for r in runs])
            mean, half = seeds_ci([r["test_accuracy"] for r in runs])
            widest = sum(r["degenerate"]["widest"] for r in runs)
            skip = sum(r["degenerate"]["skip_only"] for r in runs)
            lines.append(
                f"| {LABELS[method]} | {run_s:.1f} | {compile_s:.1f} | {data['peak_rss_mb']:.0f} | "
                f"{mean:.4f} ± {half:.4f} | {widest} / {skip} of {len(runs)} | {darts1_time / run_s:.2f}x |"
            )
        rank = load(f"{dataset}_rank.json")
        if rank:
            lines += ["", f"Kendall tau, supernet (inherited weights) vs stand-alone validation accuracy over "
                          f"{rank['count']} architectures: **{rank['kendall_tau']:.3f}** (p = {rank['kendall_p']:.2g}); "
                          f"Spearman {rank['spearman']:.3f}; tau of parameter count alone {rank['params_kendall_tau']:.3f}."]
            if rank["count"] > 30:
                from scipy import stats

                halves = [rank["rows"][:30], rank["rows"][30:]]
                taus = [stats.kendalltau([r["supernet"] for r in h], [r["standalone"] for r in h]).statistic
                        for h in halves]
                lines[-1] += (f" The first 30 architectures alone give {taus[0]:.3f}, the other "
                              f"{len(halves[1])} give {taus[1]:.3f}.")
        sup, big = load(f"{dataset}_memory_supernet.json"), load(f"{dataset}_memory_largest.json")
        if sup and big:
            lines += ["", f"Memory: supernet training peak RSS {sup['peak_rss_mb']:.0f} MiB vs largest sub-network "
                          f"alone {big['peak_rss_mb']:.0f} MiB (ratio {sup['peak_rss_mb'] / big['peak_rss_mb']:.2f}); "
                          f"largest compiled step (XLA estimate) {sup['program_bytes'] / 2**20:.2f} MiB vs "
                          f"{big['program_bytes'] / 2**20:.2f} MiB (ratio {sup['program_bytes'] / big['program_bytes']:.2f})."]
        lines.append("")
    if machine:
        lines.insert(0, f"Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, "
                        f"jax {machine['jax']}.\n")
    return "\n".join(lines)


def main() -> None:
    datasets = tuple(a for a in sys.argv[1:] if not a.startswith("--")) or common.DATASETS
    if "--report" not in sys.argv:
        run_all(datasets)
    text = report()
    (HERE / "results.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

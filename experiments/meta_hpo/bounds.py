"""Bound the regret a prior can reach in 10 trials on this suite, with static portfolios.

    python experiments/meta_hpo/bounds.py                                            # 5-fold grid
    python experiments/meta_hpo/bounds.py --grid experiments/meta_hpo/data/grid.npz  # single split

The study's prior spends its first trials on warm-start configs. This script scores, per
target and without any optimizer, the best regret within the first 10 configs of several
10-config portfolios, next to the expected regret of 50 random grid configs:

- `prior`: the study's own warm starts (tuned sizes, family held out, transfer check off).
- `greedy_other_families`: the greedy portfolio over every task of the other families.
- `greedy_same_family`: the greedy portfolio over the target's own family, target left out.
  This breaks the family hold-out on purpose: it is what a history holding the target's
  closest relatives would give.

`--variants` adds other ways to build the portfolio from the other families: more or
fewer nearest tasks, more configs per neighbour, and simpler rankings of the configs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study import TOP, Benchmark, config_key, expected_regret_at, tune_prior_sizes  # noqa: E402

from atlas_jax.meta import build_prior, task_distances  # noqa: E402
from atlas_jax.meta.prior import greedy_portfolio  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = 10  # configs per portfolio: the 10-trial checkpoint of the study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=Path, default=HERE / "data" / "grid_5fold.npz")
    parser.add_argument("--features", type=Path, default=HERE / "data" / "meta_features.json")
    parser.add_argument("--variants", action="store_true", help="also score other portfolio constructions")
    args = parser.parse_args()

    bench = Benchmark(args.grid, args.features)
    print("prior sizes by leave-family-out on the history side:")
    bench.sizes = tune_prior_sizes(bench, refine=(False,))  # static portfolios only
    accuracy = bench.accuracy
    best, median = accuracy.max(axis=1, keepdims=True), np.median(accuracy, axis=1, keepdims=True)
    regret = (best - accuracy) / np.where(best > median, best - median, np.inf)
    scores = np.clip(1.0 - regret, -1.0, 1.0)
    families = np.array(bench.families)
    index = {config_key(c): i for i, c in enumerate(bench.configs)}
    targets = [t for t in range(len(bench.tasks)) if best[t, 0] > median[t, 0]]

    rows = {name: [] for name in ("prior", "greedy_other_families", "greedy_same_family", "random_at_50")}
    variants = {}
    if args.variants:
        for k in (10, 20, 30, 46):
            variants.update({f"prior_k{k}_top30": [], f"greedy_k{k}_all_configs": [], f"hits_k{k}_regret_0.1": [],
                             f"mean_score_k{k}": []})
    rows.update(variants)
    for t in targets:
        k = bench.sizes[bench.families[t]][0]
        history = bench.history(t)
        prior = build_prior(bench.space, bench.features[bench.tasks[t]], history, k=k, warm_starts=SIZE, top=TOP,
                            check_transfer=False)
        picks = [index[config_key(values)] for values in prior.warm_starts]
        rows["prior"].append(regret[t, picks].min())
        others = np.flatnonzero(families != families[t])
        unweighted = greedy_portfolio(scores[others], np.ones(len(others)), SIZE)
        rows["greedy_other_families"].append(regret[t, unweighted].min())
        same = np.array([u for u in np.flatnonzero(families == families[t]) if u != t])
        rows["greedy_same_family"].append(regret[t, greedy_portfolio(scores[same], np.ones(len(same)), SIZE)].min()
                                          if len(same) else np.nan)
        rows["random_at_50"].append(expected_regret_at(regret[t], [], 50))
        if variants:
            distances = task_distances(bench.features[bench.tasks[t]], history)
            by_distance = [bench.tasks.index(history[i].task) for i in np.argsort(distances, kind="stable")]
            for k in (10, 20, 30, 46):
                wide = build_prior(bench.space, bench.features[bench.tasks[t]], history, k=k, warm_starts=SIZE,
                                   top=30, check_transfer=False)
                rows[f"prior_k{k}_top30"].append(regret[t, [index[config_key(v)] for v in wide.warm_starts]].min())
                near = scores[by_distance[:k]]
                ones = np.ones(len(near))
                rows[f"greedy_k{k}_all_configs"].append(regret[t, greedy_portfolio(near, ones, SIZE)].min())
                hits = greedy_portfolio((near >= 0.9).astype(float), ones, SIZE)  # configs within regret 0.1
                rows[f"hits_k{k}_regret_0.1"].append(regret[t, hits].min())
                rows[f"mean_score_k{k}"].append(regret[t, np.argsort(-near.mean(axis=0))[:SIZE]].min())

    print(f"{len(targets)} targets; regret of the best of the first {SIZE} configs (random: expected, 50 configs)")
    print("| portfolio | median | mean | " + " | ".join(f"{f} median" for f in sorted(set(families[targets]))) + " |")
    print("|---|---|---|" + "---|" * len(set(families[targets])))
    summary = {}
    target_families = families[targets]
    for name, values in rows.items():
        values = np.array(values, dtype=float)
        # A family with one task has no same-family portfolio: its cell is nan.
        per_family = {f: float(np.median(values[target_families == f])) for f in sorted(set(target_families))}
        summary[name] = {"median": float(np.nanmedian(values)), "mean": float(np.nanmean(values)), **per_family}
        cells = " | ".join(f"{v:.3f}" for v in per_family.values())
        print(f"| {name} | {np.nanmedian(values):.3f} | {np.nanmean(values):.3f} | {cells} |")
    steps = [np.sort(np.unique(np.round(regret[t], 6)))[1] for t in targets]
    print(f"median smallest nonzero regret step: {np.median(steps):.3f}; "
          f"median configs within regret 0.05: {np.median([(regret[t] <= 0.05).sum() for t in targets]):.0f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

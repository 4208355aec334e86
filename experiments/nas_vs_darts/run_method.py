"""One method on one dataset over all seeds, in this process: search, retrain, test.

    python experiments/nas_vs_darts/run_method.py DATASET METHOD

METHOD is one of:
  ours           supernet trained in masked mode (largest network first, then one random path
                 per step), then evolution
  rs_ws          the same supernet, then random search
  darts1, darts2 DARTS with separate weights per candidate operation
  darts1_shared, darts2_shared
                 DARTS over the entangled weights
  plain_rs       stand-alone random search for as long as `ours` searched with the same seed
                 (run `ours` first)
"""

from __future__ import annotations

import json
import logging
import sys
import time

import common


def nas_config(method: str, dataset: str, seed: int):
    from atlas_jax.nas.config import NASConfig

    cfg = NASConfig(seed=seed, supernet_steps=common.STEPS[dataset], batch_size=common.BATCH,
                    population=16, generations=6, parents=8, mutations=8, crossovers=8, budget=112,
                    plain_steps=200, arch_learning_rate=1e-2)
    if method in ("ours", "rs_ws"):
        # Progressive rule: the largest network alone for the first quarter of the steps, then one
        # path per step, the largest with probability 0.25. The sandwich rule costs about four
        # masked passes per step.
        cfg.method = "evolution" if method == "ours" else "random"
        cfg.mode, cfg.rule, cfg.largest_fraction, cfg.largest_prob = "masked", "progressive", 0.25, 0.25
        cfg.supernet_steps, cfg.learning_rate = common.SUPERNET_STEPS[dataset], common.SUPERNET_LEARNING_RATE
        cfg.score_examples = common.SCORE_EXAMPLES
        cfg.screen_examples = common.SCREEN_EXAMPLES if method == "ours" else None
    elif method in ("darts1", "darts2"):
        cfg.method, cfg.darts_weights = method, "separate"
    elif method in ("darts1_shared", "darts2_shared"):
        cfg.method, cfg.darts_weights = method[:6], "shared"
    elif method == "plain_rs":
        ours = json.loads((common.RESULTS / f"{dataset}_ours.json").read_text())
        cfg.method = "plain_random"
        cfg.plain_seconds = next(r["search_run_seconds"] for r in ours["runs"] if r["seed"] == seed)
    else:
        raise SystemExit(f"unknown method {method!r}")
    return cfg


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    common.use_compile_cache()
    dataset, method = sys.argv[1], sys.argv[2]
    from atlas_jax.nas.pipeline import jsonable, peak_rss_mb, retrain, run_search

    data = common.load(dataset)
    space = common.space()
    runs = []
    for seed in common.SEEDS:
        start = time.perf_counter()
        report = run_search(nas_config(method, dataset, seed), space, data)
        final = retrain(report, space, data, steps=common.RETRAIN_STEPS[dataset], batch_size=common.BATCH,
                        learning_rate=3e-3, weight_decay=1e-4, seed=100 + seed)
        record = jsonable(report)
        record.pop("history")
        record.update(test_accuracy=final["test_accuracy"], retrain_val_accuracy=final["val_accuracy"],
                      process_seconds=time.perf_counter() - start)
        runs.append(record)
        print(f"{dataset} {method} seed {seed}: search {record['search_run_seconds']:.1f}s "
              f"(+{record['compile_seconds']:.1f}s compile) test {final['test_accuracy']:.4f} "
              f"arch {record['best_arch']}", flush=True)
    common.save(common.RESULTS / f"{dataset}_{method}.json",
                {"dataset": dataset, "method": method, "peak_rss_mb": peak_rss_mb(), "runs": runs,
                 "machine": common.machine()})


if __name__ == "__main__":
    main()

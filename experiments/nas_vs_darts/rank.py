"""Kendall tau between the supernet's ranking (inherited weights) and stand-alone training.

    python experiments/nas_vs_darts/rank.py DATASET [COUNT]

Trains the supernet as `ours` does (seed 0), scores COUNT (default common.RANK_COUNT, 60) distinct random
architectures with inherited weights, trains each from scratch, and compares the rankings.
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np

import common


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    common.use_compile_cache()
    dataset = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else common.RANK_COUNT
    from scipy import stats

    from atlas_jax.nas.runner import SubnetRunner, arch_key
    from atlas_jax.nas.search import ArchEvaluator
    from atlas_jax.nas.spaces import supernet_for_space
    from atlas_jax.nas.standalone import build_standalone
    from atlas_jax.nas.training import fit, model_accuracy, train_supernet
    from run_method import nas_config

    data = common.load(dataset)
    space = common.space()
    net = supernet_for_space(space, data.feature_shape, data.num_classes, seed=0)
    runner = SubnetRunner(net, mode="masked")
    start = time.perf_counter()
    cfg = nas_config("ours", dataset, 0)
    train_supernet(runner, data.train.x, data.train.y, steps=cfg.supernet_steps, batch_size=cfg.batch_size,
                   rule=cfg.rule, largest_fraction=cfg.largest_fraction, largest_prob=cfg.largest_prob,
                   learning_rate=cfg.learning_rate,
                   weight_decay=cfg.weight_decay, seed=0)
    supernet_seconds = time.perf_counter() - start
    evaluator = ArchEvaluator(space, runner, data.val.x, data.val.y)

    rng = np.random.default_rng(1234)
    archs: dict[tuple, dict] = {}
    while len(archs) < count:
        arch = evaluator.sample_feasible(rng)
        archs[arch_key(arch)] = arch
    rows = []
    for i, arch in enumerate(archs.values()):
        model = build_standalone(net, arch, seed=500 + i)
        fit(model, data.train.x, data.train.y, steps=common.RANK_STEPS[dataset], batch_size=common.BATCH, seed=i)
        rows.append({"arch": arch, "supernet": evaluator.score(arch),
                     "standalone": model_accuracy(model, data.val.x, data.val.y), **net.cost(arch)})
        print(f"{i + 1}/{count} supernet {rows[-1]['supernet']:.4f} stand-alone {rows[-1]['standalone']:.4f}",
              flush=True)
    supernet = [r["supernet"] for r in rows]
    standalone = [r["standalone"] for r in rows]
    tau = stats.kendalltau(supernet, standalone)
    rho = stats.spearmanr(supernet, standalone)
    params_tau = stats.kendalltau([r["params"] for r in rows], standalone)
    result = {"dataset": dataset, "count": count, "kendall_tau": tau.statistic, "kendall_p": tau.pvalue,
              "spearman": rho.statistic, "params_kendall_tau": params_tau.statistic,
              "supernet_seconds": supernet_seconds, "rows": rows, "machine": common.machine()}
    common.save(common.RESULTS / f"{dataset}_rank.json", result)
    print(f"{dataset}: Kendall tau {tau.statistic:.3f} (p={tau.pvalue:.2g}), Spearman {rho.statistic:.3f}, "
          f"tau of parameter count {params_tau.statistic:.3f}")


if __name__ == "__main__":
    main()

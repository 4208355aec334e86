"""The training loop: data, model and optimizer from a config, checkpoints, metrics, summary."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from atlas_jax.config import DataConfig, OptimConfig, TrainConfig
from atlas_jax.data import Dataset, eval_batches, load_dataset, train_batches
from atlas_jax.errors import AtlasError, ConfigError, NonFiniteLossError
from atlas_jax.models import create_model
from atlas_jax.train.checkpoint import Checkpointer
from atlas_jax.train.layout import batch_multiple, create_layout, round_up
from atlas_jax.train.metrics import MetricWriter, write_json
from atlas_jax.train.optim import create_optimizer
from atlas_jax.train.progress import Progress
from atlas_jax.train.run_folder import check_run_config, lock_run_folder
from atlas_jax.train.steps import count_params, create_train_state, make_eval_step, make_train_step

logger = logging.getLogger(__name__)

EvalCallback = Callable[[int, dict[str, float]], None]


def evaluate(eval_step: Callable, params: Any, split: Any, batch_size: int) -> dict[str, float]:
    """Mean loss and accuracy of `params` over a whole split."""
    totals = {"loss": 0.0, "correct": 0.0, "count": 0.0}
    for batch in eval_batches(split, batch_size):
        sums = jax.device_get(eval_step(params, batch))
        for key in totals:
            totals[key] += float(sums[key])
    count = max(totals["count"], 1.0)
    return {"loss": totals["loss"] / count, "accuracy": totals["correct"] / count}


def versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's numbers."""
    import flax
    import jaxlib
    import optax
    import orbax.checkpoint

    import atlas_jax

    return {
        "atlas_jax": atlas_jax.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "orbax_checkpoint": orbax.checkpoint.__version__,
        "python": platform.python_version(),
    }


def _check_train_config(train: TrainConfig) -> None:
    for key in ("steps", "batch_size", "eval_batch_size", "eval_every", "log_every", "checkpoint_every", "keep_checkpoints"):
        if getattr(train, key) <= 0:
            raise ConfigError(f"train.{key} must be positive, got {getattr(train, key)}")
    if train.seed < 0:
        raise ConfigError(f"train.seed must be zero or positive, got {train.seed}")


def _check_eval_splits(dataset: Dataset, data: DataConfig) -> None:
    # An empty split would be reported as accuracy 0 and objective 1, which reads as a real result.
    for split, key in (("val", "val_fraction"), ("test", "test_fraction")):
        if len(getattr(dataset, split)) == 0:
            raise ConfigError(
                f"dataset '{dataset.name}' has no {split} examples (data.{key}={getattr(data, key)}); "
                f"raise data.{key} so that each class contributes at least one {split} example"
            )


def _parallel_context(cfg: DictConfig) -> Any:
    """Build the run's mesh from `cfg.parallel`, joining a multi-process job first; None without it."""
    if cfg.get("parallel") is None:
        return None
    from atlas_jax.parallel.config import ParallelConfig
    from atlas_jax.parallel.context import ParallelContext
    from atlas_jax.parallel.distributed import initialize

    parallel_cfg = cfg.parallel if isinstance(cfg.parallel, ParallelConfig) else OmegaConf.to_object(cfg.parallel)
    initialize(parallel_cfg.distributed)
    return ParallelContext.from_config(parallel_cfg)


def train_and_evaluate(
    cfg: DictConfig,
    run_dir: Path,
    *,
    on_eval: Optional[EvalCallback] = None,
    dataset: Optional[Dataset] = None,
    validate: bool = True,
) -> dict[str, Any]:
    """Train `cfg.model` on `cfg.data` into `run_dir`, resuming from its newest checkpoint.

    Args:
        cfg: the composed config (data, model, optim, train groups).
        run_dir: run folder for checkpoints, metrics and the summary.
        on_eval: called as `on_eval(step, {"loss": ..., "accuracy": ...})` after each
            validation; an exception it raises stops training and propagates
            (searches use this for early stopping).
        dataset: an already loaded dataset, to skip loading (searches reuse one).
        validate: evaluate on the validation split. False for a model trained on it (a
            retrain on train+val): no validation rows are written, and the summary has test
            metrics only, with a `validation` entry that gives the reason.

    Returns:
        The summary also written to `run_dir/summary.json`.

    Raises:
        NonFiniteLossError: the loss became NaN or infinite; the last good checkpoint is kept.
        ConfigError, AtlasError: invalid config, data or run folder, or a run folder that another
            process is training into.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() != 0:  # the processes of one multi-host run share the folder
        return _train_and_evaluate(cfg, run_dir, on_eval=on_eval, dataset=dataset, validate=validate)
    with lock_run_folder(run_dir):
        return _train_and_evaluate(cfg, run_dir, on_eval=on_eval, dataset=dataset, validate=validate)


def _train_and_evaluate(
    cfg: DictConfig, run_dir: Path, *, on_eval: Optional[EvalCallback], dataset: Optional[Dataset], validate: bool
) -> dict[str, Any]:
    wall_start = time.perf_counter()
    data_cfg = OmegaConf.to_object(cfg.data) if not isinstance(cfg.data, DataConfig) else cfg.data
    optim_cfg: OptimConfig = OmegaConf.to_object(cfg.optim)
    train_cfg: TrainConfig = OmegaConf.to_object(cfg.train)
    _check_train_config(train_cfg)
    ctx = _parallel_context(cfg)  # joins a multi-process job first, if configured
    is_main = jax.process_index() == 0

    # Stage 1: data, model, optimizer.
    dataset = dataset or load_dataset(data_cfg)
    _check_eval_splits(dataset, data_cfg)
    model = create_model(cfg.model, dataset.feature_shape, dataset.num_classes, seed=train_cfg.seed)
    tx, schedule = create_optimizer(optim_cfg, train_cfg.steps)
    graphdef, rest, state = create_train_state(model, tx, train_cfg.seed)
    eval_size = min(train_cfg.eval_batch_size, max(len(dataset.val), len(dataset.test), 1))
    layout = None
    if ctx is not None:
        # Padding the evaluation batch to a multiple of the batch shards changes no result:
        # padded rows have mask 0.
        eval_size = round_up(eval_size, batch_multiple(ctx))
        layout = create_layout(ctx, tx, state, train_cfg.batch_size, eval_size)
        state = layout.place_state(state)
    train_step = make_train_step(graphdef, rest, tx, layout)
    eval_step = make_eval_step(graphdef, rest, layout)
    param_count = count_params(state.params)
    logger.info("model %s: %s parameters", cfg.model.name, f"{param_count:,}")

    # Stage 2: resume from the newest checkpoint of this run folder, if any.
    checkpointer = Checkpointer(run_dir, keep=train_cfg.keep_checkpoints)
    check_run_config(run_dir, cfg, has_checkpoints=checkpointer.latest_step() is not None, resume=train_cfg.resume)
    data_iter = iter(train_batches(
        dataset.train, train_cfg.batch_size, seed=train_cfg.seed, augment_shift=data_cfg.augment_shift
    ).to_iter_dataset())
    bookkeeping = {"best_val_accuracy": None, "best_val_step": None, "previous_wall_time_s": 0.0}
    resumed_from = checkpointer.latest_step() if train_cfg.resume else None
    if resumed_from is not None:
        state, extra = checkpointer.restore(resumed_from, state)
        data_iter.set_state(extra["data_iterator"])
        bookkeeping.update(extra["bookkeeping"])
        logger.info("resumed from checkpoint at step %d in %s", resumed_from, checkpointer.directory)
    start_step = int(state.step)
    # A fresh start (resume step 0) drops rows that an attempt killed before its first checkpoint wrote.
    writer = MetricWriter(run_dir, resume_step=resumed_from or 0, enabled=is_main)

    def checkpoint(step: int) -> None:
        elapsed = bookkeeping["previous_wall_time_s"] + (time.perf_counter() - wall_start)
        extra = {"data_iterator": data_iter.get_state(), "bookkeeping": {**bookkeeping, "previous_wall_time_s": elapsed}}
        checkpointer.save(step, state, extra)

    # Stage 3: the loop.
    progress = Progress(
        train_cfg.steps, start_step, examples_per_step=train_cfg.batch_size,
        log_every=train_cfg.log_every, enabled=train_cfg.progress and is_main,
    )
    compile_time = None
    last_saved = resumed_from
    try:
        for step in range(start_step + 1, train_cfg.steps + 1):
            batch = next(data_iter)
            if layout is not None:
                batch = layout.put(batch, layout.train_batch)
            t0 = time.perf_counter()
            state, metrics = train_step(state, batch)
            # Two scalars per step: cheap on any backend, and a NaN is caught before it is checkpointed.
            loss, param_norm = (float(v) for v in jax.device_get((metrics["loss"], metrics["param_norm"])))
            if compile_time is None:
                compile_time = time.perf_counter() - t0
                logger.info("first train step (compile + run) took %.2f s", compile_time)
                progress.start_clock()
            if not (np.isfinite(loss) and np.isfinite(param_norm)):
                checkpointer.wait()
                what = f"training loss became {loss}" if not np.isfinite(loss) else f"parameter norm became {param_norm}"
                kept = (
                    f"The last good checkpoint is step {last_saved} in {checkpointer.directory}"
                    if last_saved is not None else "No checkpoint had been saved yet"
                )
                raise NonFiniteLossError(
                    f"{what} at step {step} (learning rate {float(schedule(step - 1)):.3g}); stopped. {kept}. "
                    "Lower optim.learning_rate or set optim.grad_clip_norm, then rerun in a new run folder"
                )
            progress.update(step, loss)

            if step % train_cfg.log_every == 0 or step == train_cfg.steps:
                host = {k: float(v) for k, v in jax.device_get(metrics).items()}
                host["learning_rate"] = float(schedule(step - 1))
                host["examples_per_s"] = progress.rate() * train_cfg.batch_size
                writer.write(step, "train", host)
            if validate and (step % train_cfg.eval_every == 0 or step == train_cfg.steps):
                val = evaluate(eval_step, state.params, dataset.val, eval_size)
                writer.write(step, "val", val)
                best = bookkeeping["best_val_accuracy"]
                if best is None or val["accuracy"] > best:
                    bookkeeping["best_val_accuracy"], bookkeeping["best_val_step"] = val["accuracy"], step
                if on_eval is not None:
                    on_eval(step, val)
            if step % train_cfg.checkpoint_every == 0 or step == train_cfg.steps:
                checkpoint(step)
                last_saved = step

        # Stage 4: final evaluation.
        val = evaluate(eval_step, state.params, dataset.val, eval_size) if validate else None
        test = evaluate(eval_step, state.params, dataset.test, eval_size)
        writer.write(train_cfg.steps, "test", test)
    finally:
        progress.close()
        writer.close()
        checkpointer.close()
    steady_rate = progress.rate() * train_cfg.batch_size
    summary = {
        "task": str(cfg.get("task", "train")),
        "name": str(cfg.get("name", "")),
        "dataset": dataset.name,
        "model": cfg.model.name,
        "steps": int(state.step),
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        **({
            "val_accuracy": val["accuracy"],
            "val_loss": val["loss"],
            "best_val_accuracy": bookkeeping["best_val_accuracy"],
            "best_val_step": bookkeeping["best_val_step"],
        } if validate else {
            "validation": "none held out: the model trained on the validation split, so only test metrics are reported",
        }),
        "param_count": param_count,
        "resumed_from_step": resumed_from,
        "first_step_s": compile_time,
        "examples_per_s": steady_rate if steady_rate > 0 else None,
        "wall_time_s": bookkeeping["previous_wall_time_s"] + (time.perf_counter() - wall_start),
        "devices": [str(d) for d in jax.devices()[:1]] + ([f"... {jax.device_count()} total"] if jax.device_count() > 1 else []),
        "mesh": dict(ctx.mesh.shape) if ctx is not None else None,
        "versions": versions(),
    }
    if validate:
        # What Hydra sweepers minimise: validation error, never a test number.
        summary["objective"] = 1.0 - val["accuracy"]
    if is_main:
        write_json(run_dir / "summary.json", summary)
    logger.info("test accuracy %.4f, test loss %.4f (summary in %s)", test["accuracy"], test["loss"], run_dir / "summary.json")
    return summary

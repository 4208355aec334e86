"""The GNN training loop: sampled mini-batches or the full graph, evaluation, checkpoints.

`train_gnn` is the one entry point. Sampled mode streams padded batches from the
grain pipeline into the data-parallel step. Full-graph mode runs the same step on
the whole graph, one step per epoch, as the accuracy reference. Both checkpoint the
model, the optimizer and the input pipeline's position with orbax, so rerunning in
the same folder resumes where the last checkpoint left off and sees the same batches.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from atlas_jax.errors import ConfigError, NonFiniteLossError
from atlas_jax.gnn import pipeline
from atlas_jax.gnn.batching import BatchLayout, budget_summary, full_graph_batch, stack_batches
from atlas_jax.gnn.config import GNNConfig
from atlas_jax.gnn.datasets import GraphDataset
from atlas_jax.gnn.models import create_gnn
from atlas_jax.gnn.steps import create_data_mesh, dropout_keys, make_predict_step, make_train_step, replicate, shard_batch
from atlas_jax.train.checkpoint import Checkpointer
from atlas_jax.train.metrics import MetricWriter
from atlas_jax.train.optim import create_optimizer
from atlas_jax.train.progress import Progress

logger = logging.getLogger(__name__)

FULL_EVAL_MAX_NODES = 2_000_000  # eval_mode=auto runs full-graph inference up to this many nodes


@dataclasses.dataclass
class RunOptions:
    """Settings of one training run that do not come from `GNNConfig`."""

    seed: int = 0  # initialisation, shuffling, sampling and dropout
    run_dir: Path | None = None  # metrics and checkpoints go here; None: neither is written
    resume: bool = True  # continue from the newest checkpoint in run_dir
    keep_checkpoints: int = 2  # most recent checkpoints kept on disk
    log_every: int = 50  # write train metrics every this many steps
    progress: bool = True  # show a progress bar
    max_steps: int | None = None  # stop after this many steps in total (benchmarks); None: run every epoch
    evaluate_test: bool = True  # measure test accuracy at the end


@dataclasses.dataclass
class TrainResult:
    """Output of `train_gnn`: the JSON-ready summary and the trained model's parts."""

    summary: dict[str, Any]
    graphdef: nnx.GraphDef
    params: Any  # nnx.State of the final parameters, replicated on the data mesh

    def model(self) -> nnx.Module:
        return nnx.merge(self.graphdef, jax.device_get(self.params))


@dataclasses.dataclass
class _Timers:
    """Seconds and counts accumulated over training steps."""

    wait: float = 0.0  # the step loop blocked in next(iterator)
    transfer: float = 0.0  # copying the batch to the devices
    compute: float = 0.0  # the jitted step, blocking on its result
    sample: float = 0.0  # sampler time inside the pipeline threads
    fetch: float = 0.0  # feature and label reads inside the pipeline threads
    pad: float = 0.0  # padding inside the pipeline threads
    steps: int = 0
    seeds: int = 0
    real_nodes: float = 0.0
    real_edges: float = 0.0
    budget_nodes: float = 0.0
    budget_edges: float = 0.0

    def add_batch(self, batch: dict[str, Any], layout: BatchLayout | None, seeds: int) -> None:
        self.steps += 1
        self.seeds += seeds
        if layout is None:
            return
        stats = pipeline.host_stats([batch])
        copies = int(np.size(batch["num_real_nodes"]))
        self.sample += stats["time_sample"]
        self.fetch += stats["time_fetch"]
        self.pad += stats["time_pad"]
        self.real_nodes += stats["num_real_nodes"]
        self.real_edges += stats["num_real_edges"]
        self.budget_nodes += copies * layout.num_nodes
        self.budget_edges += copies * layout.num_edges

    def summary(self) -> dict[str, float]:
        busy = self.wait + self.transfer + self.compute
        return {
            "time_input_wait_s": self.wait,
            "time_transfer_s": self.transfer,
            "time_compute_s": self.compute,
            "time_sample_s": self.sample,
            "time_fetch_s": self.fetch,
            "time_pad_s": self.pad,
            "input_wait_fraction": self.wait / busy if busy else 0.0,
            "seeds_per_s": self.seeds / busy if busy else 0.0,
            "node_padding": 1.0 - self.real_nodes / self.budget_nodes if self.budget_nodes else 0.0,
            "edge_padding": 1.0 - self.real_edges / self.budget_edges if self.budget_edges else 0.0,
        }


def check_gnn_config(cfg: GNNConfig) -> None:
    """Raise ConfigError on inconsistent values before any work starts."""
    if cfg.mode not in ("sampled", "full"):
        raise ConfigError(f"unknown gnn.mode '{cfg.mode}'; valid: sampled, full")
    if cfg.eval_mode not in ("auto", "sampled", "full"):
        raise ConfigError(f"unknown gnn.eval_mode '{cfg.eval_mode}'; valid: auto, sampled, full")
    if cfg.epochs < 1:
        raise ConfigError(f"gnn.epochs must be at least 1, got {cfg.epochs}")
    if cfg.mode == "sampled" and cfg.model.name != "mlp" and len(cfg.sampler.fanouts) != cfg.model.num_layers:
        raise ConfigError(
            f"gnn.sampler.fanouts {list(cfg.sampler.fanouts)} has {len(cfg.sampler.fanouts)} hops but the model has "
            f"{cfg.model.num_layers} layers; give one fanout per layer"
        )


class _Evaluator:
    """Accuracy of the current parameters on a split, from the full graph or from sampled batches."""

    def __init__(self, cfg: GNNConfig, dataset: GraphDataset, graphdef, seed: int, num_layers: int):
        use_full = cfg.eval_mode == "full" or (cfg.eval_mode == "auto" and dataset.num_nodes <= FULL_EVAL_MAX_NODES)
        self.mode = "full" if use_full else "sampled"
        self.dataset = dataset
        self.cfg = cfg
        self._full_arrays = None
        if use_full:
            self._full = _full_batch(dataset)
            self._predict = make_predict_step(graphdef, None)
            self._labels = np.asarray(self._full["y"])
            self._labelled = np.asarray(self._full["loss_mask"])
        else:
            sampler = cfg.sampler
            fanouts = list(sampler.eval_fanouts or sampler.fanouts)
            layout = _create_layout(dataset, sampler.eval_batch_size or sampler.batch_size, fanouts)
            self._batcher = pipeline.SubgraphBatcher(
                dataset.store, dataset.features, layout, seed=seed + 7919, sampler_threads=sampler.sampler_threads
            )
            self._predict = make_predict_step(graphdef, layout.layer_sizes(num_layers))

    def accuracy(self, params, split: str) -> float:
        ids = self.dataset.splits[split]
        if len(ids) == 0:
            return float("nan")
        if self.mode == "full":
            predictions = np.asarray(self._predict(params, self._full_device))
            mask = self._labelled[ids]
            return float(np.mean(predictions[ids][mask] == self._labels[ids][mask]))
        correct = total = 0
        sampler = self.cfg.sampler
        for batch in pipeline.eval_dataset(ids, self._batcher, num_threads=sampler.num_threads, prefetch=sampler.prefetch):
            predictions = np.asarray(self._predict(params, pipeline.model_inputs(batch)))
            n = predictions.shape[0]
            mask = batch["loss_mask"][:n]
            correct += int(np.sum((predictions == batch["y"][:n]) & mask))
            total += int(np.sum(mask))
        return correct / max(total, 1)

    @property
    def _full_device(self):
        # Copied to the device on first use, so a run that never validates skips the copy.
        if self._full_arrays is None:
            self._full_arrays = jax.device_put(pipeline.model_inputs(self._full))
        return self._full_arrays


def _data_devices(cfg: GNNConfig) -> int:
    """Devices of the data mesh: `data_parallel`, or with 0 the most local devices that split a step evenly."""
    if cfg.data_parallel > 0:
        return cfg.data_parallel
    available = jax.local_device_count()
    stack = cfg.sampler.batches_per_step
    if stack is None:
        return available
    return max(d for d in range(1, available + 1) if stack % d == 0)


def _full_batch(dataset: GraphDataset) -> dict[str, np.ndarray]:
    features = dataset.features
    if hasattr(features, "read_all"):
        x, y = features.read_all()
    else:
        x, y = features.features, features.labels
    return full_graph_batch(np.asarray(dataset.store.indptr), np.asarray(dataset.store.indices), x, y)


def _create_layout(dataset: GraphDataset, batch_size: int, fanouts: list[int]) -> BatchLayout:
    indptr = np.asarray(dataset.store.indptr)
    max_degree = int(np.max(np.diff(indptr))) if len(indptr) > 1 else 0
    return BatchLayout.create(
        batch_size, fanouts, num_nodes=dataset.num_nodes, num_edges=int(dataset.store.num_edges),
        max_degree=max(max_degree, 1),
    )


def train_gnn(
    cfg: GNNConfig,
    optim_cfg: Any,
    dataset: GraphDataset,
    options: RunOptions,
    *,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a node classifier on `dataset`.

    Args:
        cfg: the GNN settings (model, sampler, mode, epochs).
        optim_cfg: an `OptimConfig` (optimizer, learning-rate schedule, clipping).
        dataset: an opened dataset.
        options: seed, run folder, checkpointing and logging.
        on_eval: called as `on_eval(step, metrics)` after each validation and its
            checkpoint; it may raise to stop the run.

    Returns:
        The trained parameters and a summary with test_accuracy, best_val_accuracy, the
        step count, the number of train-step compilations, and the time split of the
        input pipeline.
    """
    check_gnn_config(cfg)
    sampled = cfg.mode == "sampled"

    # Model and device layout.
    model = create_gnn(cfg.model, dataset.num_features, dataset.num_classes, options.seed)
    graphdef, params = nnx.split(model)
    mesh = create_data_mesh(_data_devices(cfg) if sampled else 1)
    devices = mesh.devices.size
    stack = (cfg.sampler.batches_per_step or devices) if sampled else 1
    if stack % devices:
        raise ConfigError(f"gnn.sampler.batches_per_step={stack} must be a multiple of the {devices} data devices")

    # Input: a grain pipeline of padded batches, or the whole graph.
    train_ids = dataset.splits["train"]
    layout = None
    if sampled:
        layout = _create_layout(dataset, cfg.sampler.batch_size, list(cfg.sampler.fanouts))
        layer_sizes = layout.layer_sizes(cfg.model.num_layers)
        steps_per_epoch = (len(train_ids) // layout.batch_size) // stack
        if steps_per_epoch < 1:
            raise ConfigError(
                f"{len(train_ids)} training nodes fill no step of {stack} x {layout.batch_size} seeds; "
                "lower gnn.sampler.batch_size or batches_per_step"
            )
        logger.info("sampled batches: %s; %d per step, %d steps per epoch", budget_summary(layout), stack, steps_per_epoch)
    else:
        layer_sizes = None
        steps_per_epoch = 1
        full = _full_batch(dataset)
        train_mask = np.zeros(dataset.num_nodes, dtype=bool)
        train_mask[train_ids] = True
        full["loss_mask"] = full["loss_mask"] & train_mask
        full_device = shard_batch(stack_batches([pipeline.model_inputs(full)]), mesh)
    total_steps = cfg.epochs * steps_per_epoch
    if options.max_steps is not None:
        total_steps = min(total_steps, options.max_steps)

    tx, _ = create_optimizer(optim_cfg, total_steps)
    opt_state = tx.init(params)
    compiles = {"train_step": 0}

    def count_compile():
        compiles["train_step"] += 1

    train_step = make_train_step(graphdef, tx, layer_sizes, mesh, on_trace=count_compile)
    evaluator = _Evaluator(cfg, dataset, graphdef, options.seed, cfg.model.num_layers)

    # Restore the newest checkpoint: model, optimizer and the pipeline's position.
    checkpointer = Checkpointer(options.run_dir, keep=options.keep_checkpoints) if options.run_dir else None
    start_step, pipeline_state, best_val = 0, None, float("-inf")
    if checkpointer is not None and options.resume and checkpointer.latest_step() is not None:
        start_step = checkpointer.latest_step()
        state, extra = checkpointer.restore(start_step, {"params": params, "opt_state": opt_state})
        params, opt_state = state["params"], state["opt_state"]
        pipeline_state = extra.get("pipeline")
        best_val = extra.get("best_val_accuracy", best_val)
        logger.info("resumed from step %d", start_step)
    params, opt_state = replicate(params, mesh), replicate(opt_state, mesh)

    iterator = None
    if sampled:
        # Enough epochs of seed batches for every step; a step may span two epochs.
        epochs_needed = -(-total_steps * stack // (len(train_ids) // layout.batch_size)) + 1
        batcher = pipeline.SubgraphBatcher(
            dataset.store, dataset.features, layout, seed=options.seed, sampler_threads=cfg.sampler.sampler_threads
        )
        iterator = iter(
            pipeline.train_dataset(
                train_ids, batcher, batches_per_step=stack, num_epochs=epochs_needed, seed=options.seed,
                num_threads=cfg.sampler.num_threads, prefetch=cfg.sampler.prefetch,
            )
        )
        if pipeline_state is not None:
            iterator.set_state(pipeline_state)

    writer = MetricWriter(options.run_dir, resume_step=start_step) if options.run_dir else None
    seeds_per_step = stack * (layout.batch_size if layout else len(train_ids))
    progress = Progress(
        total_steps, start_step, examples_per_step=seeds_per_step, log_every=options.log_every,
        enabled=options.progress, desc=f"gnn {cfg.mode}",
    )
    timers = _Timers()
    first_step_time = None
    last_metrics: dict[str, float] = {}
    step = start_step
    try:
        while step < total_steps:
            # Wait for input: time the device could have spent computing.
            started = time.perf_counter()
            batch = next(iterator) if sampled else None
            waited = time.perf_counter()
            device_batch = shard_batch(pipeline.model_inputs(batch), mesh) if sampled else full_device
            transferred = time.perf_counter()

            keys = dropout_keys(options.seed, step, stack)
            params, opt_state, metrics = train_step(params, opt_state, device_batch, keys)
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            finished = time.perf_counter()
            step += 1

            if not np.isfinite(metrics["loss"]):
                raise NonFiniteLossError(
                    f"training loss became {metrics['loss']} at step {step}; lower optim.learning_rate"
                )
            if first_step_time is None:
                # The first step includes compilation; keep it out of the steady-state split.
                first_step_time = finished - started
                logger.info("first step (with compilation) took %.1f s", first_step_time)
                progress.start_clock()
            else:
                timers.wait += waited - started
                timers.transfer += transferred - waited
                timers.compute += finished - transferred
                timers.add_batch(batch, layout, seeds_per_step)
            last_metrics = metrics
            progress.update(step, metrics["loss"])
            if writer is not None and (step % max(options.log_every, 1) == 0 or step == total_steps):
                writer.write(step, "train", metrics)

            # Validate and checkpoint at epoch ends.
            epoch_done = step % steps_per_epoch == 0 or step == total_steps
            epoch = -(-step // steps_per_epoch)
            if epoch_done and (epoch % cfg.eval_every_epochs == 0 or step == total_steps):
                val = evaluator.accuracy(params, "val")
                best_val = max(best_val, val)
                eval_metrics = {"epoch": epoch, "accuracy": val, "best_accuracy": best_val, **timers.summary()}
                if writer is not None:
                    writer.write(step, "val", eval_metrics)
                logger.info("epoch %d step %d: loss %.4f, val accuracy %.4f", epoch, step, metrics["loss"], val)
                if checkpointer is not None and (epoch % cfg.checkpoint_every_epochs == 0 or step == total_steps):
                    checkpointer.save(
                        step,
                        {"params": params, "opt_state": opt_state},
                        {
                            "pipeline": iterator.get_state() if iterator is not None else None,
                            "best_val_accuracy": best_val,
                        },
                    )
                if on_eval is not None:
                    on_eval(step, eval_metrics)
    finally:
        progress.close()
        if writer is not None:
            writer.close()
        if checkpointer is not None:
            checkpointer.close()

    summary: dict[str, Any] = {
        "mode": cfg.mode,
        "model": cfg.model.name,
        "dataset": dataset.name,
        "num_nodes": dataset.num_nodes,
        "steps": step,
        "steps_per_epoch": steps_per_epoch,
        "batches_per_step": stack,
        "data_devices": devices,
        "train_step_compiles": compiles["train_step"],
        "eval_mode": evaluator.mode,
        "final_train_loss": last_metrics.get("loss"),
        "best_val_accuracy": best_val if np.isfinite(best_val) else None,
        "first_step_s": first_step_time,
        **timers.summary(),
    }
    if options.evaluate_test:
        summary["val_accuracy"] = evaluator.accuracy(params, "val")
        summary["test_accuracy"] = evaluator.accuracy(params, "test")
    if layout is not None:
        summary["layout"] = {"nodes": layout.num_nodes, "edges": layout.num_edges, "fanouts": list(layout.fanouts)}
    return TrainResult(summary, graphdef, params)

"""The GNN training loop: one compile per run, resume equals an uninterrupted run, DP equals one device."""

import json
import logging

import jax
import numpy as np
import pytest

from atlas_jax.config import OptimConfig
from atlas_jax.errors import ConfigError
from atlas_jax.gnn.config import GNNConfig, GNNModelConfig, GNNSamplerConfig
from atlas_jax.gnn.trainer import RunOptions, train_gnn

OPTIM = OptimConfig(name="adamw", learning_rate=0.01, warmup_steps=2)


def _config(**changes):
    cfg = GNNConfig(
        model=GNNModelConfig(name="sage_mean", hidden=16, num_layers=2, dropout=0.1),
        sampler=GNNSamplerConfig(fanouts=[4, 3], batch_size=100, batches_per_step=2, num_threads=2, prefetch=4),
        epochs=3,
        data_parallel=2,
    )
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


class _CompileLog(logging.Handler):
    """Collect JAX's compile log lines (enabled by jax_log_compiles)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_train_step_compiles_once_per_multi_epoch_run(small_csbm):
    handler = _CompileLog()
    jax_logger = logging.getLogger("jax")
    jax_logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            result = train_gnn(_config(), OPTIM, small_csbm, RunOptions(progress=False))
    finally:
        jax_logger.removeHandler(handler)
    summary = result.summary
    # 1,000 train nodes: 10 batches of 100, 5 steps of 2 batches per epoch.
    assert summary["steps"] == 15
    assert summary["steps_per_epoch"] == 5
    assert summary["train_step_compiles"] == 1
    # Independent count from XLA's own log: one compilation of the shard-mapped step.
    step_compiles = [m for m in handler.messages if "Finished XLA compilation of jit(step)" in m]
    assert len(step_compiles) == 1, step_compiles
    assert summary["test_accuracy"] > 0.4  # chance is 0.25 on 4 balanced classes


@pytest.mark.slow
def test_resumed_run_matches_uninterrupted_run(tmp_path, small_csbm):
    straight = train_gnn(_config(), OPTIM, small_csbm, RunOptions(run_dir=tmp_path / "straight", progress=False))

    class Stop(Exception):
        pass

    def stop_after_first_epoch(step, metrics):
        raise Stop

    interrupted = tmp_path / "interrupted"
    with pytest.raises(Stop):
        train_gnn(_config(), OPTIM, small_csbm, RunOptions(run_dir=interrupted, progress=False),
                  on_eval=stop_after_first_epoch)
    resumed = train_gnn(_config(), OPTIM, small_csbm, RunOptions(run_dir=interrupted, progress=False))

    assert resumed.summary["steps"] == straight.summary["steps"]
    for a, b in zip(jax.tree.leaves(jax.device_get(straight.params)), jax.tree.leaves(jax.device_get(resumed.params))):
        np.testing.assert_array_equal(a, b)
    rows = [json.loads(line) for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    val_epochs = [row["epoch"] for row in rows if row["split"] == "val"]
    assert val_epochs == [1, 2, 3]
    assert sorted(p.name for p in (interrupted / "checkpoints").iterdir() if p.name.isdigit()) == ["10", "15"]


@pytest.mark.slow
def test_data_parallel_run_matches_single_device(small_csbm):
    # The same 8 sampled batches per step, on 8 devices and on 1.
    cfg = _config(epochs=1)
    cfg.sampler.batches_per_step = 8
    cfg.sampler.batch_size = 50
    cfg.data_parallel = 8
    parallel = train_gnn(cfg, OPTIM, small_csbm, RunOptions(progress=False, evaluate_test=False))
    cfg.data_parallel = 1
    single = train_gnn(cfg, OPTIM, small_csbm, RunOptions(progress=False, evaluate_test=False))
    assert parallel.summary["data_devices"] == 8
    assert single.summary["data_devices"] == 1
    assert parallel.summary["steps"] == single.summary["steps"] == 2
    for a, b in zip(jax.tree.leaves(jax.device_get(parallel.params)), jax.tree.leaves(jax.device_get(single.params))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_full_graph_mode_learns_karate(gnn_cache):
    from atlas_jax.gnn.config import GNNDataConfig
    from atlas_jax.gnn.datasets import prepare_dataset

    dataset = prepare_dataset(GNNDataConfig(name="karate", cache_dir=str(gnn_cache), train_fraction=0.5))
    cfg = _config(mode="full", epochs=40, eval_every_epochs=40)
    cfg.model = GNNModelConfig(name="gcn", hidden=16, num_layers=2, dropout=0.0)
    result = train_gnn(cfg, OPTIM, dataset, RunOptions(progress=False))
    assert result.summary["train_step_compiles"] == 1
    assert result.summary["steps"] == 40
    # 10 test nodes; the two clubs are nearly separable by their links.
    assert result.summary["test_accuracy"] >= 0.8


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(mode="layerwise"), "gnn.mode"),
        (dict(epochs=0), "epochs"),
        (dict(data_parallel=3), "multiple"),
    ],
)
def test_train_gnn_rejects_invalid_config(small_csbm, changes, message):
    with pytest.raises(ConfigError, match=message):
        train_gnn(_config(**changes), OPTIM, small_csbm, RunOptions(progress=False))


def test_train_gnn_rejects_fanouts_not_matching_layers(small_csbm):
    cfg = _config()
    cfg.sampler.fanouts = [4]
    with pytest.raises(ConfigError, match="one fanout per layer"):
        train_gnn(cfg, OPTIM, small_csbm, RunOptions(progress=False))

"""A run killed with SIGKILL resumes bit-exactly from its last checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from atlas_jax.train import Checkpointer
from tests.helpers import atlas_env, compose_config, run_atlas

# Long enough to be killed mid-run, small enough to finish in seconds.
ARGS = [
    "experiment=digits_cnn", "model=mlp", "model.hidden=[32]", "train.steps=1500", "train.batch_size=32",
    "train.checkpoint_every=100", "train.eval_every=250", "train.log_every=50", "train.progress=false",
    "train.keep_checkpoints=3",
]


def _checkpoint_steps(run_dir: Path) -> list[int]:
    folder = run_dir / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def _final_params(run_dir: Path, steps: int):
    from atlas_jax.data import load_dataset
    from atlas_jax.models import create_model
    from atlas_jax.train import create_optimizer, create_train_state

    cfg = compose_config(ARGS)
    data = load_dataset(cfg.data)
    model = create_model(cfg.model, data.feature_shape, data.num_classes, seed=0)
    tx, _ = create_optimizer(cfg.optim, cfg.train.steps)
    like = create_train_state(model, tx, 0)[2]
    state, _ = Checkpointer(run_dir, keep=3).restore(steps, like)
    return state


@pytest.mark.multiprocess
def test_sigkill_mid_run_resumes_bit_exact(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"

    # The uninterrupted run.
    result = run_atlas([*ARGS, f"hydra.run.dir={reference_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]

    # The same config, killed with SIGKILL once a mid-run checkpoint exists.
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas_jax", *ARGS, f"hydra.run.dir={killed_dir}"],
        cwd=tmp_path, env=atlas_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if any(200 <= s < 1500 for s in _checkpoint_steps(killed_dir)):
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "summary.json").exists(), "the run finished before it could be killed"
    killed_at = max(_checkpoint_steps(killed_dir))
    assert killed_at < 1500

    # Rerun the same command on the same folder.
    result = run_atlas([*ARGS, f"hydra.run.dir={killed_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed = json.loads((killed_dir / "summary.json").read_text())
    reference = json.loads((reference_dir / "summary.json").read_text())
    assert resumed["resumed_from_step"] is not None and resumed["resumed_from_step"] >= killed_at
    for key in ("steps", "test_accuracy", "test_loss", "val_accuracy", "val_loss", "best_val_accuracy", "best_val_step"):
        assert resumed[key] == reference[key], key

    # Final parameters and optimizer state are identical, bit for bit.
    a, b = _final_params(reference_dir, 1500), _final_params(killed_dir, 1500)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))

    # The metrics log reads as one uninterrupted run: each train step logged once.
    rows = [json.loads(line) for line in (killed_dir / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in rows if r["split"] == "train"]
    assert train_steps == list(range(50, 1501, 50))

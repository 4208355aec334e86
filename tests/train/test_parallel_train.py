"""The trainer under the `parallel` config group: one device unchanged, FSDP on 8 devices."""

import json

import jax
import numpy as np
import pytest
from omegaconf import open_dict

from atlas_jax.train import train_and_evaluate
from tests.helpers import compose_config

SMOKE = [
    "train.steps=3", "train.batch_size=32", "train.eval_every=3", "train.log_every=1",
    "train.checkpoint_every=3", "train.progress=false",
]
VIT = ["experiment=vit_digits", "model.depth=2", "model.embed_dim=32", "model.mlp_dim=64", "model.dropout=0.0", "data.augment_shift=0"]


def _train_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["split"] == "train"]


def test_single_preset_is_bit_identical(tmp_path):
    with_layout = compose_config(["experiment=digits_cnn", "model=mlp", "model.hidden=[32]", "parallel=single", *SMOKE])
    without = compose_config(["experiment=digits_cnn", "model=mlp", "model.hidden=[32]", *SMOKE])
    with open_dict(without):
        del without["parallel"]
    a = train_and_evaluate(with_layout, tmp_path / "a")
    b = train_and_evaluate(without, tmp_path / "b")
    assert a["test_loss"] == b["test_loss"]
    assert _train_losses(tmp_path / "a") == _train_losses(tmp_path / "b")
    assert a["mesh"] == {"data": 1, "pipe": 1, "fsdp": 1, "tensor": 1}


@pytest.mark.slow
def test_fsdp_run_matches_single_first_step(tmp_path):
    fsdp = train_and_evaluate(compose_config([*VIT, "parallel=fsdp", *SMOKE]), tmp_path / "fsdp")
    single = train_and_evaluate(compose_config([*VIT, "parallel=single", *SMOKE]), tmp_path / "single")
    assert fsdp["mesh"]["fsdp"] == jax.device_count() == 8
    first_fsdp, first_single = _train_losses(tmp_path / "fsdp")[0], _train_losses(tmp_path / "single")[0]
    # Step 1 runs before any update, so its loss is the same computation on another layout.
    assert abs(first_fsdp - first_single) <= 1e-5 * abs(first_single)
    assert np.isfinite(fsdp["test_loss"])

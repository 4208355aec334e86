"""Task `gbdt`: train gradient-boosted trees on a table and evaluate them on the test split.

    atlas task=gbdt experiment=credit_gbdt

Writes into the run folder: `model.json` (format in atlas_jax.boosting.io),
`metrics.jsonl` (validation loss per round, test metrics), `importance.json`
(gain and count per feature) and `summary.json`. A rerun on a folder whose
`model.json` was trained with the same data and gbdt config evaluates that
model instead of training again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


def _write_json(path: Path, value: Any) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(value, out, indent=2)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def classification_metrics(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, ROC AUC (one-vs-rest for multiclass) and logloss of `model` on (x, y)."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    p = model.predict(x)
    metrics = {"accuracy": float(accuracy_score(y, model.predict_class(x)))}
    labels = list(range(model.num_outputs if model.objective == "multiclass" else 2))
    metrics["logloss"] = float(log_loss(y, p, labels=labels))
    if len(np.unique(y)) == len(labels):  # AUC is undefined when a class is absent
        metrics["auc"] = float(roc_auc_score(y, p, multi_class="ovr") if model.objective == "multiclass"
                               else roc_auc_score(y, p))
    return metrics


def run(cfg: DictConfig, run_dir: Path) -> dict:
    from atlas_jax.boosting import Booster, fit
    from atlas_jax.boosting.config import GBDTConfig
    from atlas_jax.data import load_dataset
    from atlas_jax.data import german_credit  # noqa: F401  (registers dataset `german_credit`)
    from atlas_jax.errors import ConfigError
    from atlas_jax.train.metrics import MetricWriter

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    gbdt = GBDTConfig(**OmegaConf.to_container(cfg.gbdt, resolve=True))
    data = load_dataset(cfg.data)
    flat = lambda split: split.x.reshape(len(split.y), -1)  # noqa: E731  (trees take a flat table)
    x_train, x_val, x_test = flat(data.train), flat(data.val), flat(data.test)
    if gbdt.objective == "binary" and data.num_classes != 2:
        raise ConfigError(
            f"dataset '{data.name}' has {data.num_classes} classes but gbdt.objective=binary; "
            "set gbdt.objective=multiclass"
        )
    fingerprint = {"data": OmegaConf.to_container(cfg.data, resolve=True), "gbdt": dataclasses.asdict(gbdt)}

    model_path = run_dir / "model.json"
    model = None
    if model_path.exists():
        found = Booster.load(model_path)
        if found.params.get("fingerprint") == fingerprint:
            logger.info("found a model trained with this config in %s; evaluating it", model_path)
            model = found
    # Validation rows are steps 1..rounds run and the test row the step after, so a
    # rerun that reuses the model keeps the first and rewrites the last.
    writer = MetricWriter(run_dir, resume_step=-1 if model is None else len(model.val_history))
    if model is None:
        model = fit(
            x_train,
            data.train.y,
            gbdt,
            eval_set=(x_val, data.val.y) if len(data.val.y) else None,
            num_class=data.num_classes,
            feature_names=list(data.feature_names) or None,
            on_round=lambda r, metrics: writer.write(r + 1, "val", metrics) if metrics else None,
        )
        model.params["fingerprint"] = fingerprint
        model.save(model_path)

    test = classification_metrics(model, x_test, data.test.y)
    val = classification_metrics(model, x_val, data.val.y) if len(data.val.y) else {}
    writer.write(len(model.val_history) + 1, "test", test)
    writer.close()

    names = model.feature_names or [f"f{i}" for i in range(model.num_features)]
    importance = {kind: dict(zip(names, model.feature_importance(kind).tolist()))
                  for kind in ("gain", "total_gain", "count")}
    _write_json(run_dir / "importance.json", importance)
    top = sorted(importance["gain"].items(), key=lambda item: -item[1])[:5]

    summary = {
        "task": "gbdt",
        "dataset": data.name,
        "objective": float(min(model.val_history)) if model.val_history else float(val.get("logloss", test["logloss"])),
        "objective_name": f"best validation {'logloss' if model.objective == 'binary' else 'mlogloss'}",
        "num_trees": model.num_trees,
        "best_round": model.best_round,
        "test": test,
        "val": val,
        "top_features_by_gain": [name for name, _ in top],
    }
    _write_json(run_dir / "summary.json", summary)
    logger.info("test %s (summary in %s)", " ".join(f"{k}={v:.4f}" for k, v in test.items()), run_dir / "summary.json")
    return summary

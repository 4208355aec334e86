"""Task `nas`: search an architecture, write it as a Hydra model config, retrain it from scratch.

Outputs in the run folder: `search.json` (report, best architecture, times), `trials.jsonl`
(every scored candidate), `best_model.yaml` (a `model/` group option: copy it to
`conf/model/` to train it with `atlas task=train model=best_model`), `retrain/` (the foundation
trainer's checkpoints and metrics) and `summary.json`. Rerunning on the same folder reuses a
finished search and resumes the retrain from its newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def model_yaml(model: dict) -> str:
    """Format a model config as a `model/` group option bound to its schema."""
    body = OmegaConf.to_yaml(OmegaConf.create(model))
    return f"# Architecture found by `atlas task=nas`.\ndefaults:\n  - base_{model['name']}\n\n{body}"


def run(cfg: DictConfig, run_dir: Path) -> dict:
    from atlas_jax.config import MODEL_SCHEMAS
    from atlas_jax.data import load_dataset
    from atlas_jax.nas.config import NASConfig
    from atlas_jax.nas.pipeline import jsonable, peak_rss_mb, run_search, validate
    from atlas_jax.search import build_space
    from atlas_jax.train import train_and_evaluate, write_json

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    nas_cfg: NASConfig = OmegaConf.to_object(cfg.nas)
    validate(nas_cfg)  # before the dataset loads, so a bad nas.* value fails at once
    dataset = load_dataset(OmegaConf.to_object(cfg.data))
    space = build_space(cfg.nas.space)

    # Stage 1: search, unless a finished search is already in this run folder.
    search_path = run_dir / "search.json"
    if search_path.is_file():
        report = json.loads(search_path.read_text(encoding="utf-8"))
        logger.info("reusing the finished search in %s", search_path)
    else:
        report = jsonable(run_search(nas_cfg, space, dataset))
        report["peak_rss_mb"] = peak_rss_mb()
        history = report.pop("history")
        lines = "".join(json.dumps(entry, default=float) + "\n" for entry in history)
        _write_text(run_dir / "trials.jsonl", lines)
        write_json(search_path, report)
        scored_on = f" on {report['score_examples']} examples" if report.get("score_examples") else ""
        logger.info(
            "%s found %s (val acc with inherited weights%s: %s) in %.1f s run + %.1f s compile",
            nas_cfg.method, report["best_arch"], scored_on, report["val_accuracy"],
            report["search_run_seconds"], report["compile_seconds"],
        )

    # Stage 2: the best architecture as a model config.
    _write_text(run_dir / "best_model.yaml", model_yaml(report["model"]))
    summary = {
        "task": "nas",
        "method": report["method"],
        "best_arch": report["best_arch"],
        "model": report["model"],
        "search_val_accuracy": report["val_accuracy"],
        "search_run_seconds": report["search_run_seconds"],
        "compile_seconds": report["compile_seconds"],
        "cost": report["cost"],
        "degenerate": report["degenerate"],
    }

    # Stage 3: retrain from scratch with the train/optim groups and the foundation trainer.
    if nas_cfg.retrain:
        schema = MODEL_SCHEMAS[report["model"]["name"]]
        retrain_cfg = cfg.copy()
        retrain_cfg.model = OmegaConf.structured(schema(**report["model"]))
        result = train_and_evaluate(retrain_cfg, run_dir / "retrain", dataset=dataset)
        summary.update(test_accuracy=result["test_accuracy"], retrain_val_accuracy=result["val_accuracy"])
    # What Hydra sweepers minimise: validation error, never a test number. Separate-weight DARTS
    # without a retrain has no validation score, so its summary has no objective.
    validation = summary.get("retrain_val_accuracy", report["val_accuracy"])
    if validation is not None:
        summary["objective"] = 1.0 - validation
    write_json(run_dir / "summary.json", summary)
    return summary

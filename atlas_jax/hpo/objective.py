"""The training objective: a trial is one `train_and_evaluate` run with config overrides."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from atlas_jax.hpo.trial import Trial

# Hydra's global state (GlobalHydra) is process-wide, so threads compose one at a time.
_COMPOSE_LOCK = threading.Lock()


def compose_config(config_dir: str | Path, overrides: list[str]) -> Any:
    """Compose the `atlas` root config with `overrides`, as the command line would."""
    from hydra import compose, initialize_config_dir

    from atlas_jax.config import register_configs

    register_configs()
    with _COMPOSE_LOCK, initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@dataclass
class TrainingObjective:
    """Train the composed config of a trial and return the training summary.

    Picklable, so process pools and submitit can ship it to workers.

    Attributes:
        config_dir: the Hydra config folder (`atlas_jax.launch.config_dir()`).
        base_overrides: the study's own command-line overrides (experiment, data, ...),
            applied before the trial's.
        eval_metric: key of the `on_eval` metrics reported to the ASHA scheduler.
    """

    config_dir: str
    base_overrides: list[str] = field(default_factory=list)
    eval_metric: str = "accuracy"
    extra_overrides: list[str] = field(default_factory=lambda: ["train.progress=false"])

    def trial_config(self, trial: Trial, steps: Optional[int] = None) -> Any:
        """Compose the config of `trial`: base overrides, then the trial's, then the budget."""
        overrides = list(self.base_overrides) + list(trial.overrides) + list(self.extra_overrides)
        steps = steps if steps is not None else trial.max_steps
        if steps is not None:
            overrides.append(f"train.steps={int(steps)}")
        return compose_config(self.config_dir, _dedupe(overrides))

    def __call__(self, trial: Trial) -> dict[str, Any]:
        from atlas_jax.train import train_and_evaluate

        cfg = self.trial_config(trial)

        def on_eval(step: int, metrics: dict[str, float]) -> None:
            trial.report(step, metrics[self.eval_metric])

        return train_and_evaluate(cfg, trial.directory, on_eval=on_eval)


def _dedupe(overrides: list[str]) -> list[str]:
    """Keep the last override of each key, since Hydra rejects a key given twice."""
    latest: dict[str, str] = {}
    for line in overrides:
        key = line.split("=", 1)[0].lstrip("+~")
        latest.pop(key, None)
        latest[key] = line
    return list(latest.values())

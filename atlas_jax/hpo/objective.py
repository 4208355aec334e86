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
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from atlas_jax.config import register_configs

    register_configs()
    with _COMPOSE_LOCK:
        # Inside the `atlas` app Hydra is initialised already, and initialising it again
        # raises; so park its state, compose, and put the state back.
        backup = get_gh_backup()
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
                return compose(config_name="config", overrides=list(overrides))
        finally:
            restore_gh_from_backup(backup)


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
        """Compose the config of `trial`: base overrides, then the trial's, then the budget.

        A trial that picks a config-group option (such as "model=cnn") drops the base
        overrides under that group, which belong to the base option's schema.
        """
        groups = {line.split("=", 1)[0] for line in trial.overrides if "." not in line.split("=", 1)[0]}
        base = [line for line in self.base_overrides
                if line.split("=", 1)[0].split(".", 1)[0] not in groups]
        overrides = base + list(trial.overrides) + list(self.extra_overrides)
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


def config_overrides(cfg: Any, config_dir: str | Path, skip: tuple[str, ...] = ("hpo", "hydra")) -> list[str]:
    """Write a composed config back as overrides that recompose it from the root config.

    Each top-level node whose `name` is an option of the config group of the same
    name becomes a group override ("model=mlp"), and every leaf becomes "key=value".
    Top-level keys in `skip` are left out.
    """
    from omegaconf import OmegaConf

    from atlas_jax.search.overrides import format_override

    container = OmegaConf.to_container(cfg, resolve=True)
    groups = group_choices(container, config_dir)
    overrides: list[str] = []
    for key, node in container.items():
        if key in skip:
            continue
        if key in groups:
            overrides.append(f"{key}={groups[key]}")
        overrides += [format_override(path, value) for path, value in _leaves(node, key)]
    return overrides


def group_choices(container: dict[str, Any], config_dir: str | Path) -> dict[str, str]:
    """Return {group: option} for each top-level node whose `name` is an option of the group of that name."""
    return {key: node["name"] for key, node in container.items()
            if isinstance(node, dict) and "name" in node and (Path(config_dir) / key / f"{node['name']}.yaml").is_file()}


def _leaves(node: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        leaves = []
        for key, value in node.items():
            leaves += _leaves(value, f"{prefix}.{key}")
        return leaves
    return [(prefix, node)]


def _dedupe(overrides: list[str]) -> list[str]:
    """Keep the last override of each key, since Hydra rejects a key given twice."""
    latest: dict[str, str] = {}
    for line in overrides:
        key = line.split("=", 1)[0].lstrip("+~")
        latest.pop(key, None)
        latest[key] = line
    return list(latest.values())

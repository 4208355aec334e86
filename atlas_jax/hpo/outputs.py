"""Study outputs: the best config as Hydra overrides and experiment file, and a best-so-far plot."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from atlas_jax.hpo.store import TrialRecord
from atlas_jax.search import Space
from atlas_jax.search.overrides import format_value

BEST_OVERRIDES = "best_overrides.txt"
BEST_EXPERIMENT = "best_experiment.yaml"


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_best(study_dir: Path, best: Optional[TrialRecord], space: Space,
               experiment: Optional[Callable[[TrialRecord], str]] = None) -> None:
    """Write the best trial's config as `best_overrides.txt` (one override per line) and
    `best_experiment.yaml` (a `# @package _global_` experiment for `conf/experiment/`).

    Args:
        experiment: builds the whole experiment file of a trial (see `experiment_yaml`).
            Without it the file holds only the searched values, which apply on top of
            the study's base experiment.
    """
    if best is None:
        return
    study_dir = Path(study_dir)
    header = f"# Best of the study in {study_dir}: trial {best.trial}, metric {best.metric}\n"
    _write_atomic(study_dir / BEST_OVERRIDES, header + "\n".join(best.overrides) + "\n")
    if experiment is not None:
        package, rest = experiment(best).split("\n", 1)  # Hydra reads the package line first
        _write_atomic(study_dir / BEST_EXPERIMENT, f"{package}\n{header}{rest}")
        return

    groups = {k: v for k, v in best.values.items() if "." not in k}
    keys = {k: v for k, v in best.values.items() if "." in k}
    lines = ["# @package _global_", header.rstrip()]
    if groups:
        lines.append("defaults:")
        lines += [f"  - override /{group}: {option}" for group, option in groups.items()]
    lines += _yaml_lines(Space.nest(keys), indent=0)
    _write_atomic(study_dir / BEST_EXPERIMENT, "\n".join(lines) + "\n")


def experiment_yaml(cfg: Any, config_dir: Path, name: str, skip: tuple[str, ...] = ("hpo", "hydra")) -> str:
    """Write a composed config as a self-contained `# @package _global_` experiment.

    Each top-level node whose `name` is an option of the config group of the same name
    becomes a `defaults` override, and every value is written out. So the experiment
    recomposes `cfg` (less the `skip` keys) from the root config, whatever experiment it
    came from. The experiment runs one training run (`task: train`) named `name`.
    """
    from omegaconf import OmegaConf

    from atlas_jax.hpo.objective import group_choices

    container = OmegaConf.to_container(cfg, resolve=True)
    groups = [f"  - override /{key}: {option}" for key, option in group_choices(container, config_dir).items()
              if key not in skip]
    body = {key: node for key, node in container.items() if key not in skip}
    body["task"], body["name"] = "train", name
    lines = ["# @package _global_", "defaults:", *groups, ""] if groups else ["# @package _global_"]
    return "\n".join(lines + _yaml_lines(body, indent=0)) + "\n"


def _yaml_lines(node: dict[str, Any], indent: int) -> list[str]:
    lines = []
    for key, value in node.items():
        if isinstance(value, dict) and value:
            lines.append(" " * indent + f"{key}:")
            lines += _yaml_lines(value, indent + 2)
        else:
            # Hydra's override grammar for scalars and flow lists is also valid YAML flow syntax.
            lines.append(" " * indent + f"{key}: {format_value(value)}")
    return lines


def best_so_far(records: list[TrialRecord], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Best complete metric after each finished trial, in trial order.

    Returns:
        trials: int[n] trial numbers (1-based count of finished trials).
        best: float[n] best metric so far (NaN before the first complete trial).
    """
    finished = sorted((r for r in records if r.status in ("complete", "pruned", "failed")), key=lambda r: r.trial)
    best, values = np.nan, []
    for record in finished:
        if record.status == "complete" and record.metric is not None:
            better = np.isnan(best) or (record.metric > best if mode == "max" else record.metric < best)
            best = record.metric if better else best
        values.append(best)
    return np.arange(1, len(values) + 1), np.array(values, dtype=float)


def write_plot(path: Path, records: list[TrialRecord], mode: str, metric: str) -> None:
    """Plot each trial's metric and the best so far against finished trials, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials, best = best_so_far(records, mode)
    if len(trials) == 0:
        return
    finished = sorted((r for r in records if r.status in ("complete", "pruned", "failed")), key=lambda r: r.trial)
    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for status, marker in (("complete", "o"), ("pruned", "x")):
        points = [(i + 1, r.metric) for i, r in enumerate(finished) if r.status == status and r.metric is not None]
        if points:
            axis.scatter(*zip(*points), marker=marker, alpha=0.5, label=f"{status} trials")
    axis.step(trials, best, where="post", color="black", label="best so far")
    axis.set_xlabel("finished trials")
    axis.set_ylabel(metric)
    axis.legend(loc="best")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    temporary = Path(path).with_name(Path(path).name + ".tmp.png")
    figure.savefig(temporary)
    plt.close(figure)
    os.replace(temporary, path)

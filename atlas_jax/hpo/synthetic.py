"""A synthetic objective with a known optimum and a learning curve, for checking studies cheaply.

The metric of config x after s steps is `1 - mean((u(x) - target)**2) - decay / s`,
where u(x) maps each numeric parameter to its unit coordinate in the space. Choice
parameters score 0 when they equal `best_choice` and 0.25 otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from atlas_jax.hpo.trial import Trial
from atlas_jax.search import Choice, Space


@dataclass
class SyntheticObjective:
    """Picklable objective over `space` whose best value is 1.0 at unit coordinate `target`.

    Attributes:
        space: the space the trial values come from.
        target: unit coordinate of the optimum of every numeric parameter.
        best_choice: {path: option} scoring best for Choice parameters.
        steps: training steps of a full trial when the trial sets none.
        eval_every: steps between intermediate reports.
        decay: size of the learning-curve term decay / step.
        seconds_per_eval: sleep per report, so that tests can kill a study mid-trial.
    """

    space: Space
    target: float = 0.3
    best_choice: dict[str, Any] = field(default_factory=dict)
    steps: int = 100
    eval_every: int = 10
    decay: float = 1.0
    seconds_per_eval: float = 0.0

    def score(self, values: dict[str, Any]) -> float:
        """Metric of `values` after infinitely many steps."""
        penalties = []
        for path, param in self.space.params.items():
            if path not in values:
                continue
            if isinstance(param, Choice) and not param.ordered:
                wanted = self.best_choice.get(path, param.options[0])
                penalties.append(0.0 if values[path] == wanted else 0.25)
            else:
                penalties.append((param.to_unit(values[path]) - self.target) ** 2)
        return 1.0 - sum(penalties) / max(len(penalties), 1)

    def __call__(self, trial: Trial) -> dict[str, Any]:
        steps = trial.max_steps or self.steps
        base = self.score(trial.values)
        value = base
        for step in range(self.eval_every, steps + 1, self.eval_every):
            time.sleep(self.seconds_per_eval)
            value = base - self.decay / step
            trial.report(step, value)
        return {"val_accuracy": value, "steps": steps, "score": base}

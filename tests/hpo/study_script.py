"""Run a small synthetic study in its own process (the SIGKILL resume test kills it)."""

import logging
import sys
from pathlib import Path

from atlas_jax.hpo import run_study
from atlas_jax.hpo.synthetic import SyntheticObjective
from atlas_jax.search import Choice, Float, Space


def main(study_dir: str, seconds_per_eval: float) -> None:
    logging.basicConfig(level=logging.INFO)
    space = Space({"x": Float(0.0, 1.0), "kind": Choice(["a", "b"])})
    objective = SyntheticObjective(space, steps=50, eval_every=10, seconds_per_eval=seconds_per_eval)
    result = run_study(objective, space, Path(study_dir), optimizer="NGOpt", budget=8, num_workers=2,
                       executor="process", max_steps=50, seed=0)
    print(f"told={result.told} complete={len(result.complete)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))

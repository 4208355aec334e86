"""The `atlas` command: compose a Hydra config and run its task into a run folder.

    atlas                                   # the default experiment (AutoML on digits)
    atlas experiment=NAME key=value ...     # another experiment, with overrides
    atlas -m optim.learning_rate=1e-3,3e-3  # one run folder per value
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def config_dir() -> Path:
    """Locate the YAML configs: inside the installed package, else the source tree's `conf/`."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "conf", package_dir.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"atlas_jax configs not found in {package_dir / 'conf'} or {package_dir.parent / 'conf'}; "
        "reinstall the package with `pip install .`"
    )


def group_options(conf: Path, group: str) -> list[str]:
    """Names of the YAML options of config group `group` (nested groups use '/')."""
    folder = conf / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def check_group_overrides(argv: list[str], conf: Path) -> str | None:
    """Return a one-line error for a `group=option` override naming a missing option, else None.

    Hydra's own message for this spans several lines; engineers scanning a log
    want the valid names on the line that reports the mistake.
    """
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if "." in key or key.startswith("hydra") or not (conf / key).is_dir():
            continue
        valid = group_options(conf, key)
        for option in value.split(","):  # multirun sweeps list several options
            if option and option != "null" and option not in valid:
                return f"error: unknown {key} '{option}'; valid {key} options: {', '.join(valid)}"
    return None


def check_output_dir(argv: list[str], cwd: Path) -> str | None:
    """Return a one-line error when the run folder's location cannot be written, else None.

    Hydra creates the folder before any of our code runs, and its own failure is a
    traceback. This checks the `hydra.run.dir` or `hydra.sweep.dir` given on the command
    line, or the default `runs/` and `multirun/` under `cwd`: the nearest existing folder
    on the way must be a writable directory.
    """
    targets = [arg.split("=", 1)[1] for arg in argv if arg.split("=", 1)[0] in ("hydra.run.dir", "hydra.sweep.dir")]
    for target in targets or ["runs", "multirun"]:
        path = Path(target).expanduser()
        path = path if path.is_absolute() else cwd / path
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return (f"error: cannot create the run folder {path}: {existing} is a file, not a folder; "
                    "choose another folder with hydra.run.dir=PATH")
        if not os.access(existing, os.W_OK | os.X_OK):
            return (f"error: cannot write the run folder {path}: {existing} is not writable (read-only file system "
                    "or permissions); choose another folder with hydra.run.dir=PATH")
    return None


def main() -> None:
    """Console entry point of `atlas`."""
    import hydra
    from omegaconf import DictConfig

    from atlas_jax.config import register_configs

    conf = config_dir()
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        from atlas_jax.cli_help import help_text

        print(help_text(conf), end="")
        return
    message = check_group_overrides(sys.argv[1:], conf) or check_output_dir(sys.argv[1:], Path.cwd())
    if message:
        print(message, file=sys.stderr)
        sys.exit(2)
    register_configs()
    failed_jobs: list[str] = []  # multirun jobs that raised AtlasError, as "folder: message"

    @hydra.main(config_path=str(conf), config_name="config", version_base="1.3")
    def _run(cfg: DictConfig) -> float | None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from atlas_jax.config import check_known_keys
        from atlas_jax.errors import AtlasError
        from atlas_jax.tasks import run_task

        # orbax logs every checkpoint step at INFO through absl; keep the run log readable.
        logging.getLogger("absl").setLevel(logging.WARNING)
        # JAX logs each accelerator backend it fails to find (no TPU here) at INFO.
        logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        try:
            check_known_keys(cfg)
            summary = run_task(cfg, run_dir)
        except AtlasError as error:
            # Only the run's log file gets the log record, because Hydra's console handler would
            # show the error a second time next to the plain line below.
            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s", (error,), None)
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.FileHandler):
                    handler.handle(record)
            print(f"error: {error}", file=sys.stderr)
            if hydra_cfg.mode == RunMode.MULTIRUN:
                # One diverging or invalid job must not cancel the rest of the sweep.
                failed_jobs.append(f"{run_dir}: {error}")
                return None
            sys.exit(1)
        # Hydra sweepers minimise the returned value; report the task's headline number.
        return summary.get("objective") if isinstance(summary, dict) else None

    _run()
    if failed_jobs:
        print(f"error: {len(failed_jobs)} multirun job(s) failed:", *failed_jobs, sep="\n  ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

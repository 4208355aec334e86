"""Build the atlas_jax wheel and check its contents.

Usage: python scripts/check_wheel.py [--out DIR]

Checks that the wheel holds the compiled extension, the Hydra configs and the
kernels inside the `atlas_jax` package, and no bare top-level `kernels` package
(that import name belongs to another PyPI project).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="folder for the wheel (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="atlas-wheel-"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)], check=True
    )
    wheels = sorted(out.glob("atlas_jax-*.whl"))
    if not wheels:
        print(f"no wheel was built in {out}", file=sys.stderr)
        return 1
    names = zipfile.ZipFile(wheels[-1]).namelist()
    problems = []
    if not any(n.startswith("atlas_jax/_core") and n.endswith(".so") for n in names):
        problems.append("the compiled extension atlas_jax/_core*.so is missing")
    if "atlas_jax/conf/config.yaml" not in names:
        problems.append("the Hydra configs atlas_jax/conf/ are missing")
    if "atlas_jax/kernels/__init__.py" not in names:
        problems.append("the kernels package atlas_jax/kernels/ is missing")
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    if top_level != {"atlas_jax"}:
        problems.append(f"unexpected top-level entries: {sorted(top_level - {'atlas_jax'})}")
    for problem in problems:
        print(f"wheel check failed: {problem}", file=sys.stderr)
    if not problems:
        print(f"wheel check passed: {wheels[-1].name}, {len(names)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Print a table of the summary.json files under one or more run folders.

Usage: python scripts/summarize_runs.py FOLDER [FOLDER ...] [--keys test_accuracy,wall_time_s]

Useful after a multirun (`atlas -m experiment=digits_cnn train.seed=0,1,2`): one row
per run, then the mean and standard deviation of each numeric column.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

DEFAULT_KEYS = "test_accuracy,best_val_accuracy,steps,wall_time_s,first_step_s,examples_per_s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="run or multirun folders to search for summary.json")
    parser.add_argument("--keys", default=DEFAULT_KEYS, help="comma-separated summary keys to show as columns")
    args = parser.parse_args()
    keys = [k for k in args.keys.split(",") if k]
    paths = sorted(p for folder in args.folders for p in folder.rglob("summary.json"))
    if not paths:
        print(f"no summary.json under {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 1
    rows = [(p.parent, json.loads(p.read_text())) for p in paths]
    width = max(len(str(folder)) for folder, _ in rows)
    print(f"{'run':<{width}}  " + "  ".join(f"{k:>18}" for k in keys))
    for folder, summary in rows:
        cells = [summary.get(k) for k in keys]
        print(f"{str(folder):<{width}}  " + "  ".join(f"{_fmt(c):>18}" for c in cells))
    if len(rows) > 1:
        for label, fn in (("mean", statistics.mean), ("stdev", statistics.stdev)):
            cells = []
            for k in keys:
                values = [s[k] for _, s in rows if isinstance(s.get(k), (int, float))]
                cells.append(fn(values) if len(values) > 1 else None)
            print(f"{label:<{width}}  " + "  ".join(f"{_fmt(c):>18}" for c in cells))
    return 0


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())

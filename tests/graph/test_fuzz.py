"""Fuzz the reader and text parser in a child process, so a crash fails the test instead of pytest."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("fuzz_store.py")


def run_fuzz(workdir: Path, num_cases: int, seed: int) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(workdir), str(num_cases), str(seed)],
        capture_output=True, text=True, timeout=1800,
    )
    # A negative return code is the signal that killed the child (-11 is a segmentation fault).
    assert proc.returncode == 0, f"fuzz child exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fuzz_store_and_parser(tmp_path):
    counts = run_fuzz(tmp_path, 10_000, seed=20)
    assert counts["mutated"] + counts["random"] == 10_000
    assert counts["rejected"] + counts["equivalent"] == 10_000
    assert counts["rejected"] >= 9_900
    assert counts["random_lines"] == 10_000
    assert counts["lines_rejected"] >= 30


@pytest.mark.slow
def test_fuzz_store_and_parser_long(tmp_path):
    counts = run_fuzz(tmp_path, 100_000, seed=21)
    assert counts["rejected"] + counts["equivalent"] == 100_000

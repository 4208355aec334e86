"""Resume after a real SIGKILL: completed trials are kept, in-flight ones rerun."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("study_script.py")


def read_lines(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest(lines):
    records = {}
    for line in lines:
        records[line["trial"]] = line
    return records


@pytest.mark.slow
@pytest.mark.multiprocess
def test_study_resumes_after_sigkill(tmp_path):
    trials_file = tmp_path / "trials.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    # Each trial reports 5 times with 0.4 s sleeps, so it runs about 2 s.
    log_path = tmp_path / "first_run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path), "0.4"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records = latest(read_lines(trials_file))
        complete = [r for r in records.values() if r["status"] == "complete"]
        running = [r for r in records.values() if r["status"] == "running"]
        if len(complete) >= 2 and running:
            break
        assert process.poll() is None, log_path.read_text()
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the study never had two complete trials and one running")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    before = latest(read_lines(trials_file))
    done_before = {t: r for t, r in before.items() if r["status"] == "complete"}
    in_flight = {t: r for t, r in before.items() if r["status"] == "running"}
    assert done_before
    assert in_flight

    rerun = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "0.0"], env=env, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    lines = read_lines(trials_file)
    after = latest(lines)

    # No completed trial is lost or rerun: its record is unchanged and it started once.
    for trial, record in done_before.items():
        assert after[trial] == record
        assert sum(1 for line in lines if line["trial"] == trial and line["status"] == "running") == 1
    # In-flight trials rerun with the same config and finish.
    for trial, record in in_flight.items():
        assert after[trial]["status"] == "complete"
        assert after[trial]["values"] == record["values"]
    # The study reaches its budget, and the optimizer was told every finished trial.
    complete_after = [r for r in after.values() if r["status"] == "complete"]
    assert len(complete_after) == 8
    assert "told=8 complete=8" in rerun.stdout

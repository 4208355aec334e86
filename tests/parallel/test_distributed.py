"""Multi-host start-up: cluster settings from config or SLURM, and a real 2-process run."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atlas_jax.errors import ConfigError
from atlas_jax.parallel import DistributedConfig
from atlas_jax.parallel.distributed import ClusterSpec, cluster_spec, first_host
from tests.parallel.dp_reference import train_losses

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("nodelist", "host"), [
    ("node7", "node7"),
    ("gpu[003-005,9]", "gpu003"),
    ("a[1,4],b2", "a1"),
    ("cpu-12,cpu-13", "cpu-12"),
])
def test_first_host_of_nodelist(nodelist, host):
    assert first_host(nodelist) == host


def test_slurm_environment():
    env = {"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_JOB_NODELIST": "gpu[010-011]"}
    spec = cluster_spec(DistributedConfig(mode="slurm", coordinator_port=7777), env)
    assert spec == ClusterSpec(coordinator_address="gpu010:7777", num_processes=4, process_id=2)


def test_slurm_missing_variables():
    with pytest.raises(ConfigError, match="SLURM_PROCID is not set"):
        cluster_spec(DistributedConfig(mode="slurm"), {"SLURM_NTASKS": "2", "SLURM_NODELIST": "n1"})


def test_explicit_needs_fields():
    with pytest.raises(ConfigError, match="needs parallel.distributed.process_id"):
        cluster_spec(DistributedConfig(mode="explicit", coordinator_address="127.0.0.1:1", num_processes=2), {})


def test_explicit_rejects_bad_rank():
    cfg = DistributedConfig(mode="explicit", coordinator_address="127.0.0.1:1", num_processes=2, process_id=2)
    with pytest.raises(ConfigError, match=r"process id 2 is outside \[0, 2\)"):
        cluster_spec(cfg, {})


def test_off_mode_returns_none():
    assert cluster_spec(DistributedConfig(), {}) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.multiprocess
def test_two_processes_match_single_process(tmp_path):
    out, port = tmp_path / "losses.json", _free_port()
    env = {k: v for k, v in __import__("os").environ.items() if k != "XLA_FLAGS"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.parallel.dp_worker", str(rank), str(port), str(out)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(2)
    ]
    logs = []
    try:
        expected = train_losses(None)  # the one-device reference, computed while the workers run
        for worker in workers:
            logs.append(worker.communicate(timeout=120)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]
    result = json.loads(out.read_text())
    assert result["devices"] == 4
    assert len(result["losses"]) == len(expected)
    for got, want in zip(result["losses"], expected):
        assert abs(got - want) <= 1e-5 * abs(want)

"""The atlas-graph command: every subcommand end to end, and its error path."""

import json

import numpy as np
import pytest

from atlas_jax.graph import GraphStore
from atlas_jax.graph.cli import main


def test_cli_build_info_sample(tmp_path, capsys):
    edges = tmp_path / "edges.tsv"
    edges.write_text("# src dst\n0\t1\n1\t2\n2\t0\n2\t3\n")
    out = tmp_path / "g.csr"
    assert main(["build", str(edges), str(out), "--symmetrize", "--quiet"]) == 0
    store = GraphStore.open(out)
    np.testing.assert_array_equal(store.neighbors(2), [0, 1, 3])

    assert main(["info", str(out), "--verify", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["num_edges"] == 8
    assert summary["symmetrized"]

    npz = tmp_path / "sample.npz"
    assert main(["sample", str(out), "--seeds", "0,3", "--fanouts", "2,2", "--output", str(npz)]) == 0
    result = np.load(npz)
    np.testing.assert_array_equal(result["nodes"][:2], [0, 3])
    assert "sampled edges" in capsys.readouterr().out


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "r.csr"
    assert main(["generate", str(out), "--scale", "8", "--edge-factor", "4", "--seed", "3", "--quiet"]) == 0
    store = GraphStore.open(out, verify=True)
    assert store.num_nodes == 256
    assert store.num_edges == 1024
    assert main(["info", str(out)]) == 0
    assert "indices" in capsys.readouterr().out


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    edges = tmp_path / "edges.txt"
    edges.write_text("0 1\n0 oops\n")
    assert main(["build", str(edges), str(tmp_path / "g.csr"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "edges.txt:2" in err
    assert "Traceback" not in err
    assert main(["info", str(tmp_path / "missing.csr")]) == 1
    assert "missing.csr" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["build", "info", "sample", "generate"])
def test_cli_help_gives_units(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "usage: atlas-graph" in text
    if command in ("build", "generate"):
        assert "bytes" in text
    if command == "generate":
        assert "2^scale" in text

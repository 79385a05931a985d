"""`qama solve|compare --workers N`: a real LocalCluster gives the serial results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qama_compile.cli.main import main

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

INPUT = ["--random", "3,2,3,4", "--bits", "1", "--seed", "5"]


def test_solve_with_workers_equals_serial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serial, dist = tmp_path / "serial.npz", tmp_path / "dist.npz"
    assert main(["solve", *INPUT, "--backend", "sa", "--reads", "10", "-o", str(serial)]) == 0
    assert main(["solve", *INPUT, "--backend", "sa", "--reads", "10", "--workers", "2", "-o", str(dist)]) == 0
    assert "distributed" in capsys.readouterr().out
    a, b = np.load(serial), np.load(dist)
    for key in ("samples", "energies", "weights", "masks"):
        assert np.array_equal(a[key], b[key]), key


def test_compare_with_workers_equals_serial(tmp_path: Path) -> None:
    args = ["compare", *INPUT, "--backends", "exact,steepest,nope", "--reads", "8", "--no-progress"]
    assert main([*args, "--json", str(tmp_path / "s.json")]) == 0
    assert main([*args, "--workers", "2", "--json", str(tmp_path / "d.json")]) == 0
    serial = json.loads((tmp_path / "s.json").read_text())["rows"]
    dist = json.loads((tmp_path / "d.json").read_text())["rows"]
    keys = ("problem", "backend", "status", "best_energy", "mean_energy", "p_ground", "reason")
    assert [{k: r[k] for k in keys} for r in serial] == [{k: r[k] for k in keys} for r in dist]
    assert any(r["status"] == "failed" and "nope" in r["reason"] for r in dist)


def test_target_with_workers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", *INPUT, "--target", "cim-550", "--workers", "2"]) == 2
    assert "--target and --sampleset are not available" in capsys.readouterr().err

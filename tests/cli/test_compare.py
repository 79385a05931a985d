"""``qama compare``: the table, JSON / CSV / PNG outputs, failures as rows, argument errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.cli.main import main
from qama_compile.runtime.solve import solve


def test_compare_prints_table_and_writes_outputs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    j, c, p = tmp_path / "c.json", tmp_path / "c.csv", tmp_path / "c.png"
    argv = [
        "compare",
        "--random",
        "1,2,3,4",
        "--seed",
        "2",
        "--bits",
        "1",
        "--backends",
        "exact,sa,nosuch",
        "--reads",
        "30",
        "--json",
        str(j),
        "--csv",
        str(c),
        "--plot",
        str(p),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "H*N*q = 2*3*1 = 6 variables" in out and "p_ground" in out and "tts99_s" in out
    lines = [line.split() for line in out.splitlines()]
    assert any(line[:3] == ["0", "exact", "ok"] for line in lines)
    assert any(line[:3] == ["0", "nosuch", "failed"] for line in lines)
    problem = lower_attention(*np.random.default_rng(2).normal(size=(3, 1, 2, 3, 4)), bits=1)
    ground = float(solve(problem, backend="exact").energies[0])
    doc = json.loads(j.read_text())
    rows = {r["backend"]: r for r in doc["rows"]}
    assert rows["exact"]["best_energy"] == pytest.approx(ground) and rows["sa"]["residual"] == 0.0
    assert doc["info"]["seed"] == 2 and doc["info"]["num_reads"] == 30
    with c.open() as fh:
        assert [r["backend"] for r in csv.DictReader(fh)] == ["exact", "sa", "nosuch"]
    assert p.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "c_masks.png").exists()
    assert f"wrote {p}" in out


def test_backend_options_reach_the_constructor(tmp_path: Path) -> None:
    j = tmp_path / "c.json"
    argv = [
        "compare",
        "--random",
        "1,1,3,3",
        "--bits",
        "1",
        "--backends",
        "qaoa,tabu,sa",
        "--reads",
        "16",
        "--option",
        "qaoa.maxiter=4",
        "--option",
        "qaoa.bogus=1",
        "--option",
        "tabu.timeout=5",
        "--json",
        str(j),
        "--no-progress",
    ]
    assert main(argv) == 0
    rows = {r["backend"]: r for r in json.loads(j.read_text())["rows"]}
    assert rows["qaoa"]["status"] == "failed" and "bogus" in rows["qaoa"]["reason"]
    assert rows["tabu"]["status"] == "ok" and rows["sa"]["status"] == "ok"
    assert main(["compare", "--random", "1,1,2,3", "--option", "maxiter=3", "--no-progress"]) == 2


def test_every_backend_failing_exits_1(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compare", "--random", "1,1,2,3", "--bits", "1", "--backends", "nosuch", "--no-progress"]) == 1
    assert "every backend failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--reads", "0"], "--reads"), (["--json", "x.txt"], "must end in .json"), (["--backends", ","], "names no")],
)
def test_argument_errors(extra: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compare", "--random", "1,1,2,3", "--bits", "1", "--no-progress", *extra]) == 2
    assert message in capsys.readouterr().err


def test_defaults_estimate_and_skip(capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["compare", "--random", "1,1,3,4", "--bits", "1", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "comparing exact, cim, sa, tabu, steepest" in out and "qaoa" not in out
    assert "estimated time: exact ~" in out and "(limit 180 s)" in out
    assert main([*argv, "--backends", "sa,exact", "--time-limit", "1e-9"]) == 1  # every backend skipped
    captured = capsys.readouterr()
    assert "problem 0 sa (skipped): estimated" in captured.out and "\n    fix: raise the time limit" in captured.out
    assert "every backend failed or was skipped" in captured.err
    assert main([*argv, "--backends", "sa", "--wide"]) == 0
    assert "attention_corr" in capsys.readouterr().out
    assert main([*argv, "--time-limit", "0"]) == 2

"""The embedded demo (``qama demo``): real problem, exact reference, backend rows, files written."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any, ClassVar

import dimod
import numpy as np
import pytest

from qama_compile import BackendError, lower_attention
from qama_compile.cli.main import main
from qama_compile.datasets import load_example
from qama_compile.tools import demo as demo_mod
from qama_compile.tools.demo import BackendRow, backend_rows, run_demo, selected_tokens, table


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One full ``qama demo`` run (default problem, every backend, plots), shared by the tests."""
    out = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "--out", str(out), "--seed", "5"])
    return {"rc": rc, "out": out, "stdout": buf.getvalue()}


def test_cli_demo_runs_and_prints_every_step(cli_run: dict[str, Any]) -> None:
    assert cli_run["rc"] == 0
    text = cli_run["stdout"]
    for step in ("[1/5] load", "[2/5] lower", "[3/5] inspect", "[4/5] solve", "[5/5] write"):
        assert step in text
    assert "variables          24   = H*N*q = 2*6*2 = 24" in text
    assert "couplers/head      66" in text and "penalty            12" in text
    assert "dynamic range" in text
    header = next(line for line in text.splitlines() if line.startswith("backend"))
    for column in demo_mod.TABLE_COLUMNS:
        assert column in header
    table_lines = [line.split()[0] for line in text.splitlines()[text.splitlines().index(header) + 2 :] if line]
    assert table_lines[:3] == ["exact", "cim", "sa"]  # every requested backend has a row, ok or not


def test_cli_demo_writes_json_and_pngs(cli_run: dict[str, Any]) -> None:
    out: Path = cli_run["out"]
    record = json.loads((out / "demo.json").read_text())
    assert record["seed"] == 5
    assert record["summary"]["variables"] == 24
    assert record["lowering"] == {"bits": 2, "alpha": 1.0, "beta": 1.0, "penalty": 2.0, "normalize": "standardise"}
    assert record["example"]["tokens"] == ["the", "cat", "slept", "on", "the", "warm"]
    rows = {r["backend"]: r for r in record["backends"]}
    assert set(rows) == {"exact", "cim", "sa"}
    exact = rows["exact"]
    assert exact["status"] == "ok" and exact["gap_to_exact"] == 0.0
    for name in ("cim", "sa"):
        row = rows[name]
        assert row["status"] in {"ok", "unavailable", "failed"}
        if row["status"] == "ok":  # exact is the ground state: nothing may beat it
            assert row["gap_to_exact"] >= 0.0
            assert row["energy"] == pytest.approx(exact["energy"] + row["gap_to_exact"])
            assert row["reads"]["min"] == pytest.approx(row["energy"])
        else:
            assert row["reason"]
    assert (out / "masks.png").read_bytes()[:4] == b"\x89PNG"
    assert record["files"]["masks_png"] == "masks.png"


def test_demo_exact_energy_matches_the_design_formula(cli_run: dict[str, Any]) -> None:
    record = json.loads((cli_run["out"] / "demo.json").read_text())
    ex = load_example(heads=[0, 1], tokens=range(1, 7))
    problem = lower_attention(ex.q, ex.k, ex.v, bits=2, normalize="standardise")
    w = np.asarray(record["backends"][0]["weights"])
    # Rebuild the binary assignment from the weights (bits=2: w = (x0 + 2 x1) / 3).
    level = np.rint(w * 3).astype(int)
    x = np.stack([level & 1, level >> 1], axis=-1).reshape(1, -1)
    assert problem.reference_energy(x)[0, 0] == pytest.approx(record["backends"][0]["energy"], abs=1e-9)


def test_small_demo_agrees_with_dimod_exact_solver(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(
        out_dir=tmp_path, tokens=[1, 2, 3], bits=2, backends=["sa"], num_reads=20, plots=False, echo=lines.append
    )
    assert result.summary["variables"] == 12
    reference = dimod.ExactSolver().sample(result.problem.to_bqm(0)).first.energy
    exact = result.rows[0]
    assert exact.backend == "exact" and exact.energy == pytest.approx(reference, abs=1e-9)
    sa = result.rows[1]
    assert sa.status == "ok" and sa.gap is not None and sa.gap >= 0
    assert sa.read_energies is not None and sa.read_energies.size == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json"]
    assert any(line.startswith("[5/5]") for line in lines)


class _Failing(dimod.Sampler):  # type: ignore[misc]
    parameters: ClassVar[dict[str, list[Any]]] = {}
    properties: ClassVar[dict[str, Any]] = {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: Any) -> dimod.SampleSet:
        raise BackendError("simulated hardware fault", backend="broken", fix="try again later")


class _Lying(dimod.Sampler):  # type: ignore[misc]
    parameters: ClassVar[dict[str, list[Any]]] = {}
    properties: ClassVar[dict[str, Any]] = {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: Any) -> dimod.SampleSet:
        # a real sample with a made-up energy: solve() must catch it
        sample = dict.fromkeys(bqm.variables, 0)
        return dimod.SampleSet.from_samples(sample, bqm.vartype, energy=[-1e6])


def test_failing_unavailable_and_lying_backends_become_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    ex = load_example(heads=[0, 1], tokens=[1, 2])
    problem = lower_attention(ex.q, ex.k, ex.v, bits=1, normalize="standardise")
    real_get_backend = demo_mod.get_backend
    fakes = {"broken": _Failing, "liar": _Lying}
    monkeypatch.setattr(
        demo_mod, "get_backend", lambda name: fakes[name]() if name in fakes else real_get_backend(name)
    )
    rows = backend_rows(problem, ["broken", "exact", "no-such-backend", "liar"], seed=0, num_reads=3)
    by_name = {r.backend: r for r in rows}
    assert rows[0].backend == "exact"  # the reference always runs first
    assert by_name["broken"].status == "failed" and "simulated hardware fault" in by_name["broken"].reason
    assert by_name["no-such-backend"].status == "unavailable"
    assert "unknown backend 'no-such-backend'" in by_name["no-such-backend"].reason
    assert by_name["liar"].status == "failed" and "reported energy" in by_name["liar"].reason
    printed = table(rows, ex.tokens)
    assert "simulated hardware fault" in printed and "unknown backend 'no-such-backend'" in printed
    assert printed.splitlines()[3].split()[:2] == ["broken", "failed"]


def test_exact_failure_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    ex = load_example(heads=[0], tokens=[1, 2])
    problem = lower_attention(ex.q, ex.k, ex.v, bits=1)
    monkeypatch.setattr(demo_mod, "get_backend", lambda name: _Failing())
    with pytest.raises(BackendError, match="simulated hardware fault"):
        backend_rows(problem, ["exact"])


def test_selected_tokens_and_table_formatting() -> None:
    w = np.array([[1.0, 2 / 3, 0.0], [0.0, 0.0, 0.0]])
    assert selected_tokens(w, ["a", "b", "c"]) == "h0: a b(0.67) | h1: -"
    rows = [
        BackendRow("exact", "ok", energy=-2.5, gap=0.0, wall_time_s=0.0123, weights=w),
        BackendRow("cim", "unavailable", reason="x" * 200),
    ]
    lines = table(rows, ["a", "b", "c"]).splitlines()
    assert lines[0].split() == [
        "backend",
        "best",
        "energy",
        "gap",
        "to",
        "exact",
        "wall",
        "time",
        "[s]",
        "reads",
        "at",
        "ground",
        "selected",
        "tokens",
    ]
    assert lines[2].split()[:4] == ["exact", "-2.5", "0", "0.012"]
    rows[0] = BackendRow(
        "exact",
        "ok",
        energy=-2.5,
        gap=0.0,
        wall_time_s=0.0123,
        weights=w,
        read_energies=np.array([-2.5, -2.5 + 1e-12, -2.0]),
    )
    assert table(rows, ["a", "b", "c"]).splitlines()[2].split()[4] == "2/3"
    assert lines[3].split()[:2] == ["cim", "unavailable"] and lines[3].index("unavailable") > 50
    assert lines[3].rstrip().endswith("...") and len(lines[3]) < 160
    assert lines[-1] == "  cim: " + "x" * 200  # the full reason follows the table


def test_cli_demo_rejects_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--out", str(tmp_path), "--layer", "6", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "layer=6 is out of range" in err and err.count("\n") == 1
    assert main(["demo", "--out", str(tmp_path), "--num-reads", "0"]) == 2
    assert "--num-reads must be >= 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())

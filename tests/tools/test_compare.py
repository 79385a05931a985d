"""``compare``: rows per problem and backend, references, failures as rows, outputs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.runtime.solve import solve
from qama_compile.tools.compare import COLUMNS, attention_correlation, compare, tts99


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    return lower_attention(*np.random.default_rng(7).normal(size=(3, 2, 2, 4, 5)), bits=1)  # B=2, 8 variables


@pytest.fixture(scope="module")
def result(problem):  # type: ignore[no-untyped-def]
    return compare(problem, backends=("exact", "sa", "steepest", "nosuch"), num_reads=50, seed=3, progress=False)


def test_rows_per_problem_and_backend(problem, result) -> None:  # type: ignore[no-untyped-def]
    assert [(r["problem"], r["backend"]) for r in result.rows] == [
        (b, n) for b in range(2) for n in ("exact", "sa", "steepest", "nosuch")
    ]
    exact = solve(problem, backend="exact")
    for row in result.rows:
        assert set(row) == set(COLUMNS)
        if row["backend"] == "nosuch":
            assert row["status"] == "failed" and "UnknownNameError" in row["reason"] and row["best_energy"] is None
            continue
        b = row["problem"]
        assert row["status"] == "ok" and row["reason"] is None
        assert row["reference"] == "exact" and row["reference_energy"] == pytest.approx(exact.energies[b])
        assert row["residual"] >= 0 and row["best_energy"] <= row["mean_energy"] + 1e-12
        assert 0 <= row["p_ground"] <= 1 and 0 <= row["mask_mae"] <= 1 and 0 <= row["hard_mask_agreement"] <= 1
        assert -1 <= row["attention_corr"] <= 1 or math.isnan(row["attention_corr"])
        assert row["chain_break_fraction"] is None  # no target
    exact_rows = [r for r in result.rows if r["backend"] == "exact"]
    assert all(r["reads"] == 1 and r["p_ground"] == 1.0 and r["mask_mae"] == 0.0 for r in exact_rows)


def test_ground_probability_and_tts_from_the_reads(problem) -> None:  # type: ignore[no-untyped-def]
    res = compare(problem.select([0]), backends=("steepest",), num_reads=40, seed=1, progress=False)
    row = res.rows[0]
    direct = solve(problem.select([0]), backend="steepest", num_reads=40, seed=1)
    ground = solve(problem.select([0]), backend="exact").energies[0]
    e, c = direct.read_energies[0], direct.read_counts[0]
    assert row["p_ground"] == pytest.approx(c[np.isclose(e, ground, atol=1e-9)].sum() / c.sum())
    assert row["reference"] == "exact"  # enumerated although 'exact' was not listed
    t_run = row["wall_time_s"] / row["reads"]
    assert row["tts99_s"] == pytest.approx(tts99(t_run, row["p_ground"]))


def test_tts99_and_attention_correlation() -> None:
    assert tts99(1.0, 0.0) == math.inf and tts99(0.5, 0.995) == 0.5
    assert tts99(1.0, 0.1) == pytest.approx(math.log(0.01) / math.log(0.9))
    rng = np.random.default_rng(0)
    w, att = rng.random((2, 4)), rng.random((2, 4, 4))
    expected = np.mean([np.corrcoef(np.outer(w[t], w[t]).ravel(), att[t].ravel())[0, 1] for t in range(2)])
    assert attention_correlation(w, att) == pytest.approx(expected)
    assert math.isnan(attention_correlation(np.ones((1, 3)), att[:1, :3, :3]))  # constant mask


def test_same_seed_same_rows(problem) -> None:  # type: ignore[no-untyped-def]
    a = compare(problem, backends=("sa",), num_reads=20, seed=5, progress=False)
    b = compare(problem, backends=("sa",), num_reads=20, seed=5, progress=False)
    keys = ("best_energy", "mean_energy", "p_ground", "mask_mae")
    assert [[r[k] for k in keys] for r in a.rows] == [[r[k] for k in keys] for r in b.rows]


def test_too_large_for_one_backend_is_a_row_others_run() -> None:
    big = lower_attention(*np.random.default_rng(1).normal(size=(3, 2, 7, 4)), bits=2)  # 28 variables
    res = compare(big, backends=("qaoa", "sa"), num_reads=20, seed=0, progress=False, exact_max_variables=16)
    qaoa, sa = res.rows
    assert qaoa["status"] == "failed" and "ProblemTooLargeError" in qaoa["reason"] and "28 qubits" in qaoa["reason"]
    assert sa["status"] == "ok" and sa["reference"] == "best known" and sa["residual"] == 0.0
    assert res.info["reference_source"] == ["sa"]


def test_with_a_target_reports_chain_breaks(problem) -> None:  # type: ignore[no-untyped-def]
    res = compare(
        problem.select([0]), backends=("exact", "sa"), target="dwave-advantage", num_reads=30, seed=0, progress=False
    )
    assert res.info["target"] == "dwave-advantage"
    for row in res.rows:
        assert row["status"] == "ok", row["reason"]
        assert 0.0 <= row["chain_break_fraction"] <= 1.0
        assert row["reference"] == "exact" and row["residual"] >= 0  # logical enumeration, not the physical row


def test_json_csv_and_figures(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(result.to_json(tmp_path / "c.json").read_text())  # strict JSON (inf/nan as strings)
    assert doc["format"] == "qama-compile/compare" and len(doc["rows"]) == 8
    with result.to_csv(tmp_path / "c.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS) and rows[3]["status"] == "failed"
    assert float(rows[1]["best_energy"]) == pytest.approx(result.rows[1]["best_energy"])
    paths = result.plot(tmp_path / "fig.png", tokens=["a", "b", "c", "d"])
    assert [p.name for p in paths] == ["fig.png", "fig_masks.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert "nosuch" in result.table() and "UnknownNameError" in result.table()


def test_bad_arguments(problem) -> None:  # type: ignore[no-untyped-def]
    from qama_compile.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="twice"):
        compare(problem, backends=("sa", "sa"), progress=False)
    with pytest.raises(InvalidInputError, match="num_reads"):
        compare(problem, backends=("sa",), num_reads=0, progress=False)
    with pytest.raises(InvalidInputError, match="AttentionProblem"):
        compare(problem.ir, backends=("sa",), progress=False)  # type: ignore[arg-type]

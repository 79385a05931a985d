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


def test_defaults_estimates_and_time_limit() -> None:
    from qama_compile.tools.compare import DEFAULT_BACKENDS

    small = lower_attention(*np.random.default_rng(3).normal(size=(3, 1, 2, 3, 4)), bits=1)  # 6 variables
    seen: dict[str, float | None] = {}
    res = compare(small, progress=False, on_estimates=seen.update)
    assert res.info["backends"] == list(DEFAULT_BACKENDS) and "qaoa" not in DEFAULT_BACKENDS
    assert set(seen) == set(DEFAULT_BACKENDS) and all(v is not None and v > 0 for v in seen.values())
    reads = {r["backend"]: r["reads"] for r in res.rows}
    assert reads == {"exact": 1, "cim": 100, "sa": 100, "tabu": 10, "steepest": 100}  # each backend's default
    assert res.info["estimated_time_s"] == seen and res.info["time_limit_s"] == 180.0
    # a limit below sa's estimate skips sa (a row with the estimate), the others still run
    limit = seen["sa"] / 2  # type: ignore[operator]
    res = compare(small, backends=("sa", "exact"), progress=False, time_limit=limit)
    sa, exact = res.rows
    assert sa["status"] == "skipped" and "estimated" in sa["reason"] and "time limit" in sa["reason"]
    assert sa["best_energy"] is None and exact["status"] == "ok"
    text = res.table()
    assert "problem 0 sa (skipped): estimated" in text and "\n    fix: raise the time limit" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert len(res.table(wide=True).splitlines()[0]) > len(text.splitlines()[0])


def test_estimates_follow_the_cost_models() -> None:
    from qama_compile.runtime.registry import get_backend
    from qama_compile.runtime.sampling import estimate_time_s

    ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=2).ir  # 16 variables
    sa = get_backend("sa")
    assert estimate_time_s(sa, ir, num_reads=200) == pytest.approx(2 * estimate_time_s(sa, ir, num_reads=100))
    assert estimate_time_s(sa, ir, num_reads=10, num_sweeps=100) == pytest.approx(
        estimate_time_s(sa, ir, num_reads=10) / 10
    )
    assert estimate_time_s(get_backend("tabu", timeout=20), ir, num_reads=5) == pytest.approx(0.1)
    exact = get_backend("exact")
    big = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 8, 4)), bits=2).ir  # 32 variables
    assert estimate_time_s(exact, big) == math.inf
    assert estimate_time_s(get_backend("cim"), big) > estimate_time_s(get_backend("cim"), ir)


def test_inner_progress_reports_the_backend_and_the_clock() -> None:
    from qama_compile.tools.compare import _inner_progress

    class Bar:
        def __init__(self) -> None:
            self.shown: list[str] = []

        def set_postfix_str(self, text: str, refresh: bool = True) -> None:
            self.shown.append(text)

    bar = Bar()
    with _inner_progress(bar, 12.0, enabled=True) as report:
        report(3, 10)
    assert any(s.startswith("30% (3/10)") and "of ~12 s" in s for s in bar.shown)
    assert bar.shown[-1] == ""  # cleared when the run ends


def test_trivial_problems_are_said() -> None:
    ex = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 4, 8)), bits=1, normalize="none")
    res = compare(ex, backends=("exact",), progress=False)
    assert res.info["trivial"] == [True] and "trivial ground state" in res.info["note"]
    assert "note: trivial ground state" in res.table()
    assert compare(ex.select([0]), backends=("exact",), progress=False).info["note"] is not None

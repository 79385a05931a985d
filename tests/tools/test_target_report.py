"""Target inspection: measured per-target rows, largest N, the sweep table and its plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.errors import InvalidInputError
from qama_compile.targets import get_target
from qama_compile.tools.target_report import inspect_targets, largest_fitting, qama_counts, sweep


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    return lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 2, 3, 4)), bits=2)  # V = 12


def test_rows_per_target(problem) -> None:  # type: ignore[no-untyped-def]
    rows = {r["target"]: r for r in inspect_targets(problem, ["dwave-advantage", "cim-550", "aer-statevector"])}
    adv = rows["dwave-advantage"]
    assert adv["logical_variables"] == 12 and adv["logical_couplers"] == qama_counts(2, 3, 2)[1] == 36
    assert adv["fits"] and adv["physical_qubits"] >= 12 and adv["max_chain_length"] >= 1
    assert adv["largest_tokens"] == 180 // (2 * 2) and adv["levels"] == "analog"
    cim = rows["cim-550"]
    ancillas = get_target("cim-550").field_ancillas(problem.ir.select([0]))
    assert cim["physical_qubits"] == 12 + ancillas and cim["levels"] == 255 and cim["max_coefficient_error"] > 0
    assert cim["largest_tokens"] == (550 - 1) // 4 and cim["field_ancillas"] == ancillas
    assert cim["coupler_bits"] == 8 and cim["bits_needed"] <= 8 and cim["fits"] is True
    assert 0 <= cim["zeroed_fraction"] <= 0.05 and cim["largest_bits"] >= 2
    assert adv["bits_needed"] is not None and adv["zeroed_fraction"] is None  # analog: nothing rounded
    sv = rows["aer-statevector"]
    assert sv["statevector_bytes"] == 16 * 2**12


@pytest.mark.slow
def test_gate_target_counts_qaoa_per_depth() -> None:
    small = lower_attention(*np.random.default_rng(1).normal(size=(3, 1, 3, 4)), bits=2)  # 6 qubits
    row = inspect_targets(small, ["ibm-heron"], qaoa_depths=(1, 2))[0]
    assert row["qaoa_p2_two_qubit_gates"] > row["qaoa_p1_two_qubit_gates"] >= 2 * 15  # >= 2 CZ per ZZ term
    assert row["qaoa_p2_depth"] > row["qaoa_p1_depth"]
    too_big = inspect_targets(small, ["ibm-heron"], max_gate_qubits=4)[0]
    assert "too large" in too_big["qaoa"]


def test_does_not_fit_row() -> None:
    big = lower_attention(*np.random.default_rng(2).normal(size=(3, 2, 20, 4)), bits=4)
    row = inspect_targets(big, ["ibm-heron"])[0]
    assert row["fits"] is False and "160" in row["reason"] and "156" in row["reason"]
    assert "fix:" not in row["reason"]  # the error's message field, not its text cut at "; fix:"
    assert row["largest_tokens"] == 156 // 8


def test_largest_fitting_is_a_binary_search() -> None:
    assert largest_fitting(lambda n: n * n <= 1000) == 31
    assert largest_fitting(lambda n: False) == 0
    assert largest_fitting(lambda n: True, high=77) == 77


def test_sweep_counts_and_plot(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "sweep.png"
    rows = sweep(problem, "tokens", [8, 16, 32, 64], target="dwave-advantage", targets=["cim-550"], plot=png)
    assert [r["logical_variables"] for r in rows] == [2 * n * 2 for n in (8, 16, 32, 64)]  # linear in N
    assert [r["softmax_scores"] for r in rows] == [2 * n * n for n in (8, 16, 32, 64)]
    assert rows[0]["embedding"] == "clique K_32" and rows[0]["qubits_dwave-advantage"] > 32
    assert "decomposed by head" in rows[-1]["embedding"]  # 256 variables > K_180
    assert [r["fits_cim-550"] for r in rows] == [True, True, True, True]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    heads = sweep(None, "heads", [1, 2], target="cim-550", bits=1)
    assert [r["logical_variables"] for r in heads] == [8, 16] and heads[0]["qubits_cim-550"] == 9
    with pytest.raises(InvalidInputError):
        sweep(problem, "layers", [1])


def test_sweep_with_a_factory_measures_each_problem() -> None:
    def factory(n: int):  # type: ignore[no-untyped-def]
        return lower_attention(*np.random.default_rng(n).normal(size=(3, 1, n, 4)), bits=2)

    rows = sweep(factory, tokens=[2, 3], target="chimera-c16")
    assert [r["logical_variables"] for r in rows] == [4, 6]

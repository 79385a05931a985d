"""problem_summary: counts against brute-force counting, ranges against the Ising form, memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.base.jsonutil import dumps_json
from qama_compile.core.convert import ir_to_bqm
from qama_compile.core.ir import QuadraticIR
from qama_compile.core.problem import problem_summary
from qama_compile.errors import InvalidInputError
from qama_compile.tools.tables import format_table


@settings(max_examples=12, deadline=None)
@given(b=st.integers(1, 2), h=st.integers(1, 3), n=st.integers(1, 4), bits=st.integers(1, 3), seed=st.integers(0, 1000))
def test_counts_match_formulas_and_brute_force(b: int, h: int, n: int, bits: int, seed: int) -> None:
    problem = lower_attention(*np.random.default_rng(seed).normal(size=(3, b, h, n, 3)), bits=bits)
    s = problem_summary(problem)
    v = h * n * bits
    assert s["variables"] == v == problem.ir.num_variables
    assert s["couplers_per_head"] == (n * bits) * (n * bits - 1) // 2
    assert s["penalty_couplers"] == h * (h - 1) // 2 * n * bits
    assert s["couplers_total"] == h * s["couplers_per_head"] + s["penalty_couplers"]
    assert s["density"] == pytest.approx(s["couplers_total"] / (v * (v - 1) / 2) if v > 1 else 0.0)
    # independent count: the interactions of the dimod BQMs
    counts = [ir_to_bqm(problem.ir, i).num_interactions for i in range(b)]
    assert (s["nonzero_couplers_min"], s["nonzero_couplers_max"]) == (min(counts), max(counts))
    assert s["couplers_total"] >= s["nonzero_couplers_max"]
    # dynamic range of the Ising form, against dimod's own SPIN conversion
    spins = [ir_to_bqm(problem.ir, i, vartype="SPIN") for i in range(b)]
    hs = np.abs(np.concatenate([list(m.linear.values()) for m in spins]))
    js = np.abs(np.concatenate([list(m.quadratic.values()) or [0.0] for m in spins]))
    assert s["h_max_abs"] == pytest.approx(hs.max())
    if (hs > 0).any():
        assert s["h_min_abs"] == pytest.approx(hs[hs > 0].min())
    if (js > 0).any():
        assert s["J_max_abs"] == pytest.approx(js.max())
        assert s["J_range_ratio"] == pytest.approx(js.max() / js[js > 0].min())
    assert s["softmax_attention_bytes"] == b * h * n * n * 8
    assert s["ir_bytes"] == problem.ir.nbytes()
    dumps_json(s)  # strict JSON


def test_zero_penalty_has_fewer_nonzero_couplers() -> None:
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2, penalty=0.0)
    s = problem_summary(problem)
    assert s["penalty_couplers"] == 6  # structural: still counted
    assert s["nonzero_couplers_max"] == 2 * 15  # only the dense blocks


def test_ir_summary_and_bad_input() -> None:
    ir = QuadraticIR.from_coo(linear=[[0.0, 0.0]], offset=[1.0])
    s = problem_summary(ir)
    assert s["variables"] == 2 and s["couplers_total"] == 0 and s["h_range_ratio"] == 0.0
    with pytest.raises(InvalidInputError, match="AttentionProblem or QuadraticIR"):
        problem_summary("not a problem")  # type: ignore[arg-type]


def test_problem_summary_method_and_table() -> None:
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=1)
    assert problem.summary() == problem_summary(problem)
    table = format_table([problem.summary()], columns=["variables", "couplers_total"])
    assert table.splitlines()[2].split() == ["6", "9"]

"""Analysis: counts match the QAMA formulas; fit decisions name the reason; strict raises."""

from __future__ import annotations

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import ProblemTooLargeError
from qama_compile.passes.analysis import AnalysisPass, dynamic_range, fit_check
from qama_compile.passes.base import PassManager
from qama_compile.targets.target import get_target


@pytest.mark.parametrize(("heads", "tokens", "bits"), [(1, 3, 1), (2, 4, 2), (3, 2, 3)])
def test_counts_follow_the_formulas(heads: int, tokens: int, bits: int) -> None:
    rng = np.random.default_rng(heads * 10 + tokens)
    problem = lower_attention(*rng.normal(size=(3, heads, tokens, 4)), bits=bits)
    out, ctx = PassManager([AnalysisPass()]).run(problem.ir)
    a = ctx.properties["analysis"]
    n = tokens * bits
    assert out is problem.ir
    assert a["variables"] == heads * n
    assert a["couplers"] == heads * n * (n - 1) // 2 + heads * (heads - 1) // 2 * n
    assert 0 < a["density"] <= 1 and a["fits"] is True and "H*N*q" in a["count_formula"]
    assert ctx.records[0].details["variables"] == heads * n


def test_dynamic_range_of_the_ising_form() -> None:
    ir = QuadraticIR.from_coo(linear=[0.5, -4.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
    d = dynamic_range(ir)
    assert d["ratio"] == pytest.approx(16.0) and d["bits_needed"] == pytest.approx(5.0)
    assert dynamic_range(QuadraticIR.from_coo(linear=[0.0, 0.0]))["ratio"] == 1.0


def test_fit_reasons_per_kind() -> None:
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 8, 4)), bits=4)  # 64 variables
    ir = problem.ir
    fits, reason, _ = fit_check(ir, get_target("dwave-advantage"))
    assert fits is True and "K_180" in reason
    fits, reason, _ = fit_check(ir, get_target("chimera-c16"))
    assert fits is True and "64 variables <= largest clique K_64" in reason
    bigger = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 9, 4)), bits=4).ir  # 72 variables
    fits, reason, _ = fit_check(bigger, get_target("chimera-c16"))
    assert fits is None and "72 variables > largest clique K_64" in reason
    fits, reason, facts = fit_check(ir, get_target("cim-550"))
    assert fits is True and facts["spins_needed"] == 65
    fits, reason, _ = fit_check(
        ir,
        get_target("aer-statevector").__class__(
            name="sv", kind="simulator", topology="none", num_qubits=20, h_range=(-1, 1), j_range=(-1, 1)
        ),
    )
    assert fits is False and "64 qubits needed > 20" in reason


def test_strict_raises_with_counts_and_limit() -> None:
    problem = lower_attention(*np.random.default_rng(1).normal(size=(3, 2, 8, 4)), bits=4)
    with pytest.raises(ProblemTooLargeError, match=r"64 qubits needed > 30|64 variables") as exc:
        PassManager([AnalysisPass(strict=True)]).run(
            problem.ir,
            target=get_target("aer-statevector").__class__(
                name="sv", kind="simulator", topology="none", num_qubits=30, h_range=(-1, 1), j_range=(-1, 1)
            ),
        )
    assert exc.value.fields["size"] == 64 and exc.value.fields["limit"] == 30

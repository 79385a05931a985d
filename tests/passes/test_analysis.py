"""Analysis: counts match the QAMA formulas; the report is typed; strict raises with the target's reason."""

from __future__ import annotations

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import ProblemTooLargeError
from qama_compile.passes.analysis import AnalysisPass, dynamic_range
from qama_compile.passes.base import PassManager
from qama_compile.passes.reports import AnalysisReport
from qama_compile.targets import Target


@pytest.mark.parametrize(("heads", "tokens", "bits"), [(1, 3, 1), (2, 4, 2), (3, 2, 3)])
def test_counts_follow_the_formulas(heads: int, tokens: int, bits: int) -> None:
    rng = np.random.default_rng(heads * 10 + tokens)
    problem = lower_attention(*rng.normal(size=(3, heads, tokens, 4)), bits=bits)
    out, ctx = PassManager([AnalysisPass()]).run(problem.ir)
    a = ctx.get(AnalysisReport)
    n = tokens * bits
    assert out is problem.ir and a is not None and ctx.records[0].report is a
    assert a.variables == heads * n
    assert a.couplers == heads * n * (n - 1) // 2 + heads * (heads - 1) // 2 * n
    assert 0 < a.density <= 1 and a.fit.fits is True and a.count_formula is not None and "H*N*q" in a.count_formula
    assert a.nonzero_couplers == tuple(problem.ir.nonzero_couplers().tolist())


def test_nonzero_couplers_differ_from_structural_ones() -> None:
    ir = QuadraticIR.from_coo(linear=[[0.0, 0.0, 0.0]], rows=[0, 1], cols=[1, 2], data=[[1.0, 0.0]])
    assert ir.num_couplers == 2 and ir.nonzero_couplers().tolist() == [1]


def test_dynamic_range_of_the_ising_form() -> None:
    ir = QuadraticIR.from_coo(linear=[0.5, -4.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
    d = dynamic_range(ir)
    assert d.ratio == pytest.approx(16.0) and d.bits_needed == pytest.approx(5.0)
    assert dynamic_range(QuadraticIR.from_coo(linear=[0.0, 0.0])).ratio == 1.0


def test_strict_raises_with_counts_and_limit() -> None:
    problem = lower_attention(*np.random.default_rng(1).normal(size=(3, 2, 8, 4)), bits=4)
    small = Target(name="sv", kind="simulator", topology="none", num_qubits=30, h_range=(-1, 1), j_range=(-1, 1))
    with pytest.raises(ProblemTooLargeError, match=r"64 qubits needed > 30") as exc:
        PassManager([AnalysisPass(strict=True)]).run(problem.ir, target=small)
    assert exc.value.fields["size"] == 64 and exc.value.fields["limit"] == 30
    _, ctx = PassManager([AnalysisPass()]).run(problem.ir, target=small)  # not strict: recorded, not raised
    report = ctx.get(AnalysisReport)
    assert report is not None and report.fit.fits is False and report.as_dict()["fit"]["qubit_limit"] == 30

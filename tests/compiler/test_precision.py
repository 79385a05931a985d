"""Precision-aware compilation: refusal with a fix, the bits chooser, non-zero coupler counts."""

from __future__ import annotations

import numpy as np
import pytest

from qama_compile import PrecisionLossError, compile, lower_attention
from qama_compile.compiler.precision import choose_bits, with_bits
from qama_compile.passes.reports import QuantizationReport
from qama_compile.targets import get_target


@pytest.fixture(scope="module")
def wide():  # type: ignore[no-untyped-def]
    """4 heads, 16 tokens, 4 bits: too fine for an 8-bit CIM; 2 bits fit (docs/passes.md)."""
    return lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 16, 8)), bits=4)


def test_refusal_names_the_largest_bits_that_fit(wide) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PrecisionLossError) as caught:
        compile(wide, target="cim-550")
    err = caught.value
    choice = choose_bits(wide, "cim-550")
    assert choice.chosen is not None and choice.chosen < 4
    assert err.largest_fitting_bits == choice.chosen and f"bits={choice.chosen}" in str(err)
    assert err.bits == 8 and err.bits_needed > 8 and err.zeroed_fraction > err.max_zeroed_fraction
    assert "allow_precision_loss=True" in err.fix and err.target == "cim-550"
    # the suggested width compiles, and the loss it reports is within the allowance
    cp = compile(with_bits(wide, choice.chosen), target="cim-550")
    q = cp.report(QuantizationReport)
    assert q is not None and q.zeroed_fraction <= 0.05 and q.precision_loss == ""


def test_allowing_the_loss_compiles_and_reports_it(wide) -> None:  # type: ignore[no-untyped-def]
    cp = compile(wide, target="cim-550", allow_precision_loss=True)
    q = cp.report(QuantizationReport)
    assert q is not None and q.zeroed_fraction > 0.05 and "round to zero" in q.precision_loss
    summary = cp.summary()
    # the summary counts the couplers that survived quantization, not the structural ones
    nonzero = np.count_nonzero(cp.physical.data, axis=1) + np.count_nonzero(
        cp.physical.blocks.reshape(cp.physical.batch_size, -1), axis=1
    )
    assert summary["physical_couplers"] == int(nonzero.max())
    assert summary["physical_couplers"] < summary["physical_couplers_structural"]
    assert summary["reports"]["QuantizationReport"]["precision_loss"] == q.precision_loss


def test_choose_bits_is_the_largest_that_fits(wide) -> None:  # type: ignore[no-untyped-def]
    choice = choose_bits(wide, "cim-550", max_bits=6)
    assert choice.candidates == (1, 2, 3, 4, 5, 6)
    assert choice.fits[choice.candidates.index(choice.chosen)] is True
    assert all(f is False for q, f in zip(choice.candidates, choice.fits, strict=True) if q > choice.chosen)
    assert list(choice.bits_needed) == sorted(choice.bits_needed)  # finer selection needs more DAC bits
    relaxed = choose_bits(wide, "cim-550", max_bits=6, max_zeroed_fraction=0.5)
    assert relaxed.chosen is not None and relaxed.chosen >= choice.chosen
    analog = choose_bits(wide, "dwave-advantage", max_bits=2)
    assert analog.chosen == 2 and analog.fits == (True, True)  # analog: size only


def test_with_bits_keeps_the_couplings(wide) -> None:  # type: ignore[no-untyped-def]
    two = with_bits(wide, 2)
    assert two.shape == (1, 4, 16, 2) and two.couplings is wide.couplings and two.fields is wide.fields
    direct = lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 16, 8)), bits=2)
    x = np.random.default_rng(1).integers(0, 2, size=(5, two.ir.num_variables))
    np.testing.assert_allclose(two.energies(x), direct.energies(x))
    assert with_bits(wide, 4) is wide


def test_fit_says_precision_and_names_the_widths() -> None:
    """The issue's case: H=12, N=64, q=4 does not fit cim-100k by precision (qubits are plenty)."""
    big = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 12, 64, 64)), bits=4)
    fit = get_target("cim-100k").fit(big.ir)
    assert fit.size_fits is True and fit.fits is False
    assert fit.precision is not None and fit.precision.bits_needed > 8
    assert fit.reason.startswith(f"needs {fit.precision.bits_needed} bits of coupler precision, target has 8")
    assert choose_bits(big, "cim-100k").chosen == 2

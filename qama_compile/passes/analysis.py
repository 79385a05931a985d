"""Analysis pass: counts, density, dynamic range, and whether the problem fits the target (and why not).

Adds an :class:`~qama_compile.passes.reports.AnalysisReport`; the IR passes through
unchanged. With ``strict=True`` a problem that certainly cannot fit by size raises
:class:`~qama_compile.errors.ProblemTooLargeError` naming the counts and the limit. The fit
rule is the target's own (:meth:`qama_compile.targets.Target.fit`, size and coupler
precision, with the compile options ``bits``, ``max_zeroed_fraction`` and
``field_ancillas``); a precision shortfall is only reported here: the quantize pass measures
it on the physical problem and refuses there.

Couplers are counted structurally (pairs that may be non-zero): for a QAMA problem that is
``H * (N q)(N q - 1)/2`` dense per-head couplers plus ``H(H-1)/2 * N * q`` head-penalty
couplers; ``nonzero_couplers`` counts, per problem, the ones that are not zero.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> from qama_compile.targets import get_target
>>> from qama_compile.passes.base import PassManager
>>> p = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=2)
>>> _, ctx = PassManager([AnalysisPass()]).run(p.ir, target=get_target("cim-550"))
>>> a = ctx.get(AnalysisReport)
>>> a.variables, a.couplers, a.fit.fits
(16, 64, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..errors import ProblemTooLargeError
from .base import Pass, PassContext
from .reports import AnalysisReport, DynamicRange, Fit

__all__ = ["NEGLIGIBLE", "AnalysisPass", "coupler_magnitudes", "dynamic_range", "significant"]

#: Couplers below this fraction of a problem's largest coupler are float noise (e.g. the
#: ``J_ij + J_ji`` of two standardised entries that cancel): the precision rule and the
#: quantize pass do not count them as couplers rounding can lose.
NEGLIGIBLE = 1e-12


def coupler_magnitudes(ir: QuadraticIR) -> NDArray[np.float64]:
    """``|coupling|`` of every structural coupler of each problem, ``[B, M]`` (zeros included;
    dense blocks are strictly upper triangular, their lower part is 0)."""
    b = ir.batch_size
    parts = [np.abs(ir.data)]
    if ir.block_count:
        parts.append(np.abs(ir.blocks.reshape(b, -1)))
    return np.concatenate(parts, axis=1)


def significant(magnitudes: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Entries of ``magnitudes [B, M]`` above :data:`NEGLIGIBLE` times their problem's largest."""
    top = magnitudes.max(axis=1, keepdims=True, initial=0.0)
    out: NDArray[np.bool_] = magnitudes > NEGLIGIBLE * top
    return out


def dynamic_range(ir: QuadraticIR) -> DynamicRange:
    """Max ``|coefficient|`` over min non-zero ``|coefficient|`` of the Ising form, and its bits."""
    spin = ir.to_spin()
    parts = [spin.linear.reshape(-1), spin.data.reshape(-1)]
    if spin.block_count:
        iu, ju = np.triu_indices(spin.block_size, k=1)
        parts.append(spin.blocks[:, :, iu, ju].reshape(-1))
    mags = np.abs(np.concatenate(parts))
    nz = mags[mags > 0]
    if not nz.size:
        return DynamicRange(max_abs=0.0, min_abs_nonzero=0.0, ratio=1.0, bits_needed=0.0)
    ratio = float(nz.max() / nz.min())
    return DynamicRange(
        max_abs=float(nz.max()), min_abs_nonzero=float(nz.min()), ratio=ratio, bits_needed=float(np.log2(ratio) + 1)
    )


def _count_formula(ir: QuadraticIR) -> str | None:
    if not ("head" in ir.label_fields and "bit" in ir.label_fields):
        return None
    v = ir.num_variables
    heads = int(ir.labels[:, ir.label_fields.index("head")].max(initial=-1)) + 1
    bits = int(ir.labels[:, ir.label_fields.index("bit")].max(initial=-1)) + 1
    tokens = v // max(heads * bits, 1)
    nq = tokens * bits
    return (
        f"variables H*N*q = {heads}*{tokens}*{bits} = {v}; couplers: per head (Nq)^2/2 dense "
        f"= {heads}*{nq}*{nq - 1}/2 plus head penalty H(H-1)/2*N*q = {heads * (heads - 1) // 2 * nq}"
    )


@dataclass(frozen=True)
class AnalysisPass(Pass):
    """Record counts, density, dynamic range and fit; ``strict`` raises when it certainly cannot fit."""

    name: ClassVar[str] = "analysis"
    strict: bool = False

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        v, couplers = ir.num_variables, ir.num_couplers
        target, opts = context.target, context.options
        if target is None:
            fit = Fit(fits=True, reason="no target", qubits_needed=v, size_fits=True)
        else:
            fit = target.fit(
                ir, bits=opts.bits, max_zeroed_fraction=opts.max_zeroed_fraction, field_ancillas=opts.field_ancillas
            )
        context.add(
            AnalysisReport(
                variables=v,
                couplers=couplers,
                nonzero_couplers=tuple(int(c) for c in ir.nonzero_couplers()),
                density=couplers / max(v * (v - 1) // 2, 1),
                batch_size=ir.batch_size,
                dynamic_range=dynamic_range(ir),
                fit=fit,
                count_formula=_count_formula(ir),
            )
        )
        if self.strict and fit.size_fits is False and target is not None:
            raise ProblemTooLargeError(
                f"problem does not fit target {target.name!r}: {fit.reason} ({v} variables, {couplers} couplers)",
                fix="use fewer tokens, heads or bits, a larger target, or decompose "
                "(qama_compile.compiler.plan_decomposition / solve(..., decompose=True))",
                size=fit.qubits_needed,
                limit=fit.qubit_limit,
                unit="qubits",
                reason=fit.reason,
            )
        return ir

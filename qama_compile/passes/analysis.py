"""Analysis pass: counts, density, dynamic range, and whether the problem fits the target (and why not).

Facts go to ``context.properties["analysis"]`` and the pass record; the IR is returned
unchanged. With ``strict=True`` a problem that certainly cannot fit raises
:class:`~qama_compile.errors.ProblemTooLargeError` naming the counts and the limit.

Couplers are counted structurally (pairs that may be non-zero): for a QAMA problem that is
``H * (N q)(N q - 1)/2`` dense per-head couplers plus ``H(H-1)/2 * N * q`` head-penalty
couplers.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> from qama_compile.targets import get_target
>>> from qama_compile.passes.base import PassManager
>>> p = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=2)
>>> _, ctx = PassManager([AnalysisPass()]).run(p.ir, target=get_target("cim-550"))
>>> a = ctx.properties["analysis"]
>>> a["variables"], a["couplers"], a["fits"]
(16, 64, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..core.ir import QuadraticIR
from ..errors import ProblemTooLargeError
from .base import Pass, PassContext

if TYPE_CHECKING:
    from ..targets.target import Target


def dynamic_range(ir: QuadraticIR) -> dict[str, float]:
    """Max ``|coefficient|`` over min non-zero ``|coefficient|`` of the Ising form, and its bits."""
    spin = ir.to_spin()
    parts = [spin.linear.reshape(-1), spin.data.reshape(-1)]
    if spin.block_count:
        iu, ju = np.triu_indices(spin.block_size, k=1)
        parts.append(spin.blocks[:, :, iu, ju].reshape(-1))
    mags = np.abs(np.concatenate(parts))
    nz = mags[mags > 0]
    if not nz.size:
        return {"max_abs": 0.0, "min_abs_nonzero": 0.0, "ratio": 1.0, "bits_needed": 0.0}
    ratio = float(nz.max() / nz.min())
    return {
        "max_abs": float(nz.max()),
        "min_abs_nonzero": float(nz.min()),
        "ratio": ratio,
        "bits_needed": float(np.log2(ratio) + 1),
    }


def fit_check(ir: QuadraticIR, target: Target | None) -> tuple[bool | None, str, dict[str, Any]]:
    """``(fits, reason, facts)``; ``fits`` is ``None`` when only an embedding attempt can tell."""
    if target is None:
        return True, "no target", {}
    v = ir.num_variables
    couplers = ir.num_couplers
    spin = ir.to_spin()
    facts: dict[str, Any] = {"limit_qubits": target.num_qubits}
    if target.kind == "cim":
        need = v + int(not target.native_fields and bool(np.any(spin.linear != 0)))
        facts["spins_needed"] = need
        if need > target.num_qubits:
            return (
                False,
                (
                    f"needs {need} spins ({v} variables + ancilla for fields) > {target.num_qubits} "
                    f"spins of {target.name}"
                ),
                facts,
            )
        return True, f"{need} spins <= {target.num_qubits} (all-to-all)", facts
    if target.kind in ("gate", "simulator"):
        if v > target.num_qubits:
            return False, f"{v} qubits needed > {target.num_qubits} of {target.name}", facts
        return True, f"{v} qubits <= {target.num_qubits}", facts
    # annealer
    from .embed import clique_capacity

    if v > target.num_qubits:
        return False, f"{v} variables > {target.num_qubits} qubits of {target.name}", facts
    physical = target.coupler_count()
    facts["limit_couplers"] = physical
    if physical is not None and couplers > physical:
        return False, f"{couplers} logical couplers > {physical} physical couplers of {target.name}", facts
    cap = clique_capacity(target)
    facts["clique_capacity"] = cap
    if cap is not None and v <= cap:
        return True, f"{v} variables <= largest clique K_{cap} of {target.name} (clique embedding)", facts
    if cap is not None:
        return (
            None,
            (
                f"{v} variables > largest clique K_{cap} of {target.name}; only a heuristic "
                f"embedding (minorminer.find_embedding) can tell"
            ),
            facts,
        )
    return None, "custom graph: only an embedding attempt can tell", facts


@dataclass(frozen=True)
class AnalysisPass(Pass):
    """Record counts, density, dynamic range and fit; ``strict`` raises when it certainly cannot fit."""

    name: ClassVar[str] = "analysis"
    strict: bool = False

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        v = ir.num_variables
        couplers = ir.num_couplers
        nonzero = int(ir.coo(0)[0].size) if ir.batch_size else 0
        fits, reason, facts = fit_check(ir, context.target)
        facts = {
            "variables": v,
            "couplers": couplers,
            "nonzero_couplers_problem0": nonzero,
            "density": couplers / max(v * (v - 1) // 2, 1),
            "batch_size": ir.batch_size,
            "dynamic_range": dynamic_range(ir),
            "fits": fits,
            "reason": reason,
            **facts,
        }
        if "head" in ir.label_fields and "bit" in ir.label_fields:
            heads = int(ir.labels[:, ir.label_fields.index("head")].max(initial=-1)) + 1
            bits = int(ir.labels[:, ir.label_fields.index("bit")].max(initial=-1)) + 1
            tokens = v // max(heads * bits, 1)
            facts["count_formula"] = (
                f"variables H*N*q = {heads}*{tokens}*{bits} = {v}; couplers: per head (Nq)^2/2 dense "
                f"= {heads}*{tokens * bits}*{tokens * bits - 1}/2 plus head penalty H(H-1)/2*N*q "
                f"= {heads * (heads - 1) // 2 * tokens * bits}"
            )
        context.properties["analysis"] = facts
        context.report(details=facts)
        if self.strict and fits is False:
            target = context.target
            assert target is not None
            raise ProblemTooLargeError(
                f"problem does not fit target {target.name!r}: {reason} ({v} variables, {couplers} couplers)",
                fix="use fewer tokens, heads or bits, a larger target, or pass decompose=...",
                size=v,
                limit=target.num_qubits,
                unit="qubits",
                reason=reason,
            )
        return ir

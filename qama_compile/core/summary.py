"""Problem summaries: qubit and coupler counts, density, dynamic range and memory.

The counts follow docs/hamiltonian.md (section 8) for a batch of ``B`` QAMA problems with ``H`` heads,
``N`` tokens and ``q`` bits per token:

* variables (qubits before embedding): ``H * N * q`` per problem;
* structural couplers per head (dense block): ``(N q)(N q - 1) / 2``;
* head-penalty couplers: ``H (H - 1) / 2 * N * q``;
* total = ``H * (N q)(N q - 1) / 2 + H (H - 1) / 2 * N * q``; density = total / (V (V - 1) / 2).

The dynamic range is that of the Ising form (``h``, ``J``) that annealers and CIMs are
programmed with: the smallest and largest non-zero absolute value and their ratio.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 8)), bits=2)
>>> s = qama_summary(problem.ir, heads=2, tokens=4, bits=2)
>>> s["variables"], s["couplers_per_head"], s["penalty_couplers"], s["couplers_total"]
(16, 28, 8, 64)
>>> s["variables_formula"]
'H*N*q = 2*4*2 = 16'
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .ir import QuadraticIR

__all__ = ["SUMMARY_NOTES", "ir_summary", "qama_summary"]

#: Short explanations printed beside each summary field (``qama inspect``).
SUMMARY_NOTES: dict[str, str] = {
    "batch": "B problems of one shape",
    "heads": "H",
    "tokens": "N",
    "bits": "q bits per (head, token)",
    "variables": "per problem, = H*N*q (qubits before embedding)",
    "couplers_per_head": "(N*q)(N*q-1)/2, dense block per head",
    "couplers_heads": "H * per-head couplers",
    "penalty_couplers": "H(H-1)/2 * N*q, head-overlap penalty",
    "couplers_total": "structural couplers per problem",
    "density": "total / (V(V-1)/2)",
    "nonzero_couplers_min": "non-zero couplers, least over the batch",
    "nonzero_couplers_max": "non-zero couplers, most over the batch",
    "h_min_abs": "Ising h, smallest non-zero |h|",
    "h_max_abs": "Ising h, largest |h|",
    "h_range_ratio": "max|h| / min|h|",
    "J_min_abs": "Ising J, smallest non-zero |J|",
    "J_max_abs": "Ising J, largest |J|",
    "J_range_ratio": "max|J| / min|J|",
    "ir_bytes": "memory of the IR (whole batch)",
    "softmax_attention_bytes": "B*H*N*N*8, float64 softmax attention",
}


def _abs_range(values: NDArray[np.float64], prefix: str) -> dict[str, float]:
    a = np.abs(values)
    nz = a[a > 0]
    lo = float(nz.min()) if nz.size else 0.0
    hi = float(a.max()) if a.size else 0.0
    return {
        f"{prefix}_min_abs": lo,
        f"{prefix}_max_abs": hi,
        f"{prefix}_range_ratio": hi / lo if lo > 0 else 0.0,
    }


def ir_summary(ir: QuadraticIR) -> dict[str, Any]:
    """Counts for any IR (e.g. an embedded or hand-built one): no head/token structure assumed.

    >>> ir = QuadraticIR.from_coo(linear=[[1.0, 0.0, -2.0]], rows=[0], cols=[2], data=[[0.5]])
    >>> s = ir_summary(ir)
    >>> s["variables"], s["couplers_total"], s["h_range_ratio"], s["J_max_abs"]
    (3, 1, 1.4, 0.125)
    """
    spin = ir.to_spin()
    v = ir.num_variables
    quad = [spin.data.reshape(-1)]
    if spin.block_count:
        iu, ju = np.triu_indices(spin.block_size, k=1)
        quad.append(spin.blocks[:, :, iu, ju].reshape(-1))
    nonzero = ir.nonzero_couplers()
    all_pairs = v * (v - 1) // 2
    out: dict[str, Any] = {
        "batch": ir.batch_size,
        "variables": v,
        "couplers_total": ir.num_couplers,
        "density": ir.num_couplers / all_pairs if all_pairs else 0.0,
        "nonzero_couplers_min": int(nonzero.min()),
        "nonzero_couplers_max": int(nonzero.max()),
    }
    out.update(_abs_range(spin.linear.reshape(-1), "h"))
    out.update(_abs_range(np.concatenate(quad), "J"))
    out["ir_bytes"] = ir.nbytes()
    return out


def qama_summary(ir: QuadraticIR, *, heads: int, tokens: int, bits: int) -> dict[str, Any]:
    """:func:`ir_summary` of a QAMA IR plus the counts by formula for ``(H, N, q)``.

    Keys: ``batch, heads, tokens, bits, variables, variables_formula, couplers_per_head,
    couplers_heads, penalty_couplers, couplers_total, couplers_formula, density,
    nonzero_couplers_min/max, h_min_abs, h_max_abs, h_range_ratio, J_min_abs, J_max_abs,
    J_range_ratio, ir_bytes, softmax_attention_bytes``. Counts are per problem; ``ir_bytes``
    and ``softmax_attention_bytes`` cover the whole batch.
    """
    b, h, n, q = ir.batch_size, heads, tokens, bits
    nq = n * q
    per_head = nq * (nq - 1) // 2
    penalty = h * (h - 1) // 2 * nq
    total = h * per_head + penalty
    v = h * nq
    base = ir_summary(ir)
    out: dict[str, Any] = {
        "batch": b,
        "heads": h,
        "tokens": n,
        "bits": q,
        "variables": v,
        "variables_formula": f"H*N*q = {h}*{n}*{q} = {v}",
        "couplers_per_head": per_head,
        "couplers_heads": h * per_head,
        "penalty_couplers": penalty,
        "couplers_total": total,
        "couplers_formula": f"H*(Nq)(Nq-1)/2 + H(H-1)/2*Nq = {h}*{per_head} + {penalty} = {total}",
        "density": total / (v * (v - 1) // 2) if v > 1 else 0.0,
    }
    for key in (
        "nonzero_couplers_min",
        "nonzero_couplers_max",
        "h_min_abs",
        "h_max_abs",
        "h_range_ratio",
        "J_min_abs",
        "J_max_abs",
        "J_range_ratio",
        "ir_bytes",
    ):
        out[key] = base[key]
    out["softmax_attention_bytes"] = b * h * n * n * 8
    return out

"""Choose the selection width per target: the largest ``q`` whose QAMA problem the target holds.

Multi-bit soft selection ``w = sum_r c_r x_r``, ``c_r = 2^r / (2^q - 1)``, puts products
``c_r c_s`` on the couplers: within one pair of tokens they span ``c_{q-1}^2 / c_0^2 = 4^(q-1)``
(64 for ``q = 4``), about ``2(q - 1)`` bits of dynamic range on top of the couplings' own.
An 8-bit coupler DAC therefore holds fewer bits per token than an analog machine. This
module tries ``q = max_bits, ..., 1`` on one :class:`~qama_compile.core.problem.AttentionProblem`
(re-assembling the IR from its ``J`` and ``h``, without recomputing them) and keeps the
largest that fits the target by size and by precision (:meth:`qama_compile.targets.Target.fit`).

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 16, 8)), bits=4)
>>> choice = choose_bits(problem, "cim-550")
>>> choice.chosen, choice.candidates
(3, (1, 2, 3, 4))
>>> with_bits(problem, choice.chosen).shape
(1, 4, 16, 3)
"""

from __future__ import annotations

from ..core.lowering import build_qama_ir
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ..passes.options import DEFAULT_MAX_ZEROED_FRACTION, FieldAncillas
from ..passes.reports import BitsChoice
from ..targets.registry import get_target
from ..targets.target import Target

__all__ = ["choose_bits", "with_bits"]


def with_bits(problem: AttentionProblem, bits: int) -> AttentionProblem:
    """``problem`` with ``bits`` selection bits per (head, token): same ``J``, ``h`` and parameters."""
    if bits == problem.bits:
        return problem
    ir = build_qama_ir(
        problem.couplings, problem.fields, bits=bits, alpha=problem.alpha, beta=problem.beta, penalty=problem.penalty
    )
    return AttentionProblem(
        ir=ir,
        couplings=problem.couplings,
        fields=problem.fields,
        attention=problem.attention,
        bits=bits,
        alpha=problem.alpha,
        beta=problem.beta,
        penalty=problem.penalty,
        normalize=problem.normalize,
    )


def choose_bits(
    problem: AttentionProblem,
    target: str | Target,
    *,
    max_bits: int | None = None,
    dac_bits: int | None = None,
    max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION,
    field_ancillas: FieldAncillas = "auto",
) -> BitsChoice:
    """The largest selection width ``q <= max_bits`` (default: the problem's own) that fits ``target``.

    A width "fits" when :meth:`~qama_compile.targets.Target.fit` does not say no: size and
    coupler precision (``dac_bits`` overrides the target's DAC width, as ``compile(bits=...)``
    does). Widths whose fit only an embedding can tell (``None``) count as fitting. Every
    candidate's verdict is in the returned :class:`~qama_compile.passes.reports.BitsChoice`.
    """
    if not isinstance(problem, AttentionProblem):
        raise InvalidInputError(
            f"choose_bits takes an AttentionProblem, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    tgt = get_target(target)
    top = problem.bits if max_bits is None else int(max_bits)
    if not 1 <= top <= 8:
        raise InvalidInputError(f"max_bits must be in 1..8, got {max_bits!r}", fix="pass e.g. max_bits=4")
    candidates = tuple(range(1, top + 1))
    verdicts = []
    for q in candidates:  # at most 8 widths, each one vectorised fit
        fit = tgt.fit(
            with_bits(problem, q).ir,
            bits=dac_bits,
            max_zeroed_fraction=max_zeroed_fraction,
            field_ancillas=field_ancillas,
        )
        verdicts.append(fit)
    fitting = [q for q, f in zip(candidates, verdicts, strict=True) if f.fits is not False]
    return BitsChoice(
        target=tgt.name,
        chosen=max(fitting) if fitting else None,
        candidates=candidates,
        fits=tuple(f.fits for f in verdicts),
        bits_needed=tuple(-1 if f.precision is None else f.precision.bits_needed for f in verdicts),
        zeroed_fraction=tuple(0.0 if f.precision is None else f.precision.zeroed_fraction for f in verdicts),
        reasons=tuple(f.reason for f in verdicts),
    )

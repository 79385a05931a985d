"""``compile``: an attention problem (or any IR) -> the physical problem on a target, with its decoder.

The default pipeline is ``analysis -> embed -> quantize`` (see ``docs/passes.md``); pass your
own ``pipeline`` (e.g. ``PassManager([ReducePass()]) + default_pipeline()``) to change it.
:func:`compile` always returns a physical problem; a problem too large for the target is a
:class:`~qama_compile.errors.ProblemTooLargeError`, and :func:`plan_decomposition` says how
to split it (the runtime solves such a plan: ``solve(..., decompose=True)``).

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> cp = compile(problem, target="cim-550", seed=0)
>>> cp.physical.num_variables, cp.physical.vartype      # 12 spins + 2 ancilla spins sharing the fields
(14, 'SPIN')
>>> x, info = cp.decode(np.ones((4, 14), dtype=np.int8))
>>> x.shape, int(x.min())
((1, 4, 12), 1)
>>> [r.name for r in cp.log]
['analysis', 'embed', 'quantize']
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.decode import UnembedMethod
from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, PrecisionLossError
from ..passes.analysis import AnalysisPass
from ..passes.base import Pass, PassManager
from ..passes.decompose import DecomposePass, Strategy
from ..passes.embed import EmbedPass
from ..passes.options import (
    DEFAULT_MAX_ZEROED_FRACTION,
    ChainStrengthRule,
    CompileOptions,
    EmbeddingMethod,
    FieldAncillas,
    Rounding,
)
from ..passes.quantize import QuantizePass
from ..passes.reports import DecomposePlan
from ..targets.registry import get_target
from ..targets.target import Target
from .compiled import CompiledProblem

__all__ = ["compile", "default_pipeline", "plan_decomposition"]


def default_pipeline(*, strict: bool = True) -> PassManager:
    """``analysis -> embed -> quantize`` (``strict`` analysis raises when the problem cannot fit).

    >>> default_pipeline().names
    ['analysis', 'embed', 'quantize']
    """
    return PassManager([AnalysisPass(strict=strict), EmbedPass(), QuantizePass()])


def _logical(problem: AttentionProblem | QuadraticIR, what: str) -> tuple[QuadraticIR, AttentionProblem | None]:
    if isinstance(problem, AttentionProblem):
        return problem.ir, problem
    if isinstance(problem, QuadraticIR):
        return problem, None
    raise InvalidInputError(
        f"{what}() takes an AttentionProblem or a QuadraticIR, got {type(problem).__name__}",
        fix="build one with qama_compile.lower_attention(q, k, v)",
    )


def compile(
    problem: AttentionProblem | QuadraticIR,
    *,
    target: str | Target,
    pipeline: PassManager | Sequence[Pass] | None = None,
    seed: int | None = None,
    embedding: EmbeddingMethod = "auto",
    timeout: float = 60.0,
    chain_strength: float | Sequence[float] | ChainStrengthRule | None = None,
    chain_strength_prefactor: float | None = None,
    unembed: UnembedMethod = "majority",
    rounding: Rounding = "nearest",
    bits: int | None = None,
    max_exact: int = 20,
    max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION,
    allow_precision_loss: bool = False,
    field_ancillas: FieldAncillas = "auto",
) -> CompiledProblem:
    """Compile ``problem`` for ``target``.

    Args:
        problem: an :class:`AttentionProblem` or a :class:`QuadraticIR` (any vartype).
        target: a target name (see :func:`qama_compile.available_targets`) or a :class:`Target`.
        pipeline: passes to run instead of :func:`default_pipeline`.
        seed, embedding, timeout, chain_strength, chain_strength_prefactor, unembed, rounding,
            bits, max_exact, max_zeroed_fraction, allow_precision_loss, field_ancillas: the
            :class:`~qama_compile.passes.options.CompileOptions` (validated there).
            ``chain_strength``: ``"torque"`` (uniform torque compensation, the default),
            ``"scaled"``, one number, or one per problem.

    Raises:
        ProblemTooLargeError: the problem cannot fit; the message names the counts, the limit
            and the fix (:func:`plan_decomposition`).
        PrecisionLossError: quantizing to the target's coupler DAC zeroes more than
            ``max_zeroed_fraction`` of the couplers or changes the (checked) ground state; for
            an attention problem the fix names the largest selection width that fits
            (:func:`qama_compile.compiler.choose_bits`).
    """
    tgt = get_target(target)
    options = CompileOptions(
        seed=seed,
        embedding=embedding,
        timeout=timeout,
        chain_strength=tuple(chain_strength)
        if isinstance(chain_strength, Sequence) and not isinstance(chain_strength, str)
        else chain_strength,
        chain_strength_prefactor=chain_strength_prefactor,
        unembed=unembed,
        rounding=rounding,
        bits=bits,
        max_exact=max_exact,
        max_zeroed_fraction=max_zeroed_fraction,
        allow_precision_loss=allow_precision_loss,
        field_ancillas=field_ancillas,
    )
    ir, attention = _logical(problem, "compile")
    if pipeline is None:
        pm = default_pipeline(strict=True)
    else:
        pm = pipeline if isinstance(pipeline, PassManager) else PassManager(pipeline)
    try:
        physical, ctx = pm.run(ir, target=tgt, options=options)
    except PrecisionLossError as exc:
        if attention is None:
            raise
        raise _with_bits_fix(exc, attention, tgt, options) from None
    return CompiledProblem(
        logical=ir,
        physical=physical,
        decoder=tuple(ctx.decoders),
        log=tuple(ctx.records),
        target=tgt,
        options=options,
        reports=dict(ctx.reports),
        problem=attention,
    )


def _with_bits_fix(
    exc: PrecisionLossError, problem: AttentionProblem, target: Target, options: CompileOptions
) -> PrecisionLossError:
    """``exc`` with a fix that names the largest selection width that fits (when one does)."""
    from .precision import choose_bits

    choice = choose_bits(
        problem,
        target,
        dac_bits=options.bits,
        max_zeroed_fraction=options.max_zeroed_fraction,
        field_ancillas=options.field_ancillas,
    )
    lower = (
        f"lower with bits={choice.chosen} (the largest selection width that fits {target.name}; CLI --bits "
        f"{choice.chosen} or --bits auto), "
        if choice.chosen is not None and choice.chosen < problem.bits
        else ""
    )
    fix = (
        f"{lower}use a target with more coupler bits, raise max_zeroed_fraction, or pass "
        "allow_precision_loss=True (CLI --allow-precision-loss) to compile anyway"
    )
    return PrecisionLossError(exc.message, fix=fix, **{**exc.fields, "largest_fitting_bits": choice.chosen})


def plan_decomposition(
    problem: AttentionProblem | QuadraticIR,
    *,
    target: str | Target,
    max_variables: int | None = None,
    strategy: Strategy = "auto",
) -> DecomposePlan:
    """How to split ``problem`` into subproblems that fit ``target`` (``plan.needed`` says if it must).

    The default limit is what the target certainly takes: its largest clique (annealers) or
    all its spins/qubits, less an ancilla where the target needs one.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 8, 4)), bits=4)
    >>> plan = plan_decomposition(problem, target="chimera-c16")
    >>> plan.needed, plan.max_variables, plan.sizes
    (True, 64, [64, 64])
    """
    tgt = get_target(target)
    ir, _ = _logical(problem, "plan_decomposition")
    if max_variables is None:
        certain = tgt.variable_capacity(has_fields=tgt.needs_ancilla(ir))
        max_variables = tgt.num_qubits if certain is None else certain
    _, ctx = PassManager([AnalysisPass(), DecomposePass(max_variables=max_variables, strategy=strategy)]).run(
        ir, target=tgt
    )
    plan = ctx.get(DecomposePlan)
    assert plan is not None  # DecomposePass always adds one
    return plan

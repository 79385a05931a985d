"""``compile``: an attention problem (or any IR) -> the physical problem on a target, with its decoder.

The default pipeline is ``analysis -> embed -> quantize`` (see ``docs/passes.md``); pass your
own ``pipeline`` (e.g. ``PassManager([ReducePass()]) + default_pipeline()``) to change it.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> cp = compile(problem, target="cim-550", seed=0)
>>> cp.physical.num_variables, cp.physical.vartype      # 12 spins + 1 ancilla for the fields
(13, 'SPIN')
>>> x, info = cp.decode(np.ones((4, 13), dtype=np.int8))
>>> x.shape, int(x.min())
((1, 4, 12), 1)
>>> [r.name for r in cp.log]
['analysis', 'embed', 'quantize']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.decode import DecodeStep, as_batched_samples, decode_samples_with_info
from ..core.ir import QuadraticIR, Vartype
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ..formats.physical import export_ir
from ..passes.analysis import AnalysisPass
from ..passes.base import Pass, PassManager, PassRecord
from ..passes.embed import EmbedPass
from ..passes.quantize import QuantizePass
from ..targets.target import Target, get_target

if TYPE_CHECKING:
    import dimod

__all__ = ["CompiledProblem", "compile", "default_pipeline"]


def default_pipeline(*, strict: bool = True, embedding: Literal["auto", "clique", "heuristic"] = "auto") -> PassManager:
    """``analysis -> embed -> quantize`` (``strict`` analysis raises when the problem cannot fit).

    >>> default_pipeline().names
    ['analysis', 'embed', 'quantize']
    """
    return PassManager([AnalysisPass(strict=strict), EmbedPass(method=embedding), QuantizePass()])


@dataclass(frozen=True, eq=False)
class CompiledProblem:
    """The result of :func:`compile`.

    Attributes:
        logical: the input IR (BINARY for QAMA problems).
        physical: the problem on the target's qubits, SPIN, batched like the input; its
            labels (field ``qubit``) are hardware qubit ids.
        decoder: the way back, as data (applied in reverse by :meth:`decode`).
        log: one :class:`PassRecord` per pass.
        target: the :class:`Target`.
        properties: analysis facts (``analysis``, ``embedding``, ``quantization``).
        problem: the :class:`AttentionProblem`, if one was compiled.
    """

    logical: QuadraticIR
    physical: QuadraticIR
    decoder: tuple[DecodeStep, ...]
    log: tuple[PassRecord, ...]
    target: Target
    properties: Mapping[str, Any] = field(default_factory=dict)
    problem: AttentionProblem | None = None

    @property
    def num_qubits(self) -> int:
        return self.physical.num_variables

    @property
    def qubits(self) -> NDArray[np.int64]:
        """Hardware qubit id of each physical variable."""
        return self.physical.labels[:, 0]

    def decode(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN"
    ) -> tuple[NDArray[np.int8], dict[str, Any]]:
        """Physical samples ``[B, S, Q]`` or ``[S, Q]`` -> logical samples ``[B, S, V]`` and info.

        ``info`` has ``logical_energies [B, S]`` (recomputed from the logical IR) and what the
        decoders report (e.g. ``chain_break_fraction [B]``).
        """
        x = as_batched_samples(physical_samples, self.physical.batch_size)
        if x.shape[0] != self.physical.batch_size or x.shape[2] != self.physical.num_variables:
            raise InvalidInputError(
                f"physical samples must be [S, {self.physical.num_variables}] or "
                f"[{self.physical.batch_size}, S, {self.physical.num_variables}], got {np.shape(physical_samples)}",
                fix="order the columns like CompiledProblem.qubits",
            )
        lo = -1 if vartype == "SPIN" else 0
        valid = (x == lo) | (x == 1)
        if not valid.all():
            raise InvalidInputError(
                f"physical samples must be {lo} or 1 ({vartype}), got {x[~valid][:5].tolist()}",
                fix="pass vartype='BINARY' for 0/1 samples",
            )
        if vartype == "BINARY":
            x = (2 * x.astype(np.int8) - 1).astype(np.int8)
        logical, info = decode_samples_with_info(self.decoder, x.astype(np.int8))
        logical = logical.astype(np.int8)
        info["logical_energies"] = self.logical.energies(logical) if logical.shape[1] else np.zeros((x.shape[0], 0))
        return logical, info

    def weights(self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN") -> NDArray[np.float64]:
        """Token weights ``[B, S, H, N]`` of physical samples (needs the attention problem)."""
        if self.problem is None:
            raise InvalidInputError("weights need an AttentionProblem; this CompiledProblem was built from an IR")
        logical, _ = self.decode(physical_samples, vartype=vartype)
        return self.problem.weights(logical)

    def to_bqm(self, index: int = 0) -> dimod.BinaryQuadraticModel:
        """The physical problem ``index`` as a SPIN BQM labelled by hardware qubit."""
        from ..core.convert import ir_to_bqm

        return ir_to_bqm(self.physical, index, vartype="SPIN")

    def export(self, path: str | Path, *, format: str | None = None, reps: int = 1) -> Path:
        """Write the physical problem in the target's format (see :mod:`qama_compile.formats.physical`)."""
        q = self.properties.get("quantization") or {}
        extra = {"quantization": {k: q.get(k) for k in ("bits", "h_step", "j_step", "scale")}} if q else {}
        emb = self.properties.get("embedding") or {}
        extra["embedding"] = {k: emb.get(k) for k in ("mapping", "qubits", "max_chain_length", "chain_strength")}
        return export_ir(self.physical, path, target=self.target, format=format, reps=reps, extra=extra)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts, facts and the log."""
        return {
            "target": self.target.name,
            "logical_variables": self.logical.num_variables,
            "logical_couplers": self.logical.num_couplers,
            "physical_qubits": self.physical.num_variables,
            "physical_couplers": self.physical.num_couplers,
            "batch_size": self.physical.batch_size,
            "properties": _jsonable(dict(self.properties)),
            "log": [_jsonable(r.as_dict()) for r in self.log],
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def compile(
    problem: AttentionProblem | QuadraticIR,
    *,
    target: str | Target,
    pipeline: PassManager | Sequence[Pass] | None = None,
    chain_strength: float | ArrayLike | None = None,
    unembed: Literal["majority", "discard", "weighted_random"] = "majority",
    quantize: Literal["nearest", "stochastic"] = "nearest",
    bits: int | None = None,
    embedding: Literal["auto", "clique", "heuristic"] = "auto",
    timeout: float = 60.0,
    seed: int | None = None,
    decompose: Pass | None = None,
) -> CompiledProblem:
    """Compile ``problem`` for ``target``.

    Args:
        problem: an :class:`AttentionProblem` or a :class:`QuadraticIR` (any vartype).
        target: a target name (see :func:`qama_compile.targets.available_targets`) or a
            :class:`Target`.
        pipeline: passes to run instead of :func:`default_pipeline`.
        chain_strength: a number (or one per problem), or ``None`` for uniform torque
            compensation.
        unembed: chain-break resolution: ``"majority"``, ``"discard"`` or ``"weighted_random"``.
        quantize: rounding to the target's bit width: ``"nearest"`` or ``"stochastic"``.
        bits: override the target's coupling bit width.
        embedding: ``"auto"``, ``"clique"`` (busclique) or ``"heuristic"`` (find_embedding).
        timeout: seconds for ``find_embedding``.
        seed: for every stochastic step (find_embedding, stochastic rounding, weighted random).
        decompose: a decomposition pass (e.g. ``DecomposePass()``), run after analysis. If it
            reports ``properties["decompose"]["needed"]``, compilation stops there: the result's
            ``physical`` is the (unembedded) input and ``properties["decomposed"]`` is ``True``;
            the subproblems are embedded when they are solved. Otherwise compilation continues.

    Raises:
        ProblemTooLargeError: the problem cannot fit and no ``decompose`` was given; the
            message names the counts and the limit.
    """
    tgt = get_target(target)
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}", fix="pass e.g. seed=0")
    if bits is not None and (not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 2 <= bits <= 32):
        raise InvalidInputError(
            f"bits (the coupling bit width) must be an integer in 2..32, got {bits!r}",
            fix="pass e.g. bits=8, or None for the target's own width",
        )
    if not isinstance(timeout, (int, float, np.integer, np.floating)) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidInputError(
            f"timeout must be a positive number of seconds, got {timeout!r}", fix="pass e.g. timeout=60"
        )
    if chain_strength is not None:
        try:
            strengths = np.asarray(chain_strength, dtype=np.float64)
        except (TypeError, ValueError):
            strengths = np.array([np.nan])
        if strengths.size == 0 or not np.all(np.isfinite(strengths)) or np.any(strengths <= 0):
            raise InvalidInputError(
                f"chain_strength must be positive and finite (one number, or one per problem), got {chain_strength!r}",
                fix="pass e.g. chain_strength=2.0, or None for uniform torque compensation",
            )
    if isinstance(problem, AttentionProblem):
        ir, attention = problem.ir, problem
    elif isinstance(problem, QuadraticIR):
        ir, attention = problem, None
    else:
        raise InvalidInputError(
            f"compile() takes an AttentionProblem or a QuadraticIR, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    options: dict[str, Any] = {
        "seed": seed,
        "chain_strength": chain_strength,
        "unembed": unembed,
        "quantize": quantize,
        "bits": bits,
        "method": embedding,
        "timeout": timeout,
    }
    if pipeline is not None:
        pm = pipeline if isinstance(pipeline, PassManager) else PassManager(pipeline)
        physical, ctx = pm.run(ir, target=tgt, **options)
    elif decompose is None:
        physical, ctx = default_pipeline(strict=True, embedding=embedding).run(ir, target=tgt, **options)
    else:
        if "max_variables" not in options:  # the certain limit: a clique embedding / all spins
            cap = tgt.largest_clique()
            ancilla = int(tgt.kind == "cim" and not tgt.native_fields)
            options["max_variables"] = None if cap is None else cap - ancilla
        rest = default_pipeline(strict=False, embedding=embedding)
        physical, ctx = PassManager([rest.passes[0], decompose]).run(ir, target=tgt, **options)
        plan = ctx.properties.get("decompose") or {}
        if not plan.get("needed"):
            physical, ctx = PassManager(rest.passes[1:]).run(physical, context=ctx)
        else:  # too large: the result is the plan; subproblems are compiled when they are solved
            ctx.properties["decomposed"] = True
    return CompiledProblem(
        logical=ir,
        physical=physical,
        decoder=tuple(ctx.decoders),
        log=tuple(ctx.records),
        target=tgt,
        properties=dict(ctx.properties),
        problem=attention,
    )

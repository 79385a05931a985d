"""What an attention problem becomes on each target, and how counts grow with size.

:func:`inspect_targets` compiles problem 0 of the batch for each target (every figure is
measured on the compiled problem): logical variables and couplers, physical qubits and
non-zero physical couplers, chain lengths, utilisation, the fit on size *and* coupler
precision (:meth:`qama_compile.targets.Target.fit`), the DAC bits the couplers need and the
share quantization rounds to zero, the largest token count ``N`` that fits at this bit width
and the largest selection width ``q`` that fits (:func:`qama_compile.compiler.choose_bits`),
quantization levels and error, and a ``fix`` when it does not fit; for gate targets the
transpiled QAOA depth and two-qubit gate count per depth ``p``. :data:`TARGET_COLUMNS` are
the columns ``qama inspect`` prints by default.

:func:`sweep` tabulates, over token counts (or heads / bits), the logical variables
``H*N*q`` (linear in ``N``), the couplers, the physical qubits of a clique embedding on the
target (Pegasus by default), and the ``H*N^2`` scores of softmax attention; :func:`plot_sweep`
draws them (matplotlib Agg, atomic write).

Couplers are structural: per head ``(Nq)(Nq-1)/2`` dense plus the head penalty
``H(H-1)/2 * N * q``.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> p = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> row = inspect_targets(p, ["cim-550"])[0]
>>> row["logical_variables"], row["physical_qubits"], row["fits"], row["largest_tokens"], row["largest_bits"]
(12, 14, True, 137, 3)
>>> [r["logical_variables"] for r in sweep(p, "tokens", [4, 8], target="chimera-c16")]
[16, 32]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..compiler.driver import compile
from ..compiler.precision import choose_bits
from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, ProblemTooLargeError
from ..passes.options import DEFAULT_MAX_ZEROED_FRACTION, FieldAncillas
from ..passes.reports import AnalysisReport, BitsChoice, EmbeddingReport, QuantizationReport
from ..targets import STATEVECTOR_BYTES_PER_AMPLITUDE, Target, get_target
from .plotting import new_figure, save_png

#: Gate targets: transpile QAOA only up to this many qubits.
MAX_GATE_QUBITS = 30
#: The columns of :func:`inspect_targets` that ``qama inspect`` shows without ``--wide``.
TARGET_COLUMNS = (
    "target",
    "fits",
    "physical_qubits",
    "physical_couplers",
    "max_chain_length",
    "coupler_bits",
    "bits_needed",
    "zeroed_fraction",
    "largest_tokens",
    "largest_bits",
)
COUNT_NOTE = "couplers: per head (Nq)^2/2 dense + head penalty H(H-1)/2*N*q"


def qama_counts(heads: int, tokens: int, bits: int) -> tuple[int, int]:
    """``(variables, couplers)`` of a QAMA problem: ``H*N*q`` and the structural coupler count.

    >>> qama_counts(2, 4, 2)
    (16, 64)
    """
    n = tokens * bits
    return heads * n, heads * n * (n - 1) // 2 + heads * (heads - 1) // 2 * n


def largest_fitting(fits: Callable[[int], bool], *, low: int = 1, high: int = 1 << 20) -> int:
    """Largest ``n`` in ``[low, high]`` with ``fits(n)`` for a monotone predicate (0 if none).

    >>> largest_fitting(lambda n: 3 * n <= 100)
    33
    """
    if not fits(low):
        return 0
    lo, hi = low, high
    while lo < hi:  # binary search: fits(lo) is true
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _shape(problem: AttentionProblem | QuadraticIR) -> tuple[int, int, int] | None:
    """``(H, N, q)`` of a QAMA problem, ``None`` if unknown."""
    if isinstance(problem, AttentionProblem):
        _, h, n, q = problem.shape
        return h, n, q
    if "head" in problem.label_fields and "bit" in problem.label_fields:
        h = int(problem.labels[:, problem.label_fields.index("head")].max(initial=-1)) + 1
        q = int(problem.labels[:, problem.label_fields.index("bit")].max(initial=-1)) + 1
        return h, problem.num_variables // max(h * q, 1), q
    return None


def _gate_counts(ir: QuadraticIR, target: Target, depths: Sequence[int], seed: int) -> dict[str, Any]:
    from qiskit import transpile
    from qiskit.circuit.library import qaoa_ansatz

    from ..core.convert import ir_to_pauli
    from ..core.graphs import heron_coupling_map

    op, _ = ir_to_pauli(ir, 0)
    out: dict[str, Any] = {}
    coupling = heron_coupling_map() if target.topology == "heavy-hex" else None
    for p in depths:
        circuit = qaoa_ansatz(op, reps=p)
        circuit.measure_all()
        tqc = transpile(
            circuit,
            coupling_map=coupling,
            basis_gates=["cz", "rz", "sx", "x"],
            optimization_level=1,
            seed_transpiler=seed,
        )
        ops = tqc.count_ops()
        out[f"qaoa_p{p}_depth"] = int(tqc.depth())
        out[f"qaoa_p{p}_two_qubit_gates"] = int(ops.get("cz", 0))
    return out


def inspect_targets(
    problem: AttentionProblem | QuadraticIR,
    targets: Sequence[str | Target],
    *,
    seed: int = 0,
    timeout: float = 10.0,
    qaoa_depths: Sequence[int] = (1, 2, 3),
    max_gate_qubits: int = MAX_GATE_QUBITS,
    max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION,
    field_ancillas: FieldAncillas = "auto",
) -> list[dict[str, Any]]:
    """One row per target for problem 0 of the batch (see the module docstring).

    The problem is compiled with ``allow_precision_loss=True`` so every figure is measured;
    ``fits`` is the target's verdict on size and precision (``max_zeroed_fraction``), and a
    row that does not fit has a ``fix``.
    """
    ir = problem.ir if isinstance(problem, AttentionProblem) else problem
    ir0 = ir.select([0])
    first = problem.select([0]) if isinstance(problem, AttentionProblem) else None
    shape = _shape(problem)
    v, couplers = ir0.num_variables, ir0.num_couplers
    has_fields = bool(np.any(ir0.to_spin().linear != 0))
    rows = []
    for name in targets:
        target = get_target(name)
        row: dict[str, Any] = {
            "target": target.name,
            "kind": target.kind,
            "logical_variables": v,
            "logical_couplers": couplers,
            "coupler_bits": target.coupling_bits,
            "levels": target.quantization_levels() or ("analog" if target.kind in ("annealer", "cim") else None),
        }
        fit = target.fit(ir0, max_zeroed_fraction=max_zeroed_fraction, field_ancillas=field_ancillas)
        prec = fit.precision
        row.update(
            {
                "fits": fit.fits,
                "size_fits": fit.size_fits,
                "reason": fit.reason,
                "bits_needed": None if prec is None else prec.bits_needed,
                "bits_lossless": None if prec is None else prec.bits_lossless,
            }
        )
        try:
            cp = compile(
                ir0 if first is None else first,
                target=target,
                seed=seed,
                timeout=timeout,
                allow_precision_loss=True,
                max_zeroed_fraction=max_zeroed_fraction,
                field_ancillas=field_ancillas,
            )
        except ProblemTooLargeError as exc:
            row.update({"fits": False, "physical_qubits": None})
            if fit.fits is not False:  # the target's rule could not tell; the embedding attempt did
                row["reason"] = exc.message
        else:
            analysis, emb = cp.report(AnalysisReport), cp.report(EmbeddingReport)
            quant = cp.report(QuantizationReport)
            row.update(
                {
                    "fits": fit.fits if analysis is None else analysis.fit.fits,
                    "physical_qubits": cp.num_qubits,
                    "physical_couplers": cp.summary()["physical_couplers"],
                    "field_ancillas": None if emb is None else emb.field_ancillas,
                    "max_chain_length": None if emb is None else emb.max_chain_length,
                    "mean_chain_length": None if emb is None else emb.mean_chain_length,
                    "utilisation": None if emb is None else emb.utilisation,
                    "zeroed_fraction": None if quant is None or quant.bits is None else quant.zeroed_fraction,
                    "max_coefficient_error": None if quant is None else quant.max_coefficient_error,
                    "rms_coefficient_error": None if quant is None else quant.rms_coefficient_error,
                }
            )
        cap = target.variable_capacity(has_fields=has_fields)
        if shape is not None and cap is not None:
            h, _, q = shape

            def fits_tokens(n: int, h: int = h, q: int = q, c: int = cap) -> bool:
                return qama_counts(h, n, q)[0] <= c

            row["largest_tokens"] = largest_fitting(fits_tokens)
            unit = {"annealer": f"clique embedding K_{cap}", "cim": f"{cap} spins (+ ancilla for fields)"}
            row["largest_tokens_basis"] = f"{unit.get(target.kind, f'{cap} qubits')}, H={h}, q={q} bits (size only)"
        choice = None
        if first is not None:
            choice = choose_bits(
                first, target, max_bits=8, max_zeroed_fraction=max_zeroed_fraction, field_ancillas=field_ancillas
            )
            row["largest_bits"] = choice.chosen
        if row.get("fits") is False:
            row["fix"] = _fit_fix(row, first, choice)
        estimate = target.estimate_time_us(100)
        if estimate is not None:
            row["qpu_time_us_100_reads"] = f"{estimate[0]:.0f}-{estimate[1]:.0f}"
        if target.kind in ("gate", "simulator"):
            row["statevector_bytes"] = STATEVECTOR_BYTES_PER_AMPLITUDE * 2**v if v < 64 else math.inf
            if target.kind == "gate":
                if v <= max_gate_qubits and row.get("fits"):
                    row.update(_gate_counts(ir0, target, qaoa_depths, seed))
                else:
                    row["qaoa"] = f"too large to transpile ({v} qubits > {max_gate_qubits})"
        rows.append(row)
    return rows


def _fit_fix(row: dict[str, Any], problem: AttentionProblem | None, choice: BitsChoice | None) -> str:
    """What makes a problem that does not fit a target fit (CLI options first)."""
    parts = []
    q = None if choice is None else choice.chosen
    if problem is not None and choice is not None and q is not None and q < problem.bits:
        certain = choice.fits[choice.candidates.index(q)] is True
        parts.append(
            f"lower with --bits {q} (the largest selection width that "
            + ("fits" if certain else "may fit; only an embedding attempt can tell")
            + "; --bits auto picks it)"
        )
    if row.get("size_fits") is False:
        parts.append("use fewer tokens or heads, a larger target, or decompose (qama_compile.solve(decompose=True))")
    else:
        parts.append(
            "raise --max-zeroed-fraction, or compile anyway with --allow-precision-loss (the loss is reported)"
        )
    return "; or ".join(parts)


def _clique_qubits(target: Target, size: int) -> tuple[int, int] | None:
    try:
        chains = target.clique_embedding(size)
    except ProblemTooLargeError:
        return None
    lengths = [len(c) for c in chains]
    return sum(lengths), max(lengths)


def _base_shape(source: Any, bits: int | None, seed: int) -> tuple[int, int, int, Callable[[int], Any] | None]:
    if isinstance(source, (AttentionProblem, QuadraticIR)):
        shape = _shape(source)
        if shape is None:
            raise InvalidInputError("sweep needs a QAMA problem (labels head, token, bit)")
        h, n, q = shape
        return h, n, (bits or q), None
    if callable(source):
        return 0, 0, bits or 4, source
    if source is None:
        return 2, 8, bits or 4, None
    tensors = [np.asarray(t) for t in source]
    if len(tensors) != 3:
        raise InvalidInputError("sweep source must be a problem, a factory N -> problem, or (q, k, v) tensors")
    h = tensors[0].shape[-3] if tensors[0].ndim >= 3 else 1
    return int(h), int(tensors[0].shape[-2]), bits or 4, None


def sweep(
    source: AttentionProblem | QuadraticIR | Callable[[int], AttentionProblem] | Sequence[Any] | None = None,
    param: str = "tokens",
    values: Sequence[int] | None = None,
    *,
    tokens: Sequence[int] | None = None,
    target: str | Target = "dwave-advantage",
    targets: Sequence[str | Target] = (),
    bits: int | None = None,
    plot: str | Path | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Counts over a size sweep (default ``tokens = 8, 16, 32, 64``); optionally writes a PNG.

    ``source`` gives the other sizes: an :class:`AttentionProblem` / IR (its heads and bits),
    a factory ``N -> AttentionProblem`` (counts measured on each problem), ``(q, k, v)``
    tensors (their heads), or ``None`` (2 heads). Physical qubits are measured from a
    clique embedding on ``target``; when the whole problem exceeds the largest clique, the
    figure for one head's clique ``K_{Nq}`` (decomposed by head, one head at a time) is given.
    ``targets`` adds a fits-or-not column per target (by its capacity).
    """
    if param not in ("tokens", "heads", "bits"):
        raise InvalidInputError(f"sweep parameter must be tokens, heads or bits, got {param!r}")
    values = list(tokens if tokens is not None else values if values is not None else (8, 16, 32, 64))
    h0, n0, q0, factory = _base_shape(source, bits, seed)
    tgt = get_target(target)
    extra = [get_target(t) for t in targets]
    rows = []
    for value in values:
        if factory is not None:
            prob = factory(int(value))
            h, n, q = _shape(prob) or (0, 0, 0)
            v_meas = prob.ir.num_variables if isinstance(prob, AttentionProblem) else prob.num_variables
        else:
            h, n, q = h0, n0, q0
            h, n, q = (
                (int(value), n, q)
                if param == "heads"
                else (h, int(value), q)
                if param == "tokens"
                else (h, n, int(value))
            )
            v_meas = None
        variables, couplers = qama_counts(h, n, q)
        if v_meas is not None and v_meas != variables:
            raise InvalidInputError(f"factory problem has {v_meas} variables, expected H*N*q = {variables}")
        row: dict[str, Any] = {
            "heads": h,
            "tokens": n,
            "bits": q,
            "logical_variables": variables,
            "logical_couplers": couplers,
            "softmax_scores": h * n * n,
            "softmax_bytes_fp32": 4 * h * n * n,
        }
        whole = _clique_qubits(tgt, variables) if tgt.kind == "annealer" else None
        if tgt.kind != "annealer":
            row[f"qubits_{tgt.name}"] = variables + tgt.ancilla_spins()
            row["embedding"] = "all-to-all" if tgt.kind == "cim" else "identity"
        elif whole is not None:
            row[f"qubits_{tgt.name}"], row["max_chain_length"] = whole
            row["embedding"] = f"clique K_{variables}"
        else:
            per_head = _clique_qubits(tgt, n * q)
            row[f"qubits_{tgt.name}"] = None if per_head is None else per_head[0]
            row["max_chain_length"] = None if per_head is None else per_head[1]
            row["embedding"] = (
                f"does not fit (K_{n * q} per head too large)"
                if per_head is None
                else f"one head at a time: clique K_{n * q} (decomposed by head)"
            )
        for t in extra:
            cap = t.variable_capacity()
            row[f"fits_{t.name}"] = None if cap is None else variables <= cap
        rows.append(row)
    if plot is not None:
        plot_sweep(rows, plot, target=tgt.name)
    return rows


def plot_sweep(rows: Sequence[dict[str, Any]], path: str | Path, *, target: str = "dwave-advantage") -> Path:
    """Log-log plot of logical variables, physical qubits on ``target`` and softmax scores vs tokens."""
    x = [r["tokens"] for r in rows]
    fig = new_figure(6.4, 4.2)  # no pyplot: the caller's matplotlib backend is left alone
    ax = fig.subplots()
    ax.plot(x, [r["logical_variables"] for r in rows], "o-", label="QAMA variables H*N*q (linear)")
    key = f"qubits_{target}"
    whole = [(r["tokens"], r[key]) for r in rows if r.get(key) and "decomposed" not in str(r.get("embedding"))]
    part = [(r["tokens"], r[key]) for r in rows if r.get(key) and "decomposed" in str(r.get("embedding"))]
    if whole:
        ax.plot(*zip(*whole, strict=True), "s-", label=f"physical qubits on {target} (whole problem)")
    if part:
        ax.plot(*zip(*part, strict=True), "s:", mfc="none", label=f"physical qubits on {target} (one head)")
    ax.plot(x, [r["softmax_scores"] for r in rows], "^--", label="softmax attention scores H*N^2")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tokens N")
    ax.set_ylabel("count")
    ax.set_title(f"QAMA size vs softmax attention (H={rows[0]['heads']}, q={rows[0]['bits']})" if rows else "")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=120)

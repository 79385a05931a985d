"""Scale an Ising IR into the target's ``h`` and ``J`` ranges and round to its DAC grid.

Per problem ``b`` one scale ``s_b > 0`` multiplies every coefficient (and the offset), chosen
as large as the ranges allow (like D-Wave's ``auto_scale``); the extended ``J`` range is used
when it gives a larger scale (``use_extended="auto"``), and a target's
``per_qubit_coupling_range`` (the allowed sum of the couplings on one qubit) bounds it too.
With ``bits`` (the target's ``coupling_bits`` unless overridden) each coefficient is rounded to the grid
``step * k`` with ``step = max(|lo|, |hi|) / (2**(bits-1) - 1)`` and ``k`` an integer inside
the range: ``"nearest"`` or ``"stochastic"`` (unbiased, seeded) rounding. Analog targets
(``bits=None``) are only scaled.

Reported as a :class:`~qama_compile.passes.reports.QuantizationReport`, in the units of the
input problem: the max and RMS coefficient error, the energy error bound
``sum |dh| + sum |dJ|`` (spins are +-1, so no assignment's energy moves by more), the
couplers rounding set to zero, and for problems of at most ``max_exact`` variables whether
the quantized ground state is still an original ground state (exact enumeration,
:func:`qama_compile.core.exact.lowest_states`).

It refuses a lossy result with :class:`~qama_compile.errors.PrecisionLossError` (fields and
a fix) when rounding zeroes more than ``max_zeroed_fraction`` of a problem's non-zero
couplers or the ground-state check fails, unless ``allow_precision_loss`` is set; then the
loss is written into the report (``precision_loss``). ``bits_needed`` is the target's
precision rule (:meth:`qama_compile.targets.Target.precision`) on the IR the pass received.

Samples are unchanged by scaling, so the pass adds no decoder (only ``VartypeChange`` if it
converted a BINARY input to SPIN).

>>> import numpy as np
>>> from qama_compile.ir import QuadraticIR
>>> from qama_compile.targets import get_target
>>> from qama_compile.passes.base import PassManager
>>> ir = QuadraticIR.from_coo(linear=[0.3, -2.0], rows=[0], cols=[1], data=[0.7], vartype="SPIN")
>>> out, ctx = PassManager([QuantizePass()]).run(ir, target=get_target("cim-550"))
>>> (out.linear * 127).round(6).tolist(), ctx.get(QuantizationReport).ground_state_preserved
([[19.0, -127.0]], (True,))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..core.decode import VartypeChange
from ..core.exact import lowest_states
from ..core.ir import QuadraticIR
from ..errors import PrecisionLossError
from .analysis import coupler_magnitudes, significant
from .base import Pass, PassContext, TargetLike
from .options import Rounding
from .reports import QuantizationReport

__all__ = ["QuantizePass", "coupling_sums", "grid_step", "range_scale", "scale_factors"]


def grid_step(bounds: tuple[float, float], bits: int) -> float:
    """Grid step of a signed ``bits``-bit DAC over ``bounds`` (symmetric levels around 0).

    >>> grid_step((-1.0, 1.0), 8) * 127
    1.0
    """
    return max(abs(bounds[0]), abs(bounds[1])) / (2 ** (int(bits) - 1) - 1)


def _round_to_grid(
    x: NDArray[np.float64],
    step: float,
    bounds: tuple[float, float],
    rounding: Rounding,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    y = x / step
    if rounding == "nearest":
        k = np.rint(y)
    else:
        lo = np.floor(y)
        k = lo + (rng.random(y.shape) < (y - lo))
    k = np.clip(k, np.ceil(bounds[0] / step - 1e-9), np.floor(bounds[1] / step + 1e-9))
    return k * step


def range_scale(values_max: NDArray[np.float64], values_min: NDArray[np.float64], bounds: tuple[float, float]) -> Any:
    """Per problem, the largest ``s`` with ``s * values`` inside ``bounds`` (``inf`` for all-zero values)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(values_max > 0, bounds[1] / np.where(values_max > 0, values_max, 1.0), np.inf)
        down = np.where(values_min < 0, bounds[0] / np.where(values_min < 0, values_min, -1.0), np.inf)
    return np.minimum(up, down)


def _quad_extrema(ir: QuadraticIR) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    b = ir.batch_size
    parts_max, parts_min = [np.zeros(b)], [np.zeros(b)]
    if ir.block_count:
        parts_max.append(ir.blocks.reshape(b, -1).max(axis=1))
        parts_min.append(ir.blocks.reshape(b, -1).min(axis=1))
    if ir.rows.size:
        parts_max.append(ir.data.max(axis=1, initial=0.0))
        parts_min.append(ir.data.min(axis=1, initial=0.0))
    return np.max(parts_max, axis=0), np.min(parts_min, axis=0)


def coupling_sums(ir: QuadraticIR) -> NDArray[np.float64]:
    """Sum of the couplings on each variable, ``[B, V]`` (vectorised over blocks and COO).

    >>> ir = QuadraticIR.from_coo(linear=[0, 0, 0], rows=[0, 0], cols=[1, 2], data=[-1.0, -0.5], vartype="SPIN")
    >>> coupling_sums(ir).tolist()
    [[-1.5, -1.0, -0.5]]
    """
    b, v = ir.batch_size, ir.num_variables
    sums = np.zeros((b, v))
    if ir.block_count:
        g, n = ir.block_count, ir.block_size
        sums[:, : g * n] += (ir.blocks.sum(axis=3) + ir.blocks.sum(axis=2)).reshape(b, g * n)
    if ir.rows.size:
        import scipy.sparse as sp

        e = ir.rows.size
        incidence = sp.csr_matrix(
            (np.ones(2 * e), (np.concatenate([ir.rows, ir.cols]), np.tile(np.arange(e), 2))), shape=(v, e)
        )
        sums += np.asarray((incidence @ ir.data.T).T)
    return sums


def _per_qubit_scale(ir: QuadraticIR, bounds: tuple[float, float] | None) -> NDArray[np.float64]:
    """Largest scale per problem that keeps every variable's coupling sum inside ``bounds``."""
    if bounds is None:
        return np.full(ir.batch_size, np.inf)
    sums = coupling_sums(ir)
    return np.asarray(range_scale(sums.max(axis=1, initial=0.0), sums.min(axis=1, initial=0.0), bounds))


def scale_factors(
    ir: QuadraticIR,
    target: TargetLike,
    *,
    use_extended: bool | Literal["auto"] = "auto",
) -> tuple[NDArray[np.float64], bool]:
    """Per-problem scale into the target ranges, and whether the extended ``J`` range was used.

    A target with a ``per_qubit_coupling_range`` (D-Wave) also bounds the scale so that the
    sum of the couplings on every qubit stays inside it.
    """
    hs = range_scale(ir.linear.max(axis=1, initial=0.0), ir.linear.min(axis=1, initial=0.0), target.h_range)
    hs = np.minimum(hs, _per_qubit_scale(ir, target.per_qubit_coupling_range))
    qmax, qmin = _quad_extrema(ir)
    plain = np.minimum(hs, range_scale(qmax, qmin, target.j_range))
    if target.extended_j_range is None or use_extended is False:
        chosen, extended = plain, False
    else:
        ext = np.minimum(hs, range_scale(qmax, qmin, target.extended_j_range))
        extended = bool(use_extended is True or np.any(ext > plain * (1 + 1e-12)))
        chosen = ext if extended else plain
    chosen = np.where(np.isfinite(chosen), chosen, 1.0)  # an all-zero problem
    return chosen, extended


def _ground_state_check(original: QuadraticIR, quantized: QuadraticIR, max_variables: int) -> tuple[bool, ...]:
    """Per problem: is a ground state of ``quantized`` also a ground state of ``original``?"""
    x_q, _ = lowest_states(quantized, k=1, max_variables=max_variables)
    _, e_best = lowest_states(original, k=1, max_variables=max_variables)
    e = original.energies(x_q)[:, 0]
    tol = 1e-9 * (1.0 + np.abs(e_best[:, 0]))
    return tuple(bool(ok) for ok in e <= e_best[:, 0] + tol)


@dataclass(frozen=True)
class QuantizePass(Pass):
    """Scale into the target's ranges and round to its bit width. ``None`` options come from ``context.options``.

    Args:
        rounding: ``"nearest"`` or ``"stochastic"`` (option ``rounding``).
        bits: DAC bits (option ``bits``, else ``target.coupling_bits``; ``None`` there = analog,
            scale only).
        use_extended: ``"auto"``, ``True`` or ``False`` for the extended ``J`` range.
        max_exact: check the ground state exactly up to this many variables (option ``max_exact``).
    """

    name: ClassVar[str] = "quantize"
    rounding: Rounding | None = None
    bits: int | None = None
    use_extended: bool | Literal["auto"] = "auto"
    max_exact: int | None = None

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        target = context.target
        if target is None or target.kind in ("gate", "simulator"):
            return ir
        opts = context.options
        rounding = self.rounding or opts.rounding
        bits = self.bits if self.bits is not None else (opts.bits if opts.bits is not None else target.coupling_bits)
        max_exact = self.max_exact if self.max_exact is not None else opts.max_exact
        spin = ir.to_spin()
        if ir.vartype != "SPIN":
            context.decoders.append(VartypeChange(source=ir.vartype, target="SPIN"))
        scale, extended = scale_factors(spin, target, use_extended=self.use_extended)
        jb = target.j_bounds(extended=extended)
        s3, s4 = scale[:, None], scale[:, None, None, None]
        lin, blocks, data = spin.linear * s3, spin.blocks * s4, spin.data * s3
        steps: dict[str, float] = {}
        if bits is not None:
            rng = np.random.default_rng(opts.seed)
            steps = {"h_step": grid_step(target.h_range, bits), "j_step": grid_step(jb, bits)}
            lin = _round_to_grid(lin, steps["h_step"], target.h_range, rounding, rng)
            blocks = _round_to_grid(blocks, steps["j_step"], jb, rounding, rng)
            if spin.block_count:
                blocks = np.triu(blocks, k=1)
            data = _round_to_grid(data, steps["j_step"], jb, rounding, rng)
        else:
            lin = np.clip(lin, *target.h_range)
            blocks, data = np.clip(blocks, *jb), np.clip(data, *jb)
        meta = {**spin.meta, "scale": scale.tolist(), **({"quantization_steps": steps} if steps else {})}
        out = dataclasses.replace(spin, linear=lin, offset=spin.offset * scale, blocks=blocks, data=data, meta=meta)
        # errors in the input's units
        b = spin.batch_size
        err_parts = [lin / s3 - spin.linear, (data / s3 - spin.data)]
        if spin.block_count:
            iu, ju = np.triu_indices(spin.block_size, k=1)
            err_parts.append((blocks / s4 - spin.blocks)[:, :, iu, ju].reshape(b, -1))
        err = np.concatenate([p.reshape(b, -1) for p in err_parts], axis=1)
        abs_err = np.abs(err)
        mags_in = coupler_magnitudes(spin)
        kept = significant(mags_in)
        before = kept.sum(axis=1)
        after = (kept & (coupler_magnitudes(out) != 0)).sum(axis=1)
        checked = spin.num_variables <= max_exact
        preserved = _ground_state_check(spin, out, max_exact) if checked else ()
        allowance = opts.max_zeroed_fraction
        needed = None if bits is None else target.precision(spin, bits=bits, max_zeroed_fraction=allowance).bits_needed
        loss = _precision_loss(before, after, allowance, preserved)
        if loss and not opts.allow_precision_loss:
            raise PrecisionLossError(
                f"quantizing for {target.name!r} ({bits}-bit couplers) loses the problem: {loss}"
                + ("" if needed is None else f"; the couplers need {needed} bits"),
                fix="lower with fewer selection bits (qama_compile.compiler.choose_bits picks the largest that fits; "
                "CLI --bits auto), use a target with more coupler bits, raise max_zeroed_fraction, or pass "
                "allow_precision_loss=True (CLI --allow-precision-loss) to compile anyway",
                target=target.name,
                bits=bits,
                bits_needed=needed,
                zeroed_fraction=_worst_share(before, after),
                max_zeroed_fraction=allowance,
                ground_state_preserved=preserved,
                pass_name=self.name,
            )
        context.add(
            QuantizationReport(
                bits=bits,
                rounding=rounding if bits is not None else "none (analog)",
                levels=None if bits is None else 2 ** int(bits) - 1,
                scale=tuple(float(x) for x in scale),
                extended_j_range_used=extended,
                j_bounds=(float(jb[0]), float(jb[1])),
                h_step=steps.get("h_step"),
                j_step=steps.get("j_step"),
                max_coefficient_error=float(abs_err.max(initial=0.0)),
                rms_coefficient_error=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
                energy_error_bound=tuple(float(x) for x in abs_err.sum(axis=1)),
                zeroed_couplers=tuple(int(x) for x in before - after),
                nonzero_couplers=tuple(int(x) for x in out.nonzero_couplers()),
                ground_state_checked=checked,
                ground_state_preserved=preserved,
                bits_needed=needed,
                max_zeroed_fraction=float(allowance),
                precision_loss=loss,
            )
        )
        return out


def _worst_share(before: NDArray[np.int64], after: NDArray[np.int64]) -> float:
    return float(((before - after) / np.maximum(before, 1)).max(initial=0.0))


def _precision_loss(
    before: NDArray[np.int64], after: NDArray[np.int64], allowance: float, preserved: tuple[bool, ...]
) -> str:
    """What quantization lost beyond the allowance, as one phrase (``""``: nothing)."""
    parts = []
    zeroed = before - after
    over = np.flatnonzero(zeroed > np.floor(allowance * before + 1e-9))
    if over.size:
        share = _worst_share(before, after)
        allowed = f"at most {100 * allowance:.3g}%" if allowance else "none"
        parts.append(
            f"{100 * share:.3g}% of the non-zero couplers round to zero ({allowed} allowed; "
            f"{int(zeroed[over].max())} of {int(before[over[np.argmax(zeroed[over])]])} in the worst problem)"
        )
    lost = [b for b, ok in enumerate(preserved) if not ok]
    if lost:
        parts.append(
            "the quantized ground state is not an original ground state in problem(s) "
            + ", ".join(str(b) for b in lost[:10])
        )
    return "; ".join(parts)

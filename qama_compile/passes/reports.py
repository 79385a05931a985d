"""Typed, frozen reports: what each pass found or lost, kept in the pass context by type.

Every pass that learns something returns it as one of these dataclasses through
``context.add(report)``; the next pass (or the compiler, or a user) reads it with
``context.get(ReportType)``. No string keys cross a module boundary. ``as_dict()`` is the
JSON view (numpy values become lists and numbers).

>>> fit = Fit(fits=True, reason="24 spins <= 550", qubits_needed=24, qubit_limit=550)
>>> fit.as_dict()["fits"], Fit.unknown("no target").fits
(True, None)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.jsonutil import to_jsonable

__all__ = [
    "AnalysisReport",
    "BitsChoice",
    "DecomposePlan",
    "DynamicRange",
    "EmbeddingReport",
    "Fit",
    "PassReport",
    "PrecisionReport",
    "QuantizationReport",
    "ReductionReport",
    "TrivialityReport",
    "tuple_of",
]


class PassReport:
    """Base of every report: a frozen dataclass with a JSON view."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (nested reports become dicts)."""
        out: dict[str, Any] = to_jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]
        return out


def tuple_of(values: Any, kind: type = float) -> tuple[Any, ...]:
    """A flat tuple of ``kind`` from an array-like (for report fields).

    >>> tuple_of(np.array([[1, 2]]), int)
    (1, 2)
    """
    return tuple(kind(v) for v in np.asarray(values).reshape(-1))


@dataclass(frozen=True)
class PrecisionReport(PassReport):
    """Whether a target's coupler DAC holds a problem's coefficients, and how many bits it would take.

    The rule (:meth:`qama_compile.targets.Target.precision`): the problem is scaled into the
    target's ranges as the quantize pass scales it, and a coupler is lost when nearest
    rounding to the DAC grid sends it to zero (``|J s| <= step / 2``). On CIMs without native
    fields the fields are couplers to the ancilla spin(s), so they count as couplers.

    Attributes:
        bits_available: the DAC width checked (the target's ``coupling_bits`` or the
            ``bits`` option); ``None`` for analog targets (not modelled: ``fits`` is ``None``).
        bits_needed: the smallest DAC width (2..64) that zeroes at most
            ``max_zeroed_fraction`` of the non-zero couplers, worst problem of the batch.
        bits_lossless: the smallest width that zeroes none of them.
        max_zeroed_fraction: the share of couplers allowed to round to zero.
        nonzero_couplers, zeroed_couplers: per problem, physical couplers before rounding
            and those that round to zero at ``bits_available`` (empty when analog).
        field_ancillas: ancilla spins that share the fields (0: native fields or none).
        fits: ``True``/``False``, or ``None`` when not modelled.
        reason: one line.
    """

    bits_available: int | None
    bits_needed: int
    bits_lossless: int
    max_zeroed_fraction: float
    nonzero_couplers: tuple[int, ...]
    zeroed_couplers: tuple[int, ...]
    field_ancillas: int
    fits: bool | None
    reason: str

    @property
    def zeroed_fraction(self) -> float:
        """The largest share of couplers rounded to zero over the batch (0 when analog)."""
        shares = [z / n for z, n in zip(self.zeroed_couplers, self.nonzero_couplers, strict=False) if n]
        return max(shares, default=0.0)


@dataclass(frozen=True)
class Fit(PassReport):
    """Whether a problem fits a target, and why.

    Attributes:
        fits: ``True``, ``False``, or ``None`` when only an embedding attempt can tell.
            ``False`` when the problem is too large *or* needs more coupler precision than
            the target has.
        reason: one line naming the counts and the limit.
        qubits_needed: spins/qubits before embedding (variables, plus the ancilla spins
            where the target has no native fields).
        qubit_limit: the target's qubits or spins.
        couplers_needed, coupler_limit: logical couplers against the physical couplers.
        clique_capacity: the largest clique the target embeds (``None`` if unknown).
        size_fits: the verdict on size alone (qubits, couplers, clique).
        precision: the precision verdict (``None`` when not checked).
    """

    fits: bool | None
    reason: str
    qubits_needed: int = 0
    qubit_limit: int = 0
    couplers_needed: int | None = None
    coupler_limit: int | None = None
    clique_capacity: int | None = None
    size_fits: bool | None = None
    precision: PrecisionReport | None = None

    @classmethod
    def unknown(cls, reason: str) -> Fit:
        return cls(fits=None, reason=reason)


@dataclass(frozen=True)
class DynamicRange(PassReport):
    """Max ``|coefficient|`` over min non-zero ``|coefficient|`` of the Ising form, and its bits."""

    max_abs: float
    min_abs_nonzero: float
    ratio: float
    bits_needed: float


@dataclass(frozen=True)
class AnalysisReport(PassReport):
    """Counts, dynamic range and fit of the IR the analysis pass saw."""

    variables: int
    couplers: int
    nonzero_couplers: tuple[int, ...]
    density: float
    batch_size: int
    dynamic_range: DynamicRange
    fit: Fit
    count_formula: str | None = None


@dataclass(frozen=True)
class EmbeddingReport(PassReport):
    """How the logical variables were mapped onto the target's qubits."""

    mapping: str
    qubits: int
    max_chain_length: int
    mean_chain_length: float
    utilisation: float
    chain_couplers: int = 0
    chain_strength: tuple[float, ...] = ()
    chain_strength_source: str = ""
    clique_capacity: int | None = None
    unembed: str = "majority"
    ancilla: bool = False
    field_ancillas: int = 0


@dataclass(frozen=True)
class QuantizationReport(PassReport):
    """Scaling into the target's ranges and rounding to its DAC grid, with what it cost.

    Errors are in the units of the problem the pass received. ``ground_state_preserved`` has
    one entry per problem when ``ground_state_checked`` (small problems), else it is empty.
    ``zeroed_couplers`` counts, per problem, couplers that were non-zero before and are zero
    after rounding; ``bits_needed`` is the DAC width that would keep all but
    ``max_zeroed_fraction`` of them (:class:`PrecisionReport`). ``precision_loss`` says what
    was lost beyond the allowance (empty when nothing was); it is only non-empty when the
    user allowed it (``allow_precision_loss=True``), else the pass raised.
    """

    bits: int | None
    rounding: str
    levels: int | None
    scale: tuple[float, ...]
    extended_j_range_used: bool
    j_bounds: tuple[float, float]
    h_step: float | None
    j_step: float | None
    max_coefficient_error: float
    rms_coefficient_error: float
    energy_error_bound: tuple[float, ...]
    zeroed_couplers: tuple[int, ...]
    nonzero_couplers: tuple[int, ...]
    ground_state_checked: bool
    ground_state_preserved: tuple[bool, ...] = ()
    skipped: str | None = None
    bits_needed: int | None = None
    max_zeroed_fraction: float = 0.0
    precision_loss: str = ""

    @property
    def zeroed_fraction(self) -> float:
        """The largest share of non-zero couplers rounded to zero over the batch."""
        shares = [z / (z + n) for z, n in zip(self.zeroed_couplers, self.nonzero_couplers, strict=True) if z + n]
        return max(shares, default=0.0)


@dataclass(frozen=True)
class ReductionReport(PassReport):
    """Pruning and roof-duality fixing (per problem where it varies)."""

    prune_threshold: float | None
    pruned_couplers: tuple[int, ...]
    energy_shift_low: tuple[float, ...]
    energy_shift_high: tuple[float, ...]
    roof_duality: bool
    strict: bool
    fixed_variables: int
    fixed_per_problem: tuple[int, ...] = ()
    lower_bounds: tuple[float, ...] = ()

    @property
    def energy_error_bound(self) -> tuple[float, ...]:
        """``max(|shift_low|, |shift_high|)`` per problem."""
        return tuple(max(abs(a), abs(b)) for a, b in zip(self.energy_shift_low, self.energy_shift_high, strict=True))


@dataclass(frozen=True)
class TrivialityReport(PassReport):
    """Whether each problem's ground state is trivial: roof duality fixes every variable and
    the ground state it proves selects every token (every head keeps every token).

    Attributes:
        checked: ``False`` when the problem was too large to check (``reason`` says why).
        variables: variables per problem.
        fixed_per_problem: variables strict roof duality fixed, per problem.
        all_selected: per problem, whether the fixed ground state gives every (head, token)
            a non-zero weight (``False`` when not every variable is fixed). For an IR without
            head/token labels: whether every variable is 1 (BINARY) / +1 (SPIN).
        reason: why the check was skipped, else ``""``.
    """

    checked: bool
    variables: int
    fixed_per_problem: tuple[int, ...] = ()
    all_selected: tuple[bool, ...] = ()
    reason: str = ""

    @property
    def trivial(self) -> tuple[bool, ...]:
        """Per problem: every variable fixed and every token selected."""
        return tuple(f == self.variables and s for f, s in zip(self.fixed_per_problem, self.all_selected, strict=True))

    def message(self) -> str | None:
        """One line when some problem is trivial, else ``None``.

        >>> TrivialityReport(checked=True, variables=4, fixed_per_problem=(4,), all_selected=(True,)).message()
        'trivial ground state: roof duality fixes all 4 variables and every token is selected (problem 0 of 1)'
        """
        hits = [b for b, t in enumerate(self.trivial) if t]
        if not hits:
            return None
        which = ", ".join(str(b) for b in hits[:10]) + (", ..." if len(hits) > 10 else "")
        return (
            f"trivial ground state: roof duality fixes all {self.variables} variables and every token is selected "
            f"(problem{'s' if len(hits) > 1 else ''} {which} of {len(self.trivial)})"
        )


@dataclass(frozen=True)
class BitsChoice(PassReport):
    """The largest selection width ``q`` (bits per head and token) whose problem fits a target.

    Attributes:
        target: the target's name.
        chosen: the largest ``q`` that fits (size and precision), or ``None`` if none does.
        candidates: the widths tried, ascending.
        fits: per candidate, the target's verdict (``None``: only embedding can tell).
        bits_needed: per candidate, the DAC width it would need (:class:`PrecisionReport`).
        zeroed_fraction: per candidate, the share of couplers that would round to zero.
        reasons: per candidate, the fit's reason.
    """

    target: str
    chosen: int | None
    candidates: tuple[int, ...]
    fits: tuple[bool | None, ...]
    bits_needed: tuple[int, ...]
    zeroed_fraction: tuple[float, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class DecomposePlan(PassReport):
    """Which variables each subproblem holds, and why a decomposition is needed.

    Attributes:
        blocks: variable indices per block (sorted, disjoint, covering every variable).
        strategy: the strategy used (``"head"``, ``"tokens"``, or an alternate partition).
        max_variables: the size limit the plan respects.
        unit_size: the largest indivisible unit (a token's bits; 1 for unlabelled IRs).
        needed: whether the problem is over the limit (a plan is made either way).
        reason: why (or ``"fits"``).
    """

    blocks: tuple[NDArray[np.int64], ...]
    strategy: str
    max_variables: int
    unit_size: int
    needed: bool = True
    reason: str = ""
    alternates: tuple[DecomposePlan, ...] = field(default=(), repr=False)

    @property
    def sizes(self) -> list[int]:
        return [int(b.size) for b in self.blocks]

    @property
    def num_variables(self) -> int:
        return int(sum(b.size for b in self.blocks))

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "max_variables": self.max_variables,
            "unit_size": self.unit_size,
            "needed": self.needed,
            "reason": self.reason,
            "num_blocks": len(self.blocks),
            "sizes": self.sizes,
            "blocks": [b.tolist() for b in self.blocks],
        }

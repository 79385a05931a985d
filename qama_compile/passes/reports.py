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
    "DecomposePlan",
    "DynamicRange",
    "EmbeddingReport",
    "Fit",
    "PassReport",
    "QuantizationReport",
    "ReductionReport",
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
class Fit(PassReport):
    """Whether a problem fits a target, and why.

    Attributes:
        fits: ``True``, ``False``, or ``None`` when only an embedding attempt can tell.
        reason: one line naming the counts and the limit.
        qubits_needed: spins/qubits before embedding (variables, plus an ancilla where the
            target has no native fields).
        qubit_limit: the target's qubits or spins.
        couplers_needed, coupler_limit: logical couplers against the physical couplers.
        clique_capacity: the largest clique the target embeds (``None`` if unknown).
    """

    fits: bool | None
    reason: str
    qubits_needed: int = 0
    qubit_limit: int = 0
    couplers_needed: int | None = None
    coupler_limit: int | None = None
    clique_capacity: int | None = None

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


@dataclass(frozen=True)
class QuantizationReport(PassReport):
    """Scaling into the target's ranges and rounding to its DAC grid, with what it cost.

    Errors are in the units of the problem the pass received. ``ground_state_preserved`` has
    one entry per problem when ``ground_state_checked`` (small problems), else it is empty.
    ``zeroed_couplers`` counts, per problem, couplers that were non-zero before and are zero
    after rounding.
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

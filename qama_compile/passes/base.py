"""The pass interface: :class:`Pass`, :class:`PassContext`, :class:`PassRecord`, :class:`PassManager`.

A pass is a small object with one :meth:`Pass.run` method: it receives a
:class:`~qama_compile.ir.QuadraticIR` and the shared :class:`PassContext`, and returns a
*new* IR (IR arrays are read-only, so passes cannot mutate their input). What a pass learns
it adds as a typed, frozen report (:mod:`qama_compile.passes.reports`) with
``context.add(report)``; later passes read it with ``context.get(ReportType)``. A pass that
changes the variables or their vartype appends a
:class:`~qama_compile.core.decode.DecodeStep` to ``context.decoders`` (the way back, as
data).

The :class:`PassManager` enforces the contract: every pass returns a ``QuadraticIR`` of
the same batch size, leaves its input untouched, and appends a decoder whenever it changes
the variables or the vartype. It times each pass and keeps one :class:`PassRecord` each.

>>> import numpy as np
>>> from qama_compile.core.decode import VartypeChange, decode_samples
>>> from qama_compile.ir import QuadraticIR
>>> class ToSpin(Pass):
...     name = "to-spin"
...     def run(self, ir, context):
...         if ir.vartype == "BINARY":
...             context.decoders.append(VartypeChange(source="BINARY", target="SPIN"))
...         return ir.to_spin()
>>> ir = QuadraticIR.from_coo(linear=[1.0, -1.0], rows=[0], cols=[1], data=[2.0])
>>> out, ctx = PassManager([ToSpin()]).run(ir)
>>> out.vartype, [r.name for r in ctx.records]
('SPIN', ['to-spin'])
>>> decode_samples(ctx.decoders, np.array([[-1, 1]])).tolist()
[[[0, 1]]]
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ..core.decode import DecodeStep
from ..core.ir import QuadraticIR
from ..errors import CompilationError, InvalidInputError
from .options import CompileOptions, FieldAncillas
from .reports import Fit, PassReport, PrecisionReport

if TYPE_CHECKING:
    import networkx as nx
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Pass", "PassContext", "PassManager", "PassRecord", "TargetLike"]

R = TypeVar("R", bound=PassReport)


class TargetLike(Protocol):
    """What passes need from a hardware target (``qama_compile.targets.Target`` provides it).

    Passes depend on this protocol, not on the targets package, so the layers stay ordered:
    targets own the graph, capacity, ancilla and precision rules (``field_ancillas``,
    ``precision``, and ``fit`` on size and precision); passes only ask.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def num_qubits(self) -> int: ...

    @property
    def h_range(self) -> tuple[float, float]: ...

    @property
    def j_range(self) -> tuple[float, float]: ...

    @property
    def extended_j_range(self) -> tuple[float, float] | None: ...

    @property
    def per_qubit_coupling_range(self) -> tuple[float, float] | None: ...

    @property
    def coupling_bits(self) -> int | None: ...

    @property
    def native_fields(self) -> bool: ...

    @property
    def graph_id(self) -> str: ...

    def graph(self) -> nx.Graph | None: ...

    def edge_array(self) -> NDArray[np.int64]: ...

    def largest_clique(self) -> int | None: ...

    def clique_embedding(self, size: int) -> tuple[tuple[int, ...], ...]: ...

    def j_bounds(self, *, extended: bool = False) -> tuple[float, float]: ...

    def needs_ancilla(self, ir: QuadraticIR) -> bool: ...

    def field_ancillas(self, ir: QuadraticIR, *, requested: FieldAncillas = "auto") -> int: ...

    def precision(
        self,
        ir: QuadraticIR,
        *,
        bits: int | None = None,
        max_zeroed_fraction: float = ...,
        field_ancillas: FieldAncillas = "auto",
    ) -> PrecisionReport: ...

    def fit(
        self,
        ir: QuadraticIR,
        *,
        bits: int | None = None,
        max_zeroed_fraction: float = ...,
        field_ancillas: FieldAncillas = "auto",
    ) -> Fit: ...


# --------------------------------------------------------------------------- records and context
@dataclass(frozen=True)
class PassRecord:
    """What one pass did: its time, the counts of the IR it returned, and its report.

    ``couplers`` is structural (pairs that may be non-zero); ``qubits`` is set once the IR
    is physical.
    """

    name: str
    wall_time_s: float
    variables: int
    couplers: int
    qubits: int | None = None
    report: PassReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (the report as a dict)."""
        return {
            "name": self.name,
            "wall_time_s": self.wall_time_s,
            "variables": self.variables,
            "couplers": self.couplers,
            "qubits": self.qubits,
            "report": None if self.report is None else {"type": type(self.report).__name__, **self.report.as_dict()},
        }


@dataclass
class PassContext:
    """State shared along one pipeline run.

    * ``target``: the target (see :class:`TargetLike`), or ``None``;
    * ``options``: the :class:`~qama_compile.passes.options.CompileOptions`;
    * ``reports``: typed reports by type (``add`` / ``get``);
    * ``decoders``: the way back, in pipeline order;
    * ``records``: one :class:`PassRecord` per pass run.
    """

    target: TargetLike | None = None
    options: CompileOptions = field(default_factory=CompileOptions)
    reports: dict[type[PassReport], PassReport] = field(default_factory=dict)
    decoders: list[DecodeStep] = field(default_factory=list)
    records: list[PassRecord] = field(default_factory=list)
    _current: PassReport | None = field(default=None, repr=False)

    def add(self, report: PassReport) -> None:
        """Keep ``report`` (replacing one of the same type) and attach it to the running pass's record."""
        if not isinstance(report, PassReport):
            raise InvalidInputError(
                f"context.add takes a PassReport, got {type(report).__name__}",
                fix="return facts as a frozen dataclass deriving from PassReport",
            )
        self.reports[type(report)] = report
        self._current = report

    def get(self, kind: type[R]) -> R | None:
        """The report of type ``kind``, or ``None`` if no pass produced one."""
        found = self.reports.get(kind)
        return found if isinstance(found, kind) else None

    def _take_current(self) -> PassReport | None:
        current, self._current = self._current, None
        return current


# --------------------------------------------------------------------------- passes
class Pass(ABC):
    """A compiler pass: ``run(ir, context) -> new IR``. Implementations never mutate ``ir``.

    Set the class attribute ``name``; make options dataclass fields (frozen, keyword-only;
    ``None`` means "take it from ``context.options``").
    """

    name: ClassVar[str] = "pass"

    @abstractmethod
    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        """Transform ``ir``; append decoders and add a report to ``context``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _snapshot(ir: QuadraticIR) -> tuple[Any, ...]:
    return (
        copy.deepcopy(dict(ir.meta)),
        tuple(id(getattr(ir, a)) for a in ("linear", "offset", "blocks", "rows", "cols", "data", "labels")),
    )


class PassManager:
    """An immutable pipeline of passes. ``pm1 + pm2`` (or ``pm + pass``) makes a new pipeline.

    >>> pm = PassManager([])
    >>> len(pm + PassManager([])), len(pm)
    (0, 0)
    """

    def __init__(self, passes: Sequence[Pass] = ()) -> None:
        items = tuple(passes)
        for p in items:
            if not isinstance(p, Pass):
                raise InvalidInputError(
                    f"pipeline items must be Pass instances, got {type(p).__name__}",
                    fix="instantiate the pass, e.g. EmbedPass() rather than EmbedPass",
                )
        self._passes: tuple[Pass, ...] = items

    @property
    def passes(self) -> tuple[Pass, ...]:
        return self._passes

    def __len__(self) -> int:
        return len(self._passes)

    def __iter__(self) -> Iterator[Pass]:
        return iter(self._passes)

    def __add__(self, other: PassManager | Pass | Sequence[Pass]) -> PassManager:
        if isinstance(other, PassManager):
            extra = other.passes
        elif isinstance(other, Pass):
            extra = (other,)
        else:
            extra = tuple(other)
        return PassManager(self._passes + extra)

    def __radd__(self, other: Pass | Sequence[Pass]) -> PassManager:
        head = (other,) if isinstance(other, Pass) else tuple(other)
        return PassManager(head + self._passes)

    def __repr__(self) -> str:
        return f"PassManager([{', '.join(p.name for p in self._passes)}])"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self._passes]

    def run(
        self,
        ir: QuadraticIR,
        *,
        target: TargetLike | None = None,
        options: CompileOptions | None = None,
        context: PassContext | None = None,
        on_record: Callable[[PassRecord], None] | None = None,
    ) -> tuple[QuadraticIR, PassContext]:
        """Run every pass in order; returns the final IR and the context (records, decoders, reports).

        Pass ``context`` to continue a run (``target`` and ``options`` must then be omitted).
        """
        if not isinstance(ir, QuadraticIR):
            raise InvalidInputError(
                f"PassManager.run needs a QuadraticIR, got {type(ir).__name__}",
                fix="pass problem.ir for an AttentionProblem",
            )
        if context is not None and (target is not None or options is not None):
            raise InvalidInputError(
                "pass either a context to continue or target/options to start, not both",
                fix="drop target= and options= when continuing a context",
            )
        ctx = context if context is not None else PassContext(target=target, options=options or CompileOptions())
        current = ir
        for p in self._passes:
            before = _snapshot(current)
            decoders_before = len(ctx.decoders)
            start = time.perf_counter()
            result = p.run(current, ctx)
            elapsed = time.perf_counter() - start
            self._check(p, current, result, before, decoders_before, ctx)
            report = ctx._take_current()
            qubits = result.num_variables if result.meta.get("physical") else None
            ctx.records.append(
                PassRecord(
                    name=p.name,
                    wall_time_s=elapsed,
                    variables=result.num_variables,
                    couplers=result.num_couplers,
                    qubits=qubits,
                    report=report,
                )
            )
            if on_record is not None:
                on_record(ctx.records[-1])
            current = result
        return current, ctx

    @staticmethod
    def _check(
        p: Pass, before_ir: QuadraticIR, result: Any, before: tuple[Any, ...], decoders_before: int, ctx: PassContext
    ) -> None:
        if not isinstance(result, QuadraticIR):
            raise CompilationError(
                f"pass {p.name!r} returned {type(result).__name__}, not a QuadraticIR",
                fix="return a new QuadraticIR from Pass.run",
                pass_name=p.name,
            )
        if _snapshot(before_ir) != before:
            raise CompilationError(
                f"pass {p.name!r} mutated its input IR", fix="build a new IR instead", pass_name=p.name
            )
        if result.batch_size != before_ir.batch_size:
            raise CompilationError(
                f"pass {p.name!r} changed the batch size from {before_ir.batch_size} to {result.batch_size}",
                fix="passes map every problem of the batch; keep the batch axis",
                pass_name=p.name,
            )
        changed = result.num_variables != before_ir.num_variables or result.vartype != before_ir.vartype
        if changed and len(ctx.decoders) == decoders_before:
            raise CompilationError(
                f"pass {p.name!r} changed the variables ({before_ir.num_variables} {before_ir.vartype} -> "
                f"{result.num_variables} {result.vartype}) without appending a decoder",
                fix="append a DecodeStep to context.decoders describing the way back",
                pass_name=p.name,
            )

"""The pass interface: :class:`Pass`, :class:`PassContext`, :class:`PassRecord`, :class:`PassManager`,
and :class:`DecodeStep` (data describing the way back from a lossy pass).

A pass is a small object with one :meth:`Pass.run` method: it receives a
:class:`~qama_compile.ir.QuadraticIR` and the shared :class:`PassContext`, and returns a
*new* IR (IR arrays are read-only, so passes cannot mutate their input). A pass that loses
information or changes variables appends a :class:`DecodeStep` to ``context.decoders``;
decoding applies those steps in reverse order.

Contract of a :class:`DecodeStep`: ``decode(samples)`` takes ``[B, S, V_out]`` samples in the
vartype of the IR the pass *returned* and gives ``[B, S, V_in]`` samples in the vartype of
the IR the pass *received*. A pass that changes vartype appends :class:`VartypeChange`.

A pass reports what it lost with ``context.report(lost={...}, details={...})``; the
manager turns that into the pass's :class:`PassRecord`.

>>> import numpy as np
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.decode import (
    DecodeStep,
    FixVariables,
    VartypeChange,
    as_batched_samples,
    decode_samples,
)
from ..core.ir import QuadraticIR
from ..errors import CompilationError, InvalidInputError

if TYPE_CHECKING:
    from ..targets.target import Target

__all__ = [
    "DecodeStep",
    "FixVariables",
    "Pass",
    "PassContext",
    "PassManager",
    "PassRecord",
    "VartypeChange",
    "as_batched_samples",
    "decode_samples",
]


# --------------------------------------------------------------------------- records and context
@dataclass(frozen=True)
class PassRecord:
    """What one pass did: time, counts after the pass, and what it lost.

    ``lost`` holds losses (e.g. ``max_coefficient_error``, ``pruned_couplers``,
    ``energy_error_bound``); ``details`` holds other facts (e.g. the analysis).
    """

    name: str
    wall_time_s: float
    variables: int
    couplers: int
    qubits: int | None = None
    lost: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "wall_time_s": self.wall_time_s,
            "variables": self.variables,
            "couplers": self.couplers,
            "qubits": self.qubits,
            "lost": dict(self.lost),
            "details": dict(self.details),
        }


@dataclass
class PassContext:
    """State shared along one pipeline run.

    * ``target``: the :class:`~qama_compile.targets.Target` (or ``None``);
    * ``options``: read-only compile options (``seed``, ``chain_strength``, ...);
    * ``properties``: analysis facts shared between passes (e.g. ``"fits"``, ``"embedding"``);
    * ``decoders``: the way back, in pipeline order;
    * ``records``: one :class:`PassRecord` per pass run.
    """

    target: Target | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    decoders: list[DecodeStep] = field(default_factory=list)
    records: list[PassRecord] = field(default_factory=list)
    _pending: dict[str, Any] = field(default_factory=dict, repr=False)

    def option(self, key: str, default: Any = None) -> Any:
        """``options[key]`` if given and not ``None``, else ``default``."""
        value = self.options.get(key)
        return default if value is None else value

    def report(
        self,
        *,
        lost: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
        qubits: int | None = None,
    ) -> None:
        """Add facts to the record of the pass now running (called by passes)."""
        if lost:
            self._pending.setdefault("lost", {}).update(lost)
        if details:
            self._pending.setdefault("details", {}).update(details)
        if qubits is not None:
            self._pending["qubits"] = int(qubits)

    def _take_pending(self) -> dict[str, Any]:
        pending, self._pending = self._pending, {}
        return pending


# --------------------------------------------------------------------------- passes
class Pass(ABC):
    """A compiler pass: ``run(ir, context) -> new IR``. Implementations never mutate ``ir``.

    Set the class attribute ``name``; make options dataclass fields (frozen, keyword-only).
    """

    name: ClassVar[str] = "pass"

    @abstractmethod
    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        """Transform ``ir``; append decoders, properties and a report to ``context``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _snapshot(ir: QuadraticIR) -> tuple[Any, ...]:
    return (
        copy.deepcopy(ir.meta),
        tuple(id(getattr(ir, a)) for a in ("linear", "offset", "blocks", "rows", "cols", "data", "labels")),
    )


def _counts(ir: QuadraticIR) -> tuple[int, int]:
    return ir.num_variables, ir.num_couplers


class PassManager:
    """An immutable pipeline of passes. ``pm1 + pm2`` (or ``pm + pass``) makes a new pipeline.

    ``run`` checks each pass returns a :class:`QuadraticIR` and leaves its input untouched,
    and appends a :class:`PassRecord` per pass to the context.

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

    def __iter__(self) -> Any:
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
        target: Target | None = None,
        context: PassContext | None = None,
        on_record: Callable[[PassRecord], None] | None = None,
        **options: Any,
    ) -> tuple[QuadraticIR, PassContext]:
        """Run every pass in order; returns the final IR and the context (records, decoders)."""
        if not isinstance(ir, QuadraticIR):
            raise InvalidInputError(
                f"PassManager.run needs a QuadraticIR, got {type(ir).__name__}",
                fix="pass problem.ir for an AttentionProblem",
            )
        ctx = context if context is not None else PassContext(target=target, options=MappingProxyType(dict(options)))
        current = ir
        for p in self._passes:
            before = _snapshot(current)
            start = time.perf_counter()
            result = p.run(current, ctx)
            elapsed = time.perf_counter() - start
            if not isinstance(result, QuadraticIR):
                raise CompilationError(
                    f"pass {p.name!r} returned {type(result).__name__}, not a QuadraticIR",
                    fix="return a new QuadraticIR from Pass.run",
                    pass_name=p.name,
                )
            if _snapshot(current) != before:
                raise CompilationError(
                    f"pass {p.name!r} mutated its input IR",
                    fix="build a new IR instead",
                    pass_name=p.name,
                )
            pending = ctx._take_pending()
            variables, couplers = _counts(result)
            qubits = pending.get("qubits")
            if qubits is None and result.meta.get("physical"):
                qubits = result.num_variables
            ctx.records.append(
                PassRecord(
                    name=p.name,
                    wall_time_s=elapsed,
                    variables=variables,
                    couplers=couplers,
                    qubits=qubits,
                    lost=dict(pending.get("lost", {})),
                    details=dict(pending.get("details", {})),
                )
            )
            if on_record is not None:
                on_record(ctx.records[-1])
            current = result
        return current, ctx

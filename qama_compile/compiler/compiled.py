"""``CompiledProblem``: a physical problem on a target, with the way back as data.

>>> import numpy as np
>>> from qama_compile import compile, lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 2, 3, 4)), bits=2)
>>> cp = compile(problem, target="cim-550", seed=0)
>>> x, info = cp.decode(np.ones((4, cp.num_qubits), dtype=np.int8), problems=[1])
>>> x.shape, info["logical_energies"].shape
((1, 4, 12), (1, 4))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..base.jsonutil import to_jsonable
from ..core.decode import DecodeStep, decode_physical
from ..core.ir import QuadraticIR, Vartype
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ..passes.base import PassRecord
from ..passes.options import CompileOptions
from ..passes.reports import PassReport
from ..targets.target import Target

if TYPE_CHECKING:
    import dimod

__all__ = ["CompiledProblem"]

R = TypeVar("R", bound=PassReport)


@dataclass(frozen=True, eq=False)
class CompiledProblem:
    """The result of :func:`qama_compile.compile`.

    Attributes:
        logical: the input IR (BINARY for QAMA problems).
        physical: the problem on the target's qubits, SPIN, batched like the input; its
            labels (field ``qubit``) are hardware qubit ids.
        decoder: the way back, as data (applied in reverse by :meth:`decode`).
        log: one :class:`~qama_compile.passes.base.PassRecord` per pass.
        target: the :class:`~qama_compile.targets.Target`.
        options: the :class:`~qama_compile.passes.options.CompileOptions` used.
        reports: the passes' typed reports, by type (read them with :meth:`report`).
        problem: the :class:`~qama_compile.core.problem.AttentionProblem`, if one was compiled.
    """

    logical: QuadraticIR
    physical: QuadraticIR
    decoder: tuple[DecodeStep, ...]
    log: tuple[PassRecord, ...]
    target: Target
    options: CompileOptions = field(default_factory=CompileOptions)
    reports: Mapping[type[PassReport], PassReport] = field(default_factory=dict)
    problem: AttentionProblem | None = None

    @property
    def num_qubits(self) -> int:
        return self.physical.num_variables

    @property
    def qubits(self) -> NDArray[np.int64]:
        """Hardware qubit id of each physical variable."""
        return self.physical.labels[:, 0]

    def report(self, kind: type[R]) -> R | None:
        """The report of type ``kind`` (e.g. ``EmbeddingReport``), or ``None``."""
        found = self.reports.get(kind)
        return found if isinstance(found, kind) else None

    def decode(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN", problems: Sequence[int] | None = None
    ) -> tuple[NDArray[np.int8], dict[str, Any]]:
        """Physical samples -> logical samples ``[B', S, V]`` and info.

        Args:
            physical_samples: ``[B', S, Q]`` or ``[S, Q]`` (broadcast to every selected
                problem), columns ordered like :attr:`qubits`.
            vartype: ``"SPIN"`` (-1/+1) or ``"BINARY"`` (0/1) samples.
            problems: decode only these problems of the batch (``B' = len(problems)``);
                ``None`` decodes all of them. Only the selected problems are touched.

        ``info`` has ``logical_energies [B', S]`` (recomputed from the logical IR) and what
        the decoders report (e.g. ``chain_break_fraction [B']``).
        """
        return decode_physical(
            self.decoder,
            self.logical,
            self.physical.num_variables,
            physical_samples,
            vartype=vartype,
            problems=problems,
        )

    def weights(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN", problems: Sequence[int] | None = None
    ) -> NDArray[np.float64]:
        """Token weights ``[B', S, H, N]`` of physical samples (needs the attention problem)."""
        if self.problem is None:
            raise InvalidInputError(
                "weights need an AttentionProblem; this CompiledProblem was built from an IR",
                fix="compile the AttentionProblem from lower_attention, or decode() and read the samples",
            )
        logical, _ = self.decode(physical_samples, vartype=vartype, problems=problems)
        source = self.problem if problems is None else self.problem.select(np.asarray(problems))
        return source.weights(logical)

    def to_bqm(self, index: int = 0) -> dimod.BinaryQuadraticModel:
        """The physical problem ``index`` as a SPIN BQM labelled by hardware qubit."""
        from ..core.convert import ir_to_bqm

        return ir_to_bqm(self.physical, index, vartype="SPIN")

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts, the reports and the log (``json.dumps`` takes it as is).

        Coupler counts are of non-zero couplers (per problem, the largest over the batch)
        next to the structural ones.
        """
        phys_nz = self.physical.nonzero_couplers()
        log_nz = self.logical.nonzero_couplers()
        out = {
            "target": self.target.name,
            "graph_id": self.target.graph_id,
            "batch_size": self.physical.batch_size,
            "logical_variables": self.logical.num_variables,
            "logical_couplers": int(log_nz.max(initial=0)),
            "logical_couplers_structural": self.logical.num_couplers,
            "physical_qubits": self.physical.num_variables,
            "physical_couplers": int(phys_nz.max(initial=0)),
            "physical_couplers_structural": self.physical.num_couplers,
            "options": self.options.__dict__,
            "reports": {type(r).__name__: r.as_dict() for r in self.reports.values()},
            "log": [r.as_dict() for r in self.log],
        }
        result: dict[str, Any] = to_jsonable(out)
        return result

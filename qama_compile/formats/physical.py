"""Write a physical problem in its target's format (every file through ``atomic_write``).

Formats are the physical entries of :data:`qama_compile.formats.FORMATS` (``format=None``
picks by the path suffix, else by the target kind):

* ``"bqm-json"`` (D-Wave, ``.json``): one dimod BQM serialization per problem of the batch
  (``dimod.BinaryQuadraticModel.from_serializable`` reads each), SPIN, labelled by hardware qubit;
* ``"ising-npz"`` (CIM, ``.npz``) and ``"ising-txt"`` (``.txt``): the Ising problem as COO plus
  fields in dimod's convention ``E = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j``; when
  the IR was quantized the values are the integer DAC codes (``J = J_int * j_step``) -
  cim-optimizer's convention ``E = -sum J s s - sum h s`` is the negation, stated in the file;
* ``"qasm3"`` (gate, ``.qasm``): the QAOA circuit (``qiskit.circuit.library.qaoa_ansatz``,
  depth ``reps``) as OpenQASM 3 with ``input`` angles; ``"lp"`` (``.lp``, one problem): the
  QUBO over binary ``x = (s + 1) / 2`` (``dimod.lp``); ``"pauli-json"``: the ``SparsePauliOp``
  terms, offset and qubit order.

:func:`export_compiled` adds the compiled record (target, graph fingerprint, qubits, embedding,
chain strength, quantization steps, decode steps, the logical problem, attention facts;
:mod:`qama_compile.formats.physical_file`), so :func:`qama_compile.formats.load` gives back a
:class:`~qama_compile.formats.physical_file.PhysicalFile` that decodes samples without us.

>>> import numpy as np, tempfile, pathlib, json
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.json"
>>> _ = export_ir(ir, path)
>>> json.loads(path.read_text())["problems"][0]["num_variables"]
2
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..compiler.compiled import CompiledProblem
from ..core.ir import QuadraticIR
from ..errors import UnknownNameError
from ..passes.base import Pass, PassContext, TargetLike
from ..passes.reports import QuantizationReport
from .physical_file import compiled_record
from .registry import FORMATS as _REGISTRY

#: The physical formats (names of :data:`qama_compile.formats.FORMATS` entries that write compiled problems).
FORMATS = tuple(name for name, spec in _REGISTRY.items() if spec.physical)
_FORMAT_ALIASES = {
    "json": "bqm-json",
    "bqm": "bqm-json",
    "npz": "ising-npz",
    "txt": "ising-txt",
    "coo": "ising-txt",
    "qasm": "qasm3",
    "pauli": "pauli-json",
}
CONVENTION = "E = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j (dimod); cim-optimizer minimises the negation"


def _by_suffix(suffix: str) -> str | None:
    return next((n for n in FORMATS if suffix in _REGISTRY[n].suffixes), None)


def _by_kind(kind: str) -> str | None:
    return next((n for n in FORMATS if kind in _REGISTRY[n].kinds), None)


def pick_format(path: str | Path, target: TargetLike | None, fmt: str | None = None) -> str:
    """The export format: explicit, else by suffix, else by target kind.

    >>> pick_format("x.txt", None), pick_format("x.bin", None, "npz")
    ('ising-txt', 'ising-npz')
    """
    gate = target is not None and target.kind in ("gate", "simulator")
    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = _by_suffix(suffix) or (_by_kind(target.kind) if target else None) or "bqm-json"
        if fmt == "bqm-json" and gate and suffix == ".json":
            fmt = "pauli-json"
    if fmt in _FORMAT_ALIASES:
        fmt = _FORMAT_ALIASES[fmt]
        if fmt == "bqm-json" and gate:
            fmt = "pauli-json"
    if fmt not in FORMATS:
        raise UnknownNameError(
            f"unknown export format {fmt!r}; known formats: {', '.join(FORMATS)}",
            fix="pick one of the known formats",
            name=fmt,
            known=list(FORMATS),
        )
    return fmt


def _head(ir: QuadraticIR, target: TargetLike | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "target": None if target is None else target.name,
        "batch_size": ir.batch_size,
        "num_variables": ir.num_variables,
        "vartype": "SPIN",
        "convention": CONVENTION,
        **(extra or {}),
    }


def _physical_ir(ir: QuadraticIR) -> QuadraticIR:
    """``ir`` as SPIN labelled by one integer field (``qubit``: hardware ids, else 0..Q-1)."""
    spin = ir.to_spin()
    if spin.labels.shape[1] == 1 and spin.label_fields == ("qubit",):
        return spin
    q = spin.num_variables
    labels = spin.labels if spin.labels.shape[1] == 1 else np.arange(q, dtype=np.int64).reshape(q, 1)
    return QuadraticIR(
        linear=spin.linear,
        blocks=spin.blocks,
        rows=spin.rows,
        cols=spin.cols,
        data=spin.data,
        offset=spin.offset,
        vartype="SPIN",
        labels=labels,
        label_fields=("qubit",),
        meta=spin.meta,
    )


def export_ir(
    ir: QuadraticIR,
    path: str | Path,
    *,
    target: TargetLike | None = None,
    format: str | None = None,
    reps: int = 1,
    extra: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write ``ir`` (all problems of the batch, as SPIN) to ``path``; returns the path.

    ``record`` is the compiled record (:func:`~qama_compile.formats.physical_file.compiled_record`)
    that makes the file decodable on its own; ``extra`` adds plain facts to the file's header.
    """
    fmt = pick_format(path, target, format)
    out = Path(path)
    spin = _physical_ir(ir)
    write = _REGISTRY[fmt].write_physical
    assert write is not None
    head = _head(spin, target, extra)
    if fmt == "qasm3":
        write(spin, out, head=head, record=record, reps=reps)
    else:
        write(spin, out, head=head, record=record)
    return out


def export_compiled(compiled: CompiledProblem, path: str | Path, *, format: str | None = None, reps: int = 1) -> Path:
    """Write a compiled problem's physical IR in its target's format, with everything needed to decode it.

    The file carries the compiled record (:mod:`qama_compile.formats.physical_file`):
    :func:`qama_compile.formats.load` gives back a
    :class:`~qama_compile.formats.physical_file.PhysicalFile`.
    """
    extra = {"graph_id": compiled.target.graph_id}
    return export_ir(
        compiled.physical,
        path,
        target=compiled.target,
        format=format,
        reps=reps,
        extra=extra,
        record=compiled_record(compiled),
    )


@dataclass(frozen=True)
class ExportPass(Pass):
    """Write the IR it receives to ``path`` (format by suffix / target); returns the IR unchanged.

    Mid-pipeline there is no compiled record yet: the file loads back as the physical IR.
    """

    name: ClassVar[str] = "export"
    path: str = "problem.json"
    format: str | None = None
    reps: int = 1

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        quant = context.get(QuantizationReport)
        extra = None
        if quant is not None:
            extra = {"quantization": {"bits": quant.bits, "h_step": quant.h_step, "j_step": quant.j_step}}
        export_ir(ir, self.path, target=context.target, format=self.format, reps=self.reps, extra=extra)
        return ir

"""Write a physical problem in its target's format (every file through ``atomic_write``).

Formats (``format=None`` picks by the path suffix, else by the target kind):

* ``"bqm-json"`` (D-Wave, ``.json``): ``{"format": "qama-compile/bqm", "problems": [dimod
  BQM serializable, ...]}``, SPIN, labelled by hardware qubit;
* ``"ising-npz"`` (CIM, ``.npz``) and ``"ising-txt"`` (``.txt``): the Ising problem as COO
  ``i j J_ij`` plus fields ``h_i`` in dimod's convention
  ``E = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j``; when the IR was quantized the
  values are the integer DAC codes (``J = J_int * j_step``) - cim-optimizer's convention
  ``E = -sum J s s - sum h s`` is the negation, stated in the file;
* ``"qasm3"`` (gate, ``.qasm``): the QAOA circuit (``qiskit.circuit.library.qaoa_ansatz``,
  depth ``reps``) as OpenQASM 3 with ``input`` angles; ``"lp"`` (``.lp``, one problem):
  the ``QuadraticProgram`` over binary ``x = (s + 1) / 2`` (via ``qama_compile.formats.lp``);
  ``"pauli-json"``: the ``SparsePauliOp`` terms and offset.

>>> import numpy as np, tempfile, pathlib, json
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.json"
>>> _ = export_ir(ir, path)
>>> json.loads(path.read_text())["problems"][0]["num_variables"]
2
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..base.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from ..compiler.compiled import CompiledProblem
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError, UnknownNameError
from ..passes.base import Pass, PassContext, TargetLike
from ..passes.reports import EmbeddingReport, QuantizationReport

FORMATS = ("bqm-json", "ising-npz", "ising-txt", "qasm3", "lp", "pauli-json")
_SUFFIX = {
    ".json": "bqm-json",
    ".npz": "ising-npz",
    ".txt": "ising-txt",
    ".qasm": "qasm3",
    ".qasm3": "qasm3",
    ".lp": "lp",
}
_KIND_DEFAULT = {"annealer": "bqm-json", "cim": "ising-npz", "gate": "qasm3", "simulator": "qasm3"}
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


def pick_format(path: str | Path, target: TargetLike | None, fmt: str | None = None) -> str:
    """The export format: explicit, else by suffix, else by target kind."""
    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = _SUFFIX.get(suffix) or (_KIND_DEFAULT.get(target.kind) if target else None) or "bqm-json"
        if fmt == "bqm-json" and target is not None and target.kind in ("gate", "simulator") and suffix == ".json":
            fmt = "pauli-json"
    if fmt in _FORMAT_ALIASES:
        fmt = _FORMAT_ALIASES[fmt]
        if fmt == "bqm-json" and target is not None and target.kind in ("gate", "simulator"):
            fmt = "pauli-json"
    if fmt not in FORMATS:
        raise UnknownNameError(
            f"unknown export format {fmt!r}; known formats: {', '.join(FORMATS)}",
            fix="pick one of the known formats",
            name=fmt,
            known=list(FORMATS),
        )
    return fmt


def _header(ir: QuadraticIR, target: TargetLike | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "format_version": 1,
        "target": None if target is None else target.name,
        "batch_size": ir.batch_size,
        "num_variables": ir.num_variables,
        "vartype": ir.vartype,
        "convention": CONVENTION,
        **(extra or {}),
    }


def _coo_all(ir: QuadraticIR) -> tuple[Any, Any, Any]:
    flat = ir.flatten()
    keep = np.any(flat.data != 0, axis=0)
    return flat.rows[keep], flat.cols[keep], flat.data[:, keep]


def export_ir(
    ir: QuadraticIR,
    path: str | Path,
    *,
    target: TargetLike | None = None,
    format: str | None = None,
    reps: int = 1,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``ir`` (all problems of the batch) to ``path``; returns the path."""
    fmt = pick_format(path, target, format)
    out = Path(path)
    spin = ir.to_spin()
    qubits = spin.labels[:, 0].tolist() if spin.labels.shape[1] == 1 else list(range(spin.num_variables))
    head = _header(spin, target, extra)
    if fmt == "bqm-json":
        from ..core.convert import ir_to_bqm

        problems = [ir_to_bqm(spin, b, vartype="SPIN").to_serializable() for b in range(spin.batch_size)]
        atomic_write_text(out, json.dumps({"format": "qama-compile/bqm", **head, "problems": problems}))
    elif fmt in ("ising-npz", "ising-txt"):
        rows, cols, data = _coo_all(spin)
        h, j = spin.linear, data
        steps: dict[str, float] = spin.meta.get("quantization_steps") or {}
        integer = bool(steps)
        if integer:
            h = np.rint(h / steps["h_step"]).astype(np.int64)
            j = np.rint(j / steps["j_step"]).astype(np.int64)
        if fmt == "ising-npz":
            buf = io.BytesIO()
            np.savez_compressed(
                buf,
                h=h,
                rows=rows,
                cols=cols,
                J=j,
                offset=spin.offset,
                qubits=np.asarray(qubits),
                scale=np.asarray(spin.meta.get("scale", [1.0] * spin.batch_size)),
                h_step=np.float64(steps["h_step"] if integer else np.nan),
                j_step=np.float64(steps["j_step"] if integer else np.nan),
                header=np.asarray(json.dumps({"format": "qama-compile/ising", "integer": integer, **head})),
            )
            atomic_write_bytes(out, buf.getvalue())
        else:
            with atomic_write(out, "w") as fh:
                fh.write(f"# qama-compile ising; {json.dumps({'integer': integer, **head})}\n")
                for b in range(spin.batch_size):  # one block per problem of the batch
                    fh.write(
                        f"# problem {b} offset {spin.offset[b]!r} variables {spin.num_variables} couplers {rows.size}\n"
                    )
                    fh.write("# h: index value\n")
                    np.savetxt(
                        fh,
                        np.column_stack([np.arange(spin.num_variables), h[b]]),
                        fmt="%d %d" if integer else "%d %.17g",
                    )
                    fh.write("# J: i j value\n")
                    np.savetxt(fh, np.column_stack([rows, cols, j[b]]), fmt="%d %d %d" if integer else "%d %d %.17g")
    elif fmt in ("qasm3", "lp", "pauli-json"):
        from qiskit import qasm3
        from qiskit.circuit.library import qaoa_ansatz

        from ..core.convert import ir_to_pauli

        if fmt == "lp":
            from . import lp

            if spin.batch_size != 1:
                raise InvalidInputError(
                    f"LP holds one problem; this batch has {spin.batch_size}",
                    fix="export one problem: CompiledProblem.physical.select([i]), or use bqm-json / ising-npz",
                )
            lp.write(spin, out, 0)
            return out
        if fmt == "pauli-json":
            terms = []
            for b in range(spin.batch_size):
                op, offset = ir_to_pauli(spin, b)
                terms.append({"offset": offset, "terms": [[p, float(c.real)] for p, c in op.to_list()]})
            text = json.dumps({"format": "qama-compile/pauli", **head, "problems": terms})
        else:
            if reps < 1:
                raise InvalidInputError(f"QAOA reps must be >= 1, got {reps}")
            parts = []
            for b in range(spin.batch_size):
                op, _ = ir_to_pauli(spin, b)
                circuit = qaoa_ansatz(op, reps=reps)
                parts.append(f"// problem {b} of {spin.batch_size}; QAOA reps={reps}\n" + qasm3.dumps(circuit))
            text = "\n".join(parts)
        atomic_write_text(out, text)
    return out


def _compiled_extra(compiled: CompiledProblem) -> dict[str, Any]:
    """What a reader needs to decode the physical problem: quantization steps and the embedding."""
    extra: dict[str, Any] = {}
    quant = compiled.report(QuantizationReport)
    if quant is not None:
        extra["quantization"] = {
            "bits": quant.bits,
            "h_step": quant.h_step,
            "j_step": quant.j_step,
            "scale": list(quant.scale),
        }
    emb = compiled.report(EmbeddingReport)
    if emb is not None:
        extra["embedding"] = {
            "mapping": emb.mapping,
            "qubits": emb.qubits,
            "max_chain_length": emb.max_chain_length,
            "chain_strength": list(emb.chain_strength),
        }
    return extra


def export_compiled(compiled: CompiledProblem, path: str | Path, *, format: str | None = None, reps: int = 1) -> Path:
    """Write a compiled problem's physical IR in its target's format (see :func:`export_ir`)."""
    return export_ir(
        compiled.physical, path, target=compiled.target, format=format, reps=reps, extra=_compiled_extra(compiled)
    )


@dataclass(frozen=True)
class ExportPass(Pass):
    """Write the IR it receives to ``path`` (format by suffix / target); returns the IR unchanged."""

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

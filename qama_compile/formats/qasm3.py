"""``qasm3``: the QAOA circuit of each physical problem as OpenQASM 3, with the problem as data.

The circuits (``qiskit.circuit.library.qaoa_ansatz`` of the problem's Pauli operator, depth
``reps``, angles as ``input`` parameters; qubit ``k`` of the circuit is the ``k``-th entry of
``qubit_order``) follow a ``//`` comment header whose one JSON line carries the physical
problem (``physical``, the data form of :func:`~qama_compile.formats.physical_file.ir_data`)
and the compiled record, so :func:`~qama_compile.formats.load` reads the file back without
parsing QASM::

    // format: qama-compile/qasm3
    // version: 1
    // header: {"target": "ibm-heron", "qubit_order": [...], "reps": 1, "physical": {...}, "compiled": {...}}
    // problem 0 of 1; QAOA reps=1
    OPENQASM 3.0;
    ...

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.qasm"
>>> write(ir, path, head={"target": None})
>>> "OPENQASM 3.0" in path.read_text(), read(path).energies([[1, -1]]).tolist()
(True, [[1.25]])
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..base.atomic import atomic_write_text
from ..base.safeload import loads_json
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from ._base import (
    CORRUPT,
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    check_declared,
    check_size,
    check_version,
    fail,
    read_text,
)
from .physical_file import PhysicalFile, ir_data, ir_from_data, open_physical

NAME = "qasm3"
JSON_BYTES_PER_BYTE = 32
_MAX_HEADER_LINES = 16


def write(
    ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None, reps: int = 1
) -> None:
    """Write the QAOA circuits of the SPIN batch ``ir`` (depth ``reps``) to ``path`` atomically."""
    from qiskit import qasm3
    from qiskit.circuit.library import qaoa_ansatz

    from ..core.convert import ir_to_pauli

    if reps < 1:
        raise InvalidInputError(f"QAOA reps must be >= 1, got {reps}", fix="pass reps=1 or more")
    header = {
        **head,
        "qubit_order": ir.labels[:, 0].tolist(),
        "reps": reps,
        "physical": ir_data(ir),
        "compiled": record,
    }
    parts = [f"// format: {PREFIX}{NAME}\n// version: {VERSION}\n// header: {json.dumps(header, allow_nan=False)}"]
    for b in range(ir.batch_size):  # one circuit per problem of the batch
        op, _ = ir_to_pauli(ir, b)
        circuit = qaoa_ansatz(op, reps=reps)
        parts.append(f"// problem {b} of {ir.batch_size}; QAOA reps={reps}\n" + qasm3.dumps(circuit))
    atomic_write_text(path, "\n".join(parts))


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read the header of a file written by :func:`write` (the circuits are not parsed)."""
    size = check_size(path, max_bytes)
    check_declared(path, JSON_BYTES_PER_BYTE * size, file_size=size, fmt=NAME, field="(whole file)", what="JSON text")
    text = read_text(path, NAME, fix=CORRUPT)
    header: dict[str, str] = {}
    for line in text.split("\n", _MAX_HEADER_LINES)[:_MAX_HEADER_LINES]:  # the leading comment lines only
        if not line.startswith("//"):
            break
        key, sep, value = line[2:].strip().partition(":")
        if sep and key.strip() not in header:
            header[key.strip()] = value.strip()
    del text
    check_version(path, NAME, header.get("format"), header.get("version"))
    head = loads_json(header.get("header", ""), path=path, fmt=NAME, field="header", max_depth=64)
    if not isinstance(head, dict):
        fail(path, "must be a JSON object", fmt=NAME, field="header")
    ir = ir_from_data(path, head.get("physical"), fmt=NAME, field="header.physical")
    if ir.vartype != "SPIN" or ir.labels.shape[1] != 1:
        fail(path, "must be a SPIN problem labelled by qubit", fmt=NAME, field="header.physical")
    return open_physical(path, ir, head.get("compiled"), fmt=NAME)

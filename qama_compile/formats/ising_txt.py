"""``ising-txt``: a batch of physical Ising problems as ``problem i j value`` text lines.

Layout (``i == j``: the field ``h_i``; ``i < j``: the coupling ``J_ij``; ``i``, ``j`` index
the ``qubits`` line, which gives each column's hardware qubit id)::

    # format: qama-compile/ising-txt
    # version: 1
    # header: {"target": "cim-550", "batch_size": 2, "num_variables": 29, "entries": 281,
    #          "integer": true, "h_step": 0.01, "j_step": 0.01, "offset": [0.5, -1.25], ...,
    #          "compiled": {...}}                      (one line of JSON)
    # qubits: 0 1 2 ...
    # columns: problem i j value
    # problem 0
    0 0 0 12
    0 0 1 -3
    ...

Numbers are plain decimals (integers for DAC codes, shortest round-trip floats otherwise), never
numpy reprs; energies follow dimod's convention ``E = offset + sum h s + sum J s s``.

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], offset=[2.0], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.txt"
>>> write(ir, path, head={"target": None})
>>> read(path).energies([[1, -1]]).tolist()
[[3.25]]
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from typing import Any

import numpy as np

from ..base.atomic import atomic_write
from ..base.safeload import loads_json
from ..core.ir import QuadraticIR
from ._base import (
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    fail,
    read_header,
    text_file,
    text_of,
)
from .ising_npz import coo_all, integer_codes
from .physical_file import LEGACY_FIX, PhysicalFile, open_physical
from .validate import as_float, as_int, float_array

NAME = "ising-txt"
#: Bytes of parsing per entry line (float64 table of 4 columns plus loadtxt's transient rows).
BYTES_PER_ENTRY = 160
_MAX_HEADER_LINES = 16
_add = getattr(np, "strings", np.char).add


def write(ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None) -> None:
    """Write the SPIN batch ``ir`` (one block of lines per problem) to ``path`` atomically."""
    rows, cols, _ = coo_all(ir)
    steps: dict[str, float] = ir.meta.get("quantization_steps") or {}
    h, j, integer = integer_codes(ir, steps)
    q = ir.num_variables
    header = {
        **head,
        "batch_size": ir.batch_size,
        "num_variables": q,
        "entries": q + int(rows.size),
        "integer": integer,
        "h_step": steps.get("h_step") if integer else None,
        "j_step": steps.get("j_step") if integer else None,
        "offset": [float(x) for x in ir.offset],
        "compiled": record,
    }
    diag = np.arange(q)
    i = np.concatenate([diag, rows]).astype(str)
    j_col = np.concatenate([diag, cols]).astype(str)
    pairs = _add(_add(i, " "), _add(j_col, " "))
    with atomic_write(path, "w") as fh:
        fh.write(f"# format: {PREFIX}{NAME}\n# version: {VERSION}\n")
        fh.write(f"# header: {json.dumps(header, allow_nan=False)}\n")
        fh.write("# qubits: " + " ".join(ir.labels[:, 0].astype(str).tolist()) + "\n")
        fh.write("# columns: problem i j value (i == j: field h_i; i < j: coupling J_ij)\n")
        for b in range(ir.batch_size):  # one block of lines per problem of the batch
            fh.write(f"# problem {b}\n")
            values = np.concatenate([h[b], j[b]])
            lines = _add(_add(f"{b} ", pairs), text_of(values))
            if lines.size:
                fh.write("\n".join(lines.tolist()) + "\n")


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read a file written by :func:`write`; declared sizes are checked before the body is parsed."""
    size = check_size(path, max_bytes)
    with text_file(path, NAME) as fh:
        if fh.readline().startswith("# qama-compile ising"):
            fail(path, "is an ising-txt file of qama-compile 0.x (no qubit ids, no decode data)", fmt=NAME,
                 fix=LEGACY_FIX.format(suffix=".txt"))  # fmt: skip
        fh.seek(0)
        header, first = read_header(
            fh, path, NAME, required=(), max_lines=_MAX_HEADER_LINES, ends=lambda line: line.startswith("# problem")
        )
        head = loads_json(header.get("header", ""), path=path, fmt=NAME, field="header", max_depth=16)
        if not isinstance(head, dict):
            fail(path, "must be a JSON object", fmt=NAME, field="header")
        b = as_int(path, head.get("batch_size"), fmt=NAME, field="header.batch_size", lo=1)
        q = as_int(path, head.get("num_variables"), fmt=NAME, field="header.num_variables")
        entries = as_int(path, head.get("entries"), fmt=NAME, field="header.entries", lo=q)
        if 8 * b * entries > size or 2 * q > size:  # every line takes at least 8 bytes ("0 0 0 1\n")
            fail(path, f"declares {b} problems of {entries} entries, more than its {size} bytes hold", fmt=NAME,
                 field="header.entries")  # fmt: skip
        check_declared(path, BYTES_PER_ENTRY * b * entries + 64 * q, file_size=size, fmt=NAME, field="header",
                       what=f"{b} problems of {entries} entries")  # fmt: skip
        offset = float_array(path, head.get("offset"), fmt=NAME, field="header.offset", shape=(b,))
        qubit_text = header.get("qubits", "")
        try:
            qubits = np.array(qubit_text.split(), dtype=np.int64) if qubit_text else np.zeros(0, np.int64)
        except (ValueError, OverflowError):
            fail(path, "qubit ids must be integers", fmt=NAME, field="qubits")
        if qubits.shape != (q,) or (q and (qubits.min() < 0 or np.unique(qubits).size != q)):
            fail(path, f"must list {q} distinct non-negative qubit ids", fmt=NAME, field="qubits")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
                table = np.loadtxt(
                    itertools.chain([first], fh), dtype=np.float64, comments="#", ndmin=2, max_rows=b * entries + 1
                )
        except ValueError as exc:
            fail(path, f"body is not 'problem i j value' lines ({str(exc)[:120]})", fmt=NAME, field="body")
    if table.size == 0:
        table = table.reshape(0, 4)
    if table.shape != (b * entries, 4):
        fail(path, f"has a body of shape {table.shape}, expected {b * entries} lines of 4 numbers", fmt=NAME,
             field="body")  # fmt: skip
    if not np.all(np.isfinite(table)) or np.any(table[:, :3] != np.round(table[:, :3])):
        fail(path, "holds non-finite values or fractional indices", fmt=NAME, field="body")
    t = table.reshape(b, entries, 4)
    idx = t[:, :, :3].astype(np.int64)
    if np.any(idx[:, :, 0] != np.arange(b)[:, None]) or np.any(idx[:, :, 1:] != idx[:1, :, 1:]):
        fail(path, "every problem must list the same entries in order, numbered 0..B-1", fmt=NAME, field="body")
    i, j = idx[0, :, 1], idx[0, :, 2]
    if np.any(i[:q] != np.arange(q)) or np.any(j[:q] != np.arange(q)):
        fail(path, f"each problem must start with the {q} fields 'i i h_i'", fmt=NAME, field="body")
    rows, cols = i[q:], j[q:]
    if rows.size and (np.any(rows >= cols) or rows.min() < 0 or cols.max() >= q):
        fail(path, f"couplings need 0 <= i < j < {q}", fmt=NAME, field="body")
    h, data = t[:, :q, 3], t[:, q:, 3]
    if head.get("integer"):
        h = h * as_float(path, head.get("h_step"), fmt=NAME, field="header.h_step")
        data = data * as_float(path, head.get("j_step"), fmt=NAME, field="header.j_step")
    ir = build_ir(
        path,
        NAME,
        linear=h,
        rows=rows,
        cols=cols,
        data=data,
        offset=offset,
        vartype="SPIN",
        labels=qubits.reshape(q, 1),
        label_fields=("qubit",),
    )
    return open_physical(path, ir, head.get("compiled"), fmt=NAME)

"""``coo``: one problem as ``i j bias`` text lines under a ``#`` comment header.

The body is the plain triplet list that qbsolv-style and many CIM tools read: 0-based
variable indices, ``i == j`` for a linear term, ``i < j`` for a coupling; biases are written
in shortest round-trip form, so the energy survives exactly. The header::

    # format: qama-compile/coo
    # version: 1
    # variables: 12
    # entries: 40
    # offset: 0.0
    # vartype: BINARY
    # label_fields: head token bit
    # labels: 0,0,0 0,0,1 0,1,0 ...
    # batch_index: 0
    0 0 -0.5177889039076213
    0 1 -0.15380753761720815
    ...

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[0.1]], offset=[0.25])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.coo"
>>> write(ir, path, 0)
>>> print(path.read_text().splitlines()[-1])
0 1 0.1
>>> read(path).energies([[1, 1]]).tolist() == ir.energies([[1, 1]]).tolist()
True
"""

from __future__ import annotations

import itertools
import os
import warnings
from typing import IO

import numpy as np

from ..base.atomic import atomic_write
from ..core.ir import QuadraticIR
from ._base import (
    CHUNK,
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    count_couplings,
    fail,
    iter_couplings,
    label_fields,
    parse_labels,
    read_header,
    text_file,
    text_of,
    write_labels,
)
from .validate import as_float, as_int, as_text

NAME = "coo"
_REQUIRED = ("format", "version", "variables", "entries", "offset", "vartype", "label_fields", "labels")
#: Most ``#`` header lines read before the body must start (ours has 9).
MAX_HEADER_LINES = 256
#: Loader bytes per declared entry (the parsed table, its growth, the IR built from it) and per variable.
BYTES_PER_ENTRY = 160
BYTES_PER_VARIABLE = 96
_add = getattr(np, "strings", np.char).add  # numpy >= 2: the faster ufunc


def _write_body(fh: IO[str], i: np.ndarray, j: np.ndarray, bias: np.ndarray) -> None:
    if i.size:
        lines = _add(_add(_add(_add(text_of(i), " "), text_of(j)), " "), text_of(bias))
        fh.write("\n".join(lines.tolist()) + "\n")


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` (in its own vartype) to ``path`` atomically, in chunks."""
    lin = ir.linear[index]
    diag = np.nonzero(lin)[0]
    entries = diag.size + count_couplings(ir, index)
    header = [
        f"format: {PREFIX}{NAME}",
        f"version: {VERSION}",
        f"variables: {ir.num_variables}",
        f"entries: {entries}",
        f"offset: {float(ir.offset[index])!r}",
        f"vartype: {ir.vartype}",
        f"label_fields: {' '.join(ir.label_fields)}",
    ]
    with atomic_write(path, "w") as fh:
        fh.write("".join(f"# {line}\n" for line in header) + "# labels: ")
        write_labels(fh, ir.labels)
        fh.write(f"\n# batch_index: {index}\n")
        for start in range(0, diag.size, CHUNK):  # chunks of the linear terms
            part = diag[start : start + CHUNK]
            _write_body(fh, part, part, lin[part])
        for rows, cols, data in iter_couplings(ir, index):
            _write_body(fh, rows, cols, data)


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR:
    """Read a file written by :func:`write`; declared sizes are checked before the body is parsed."""
    size = check_size(path, max_bytes)
    with text_file(path, NAME) as fh:
        header, first = read_header(fh, path, NAME, required=_REQUIRED, max_lines=MAX_HEADER_LINES)
        v = as_int(path, header["variables"], fmt=NAME, field="variables")
        entries = as_int(path, header["entries"], fmt=NAME, field="entries")
        offset = as_float(path, header["offset"], fmt=NAME, field="offset")
        vartype = as_text(path, header["vartype"], fmt=NAME, field="vartype", choices=("BINARY", "SPIN"))
        fields = label_fields(path, NAME, header["label_fields"])
        # every entry line takes at least 6 bytes ("0 0 1\n"), every label at least 2
        if 6 * entries > size or 2 * v * len(fields) > size + 1:
            fail(
                path,
                f"declares {v} variables and {entries} entries, more than its {size} bytes can hold",
                fmt=NAME,
                field="entries" if 6 * entries > size else "variables",
            )
        check_declared(
            path,
            BYTES_PER_ENTRY * entries + BYTES_PER_VARIABLE * v * len(fields),
            file_size=size,
            fmt=NAME,
            field="entries",
            what=f"{v} variables and {entries} entries",
        )
        labels = parse_labels(path, NAME, header["labels"], v, len(fields))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
                table = np.loadtxt(
                    itertools.chain([first], fh), dtype=np.float64, comments="#", ndmin=2, max_rows=entries + 1
                )
        except ValueError as exc:
            fail(path, f"body is not 'i j bias' lines ({str(exc)[:120]})", fmt=NAME, field="body")
    if table.size == 0:
        table = table.reshape(0, 3)
    if table.shape[1] != 3:
        fail(path, f"has {table.shape[1]} columns, expected 3 (i j bias)", fmt=NAME, field="body")
    if table.shape[0] != entries:
        fail(
            path,
            f"has {table.shape[0]}{'+' if table.shape[0] > entries else ''} entries, the header says {entries}",
            fmt=NAME,
            field="entries",
        )
    i, j, bias = table[:, 0], table[:, 1], table[:, 2]
    if (
        np.any(i != np.round(i))
        or np.any(j != np.round(j))
        or (i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= v))
    ):
        fail(path, f"variable indices must be integers in 0..{v - 1}", fmt=NAME, field="body")
    if not np.all(np.isfinite(bias)):
        fail(path, "contains NaN or infinite biases", fmt=NAME, field="body")
    ii, jj = i.astype(np.int64), j.astype(np.int64)
    diag = ii == jj
    linear = np.zeros((1, v))
    np.add.at(linear[0], ii[diag], bias[diag])
    return build_ir(
        path,
        NAME,
        linear=linear,
        rows=ii[~diag],
        cols=jj[~diag],
        data=bias[~diag][None],
        offset=[offset],
        vartype=vartype,
        labels=labels,
        label_fields=fields,
    )

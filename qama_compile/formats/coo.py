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

import io
import os

import numpy as np

from ..base.atomic import atomic_write_text
from ..core.ir import QuadraticIR
from ._base import PREFIX, VERSION, build_ir, check_version, fail, format_labels, parse_labels, read_text

NAME = "coo"
_REQUIRED = ("format", "version", "variables", "entries", "offset", "vartype", "label_fields", "labels")


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` (in its own vartype) to ``path`` atomically."""
    lin = ir.linear[index]
    diag = np.nonzero(lin)[0]
    rows, cols, data = ir.coo(index)
    i = np.concatenate([diag, rows])
    j = np.concatenate([diag, cols])
    bias = np.concatenate([lin[diag], data])
    header = [
        f"format: {PREFIX}{NAME}",
        f"version: {VERSION}",
        f"variables: {ir.num_variables}",
        f"entries: {i.size}",
        f"offset: {float(ir.offset[index])!r}",
        f"vartype: {ir.vartype}",
        f"label_fields: {' '.join(ir.label_fields)}",
        f"labels: {format_labels(ir.labels)}",
        f"batch_index: {index}",
    ]
    # Vectorised formatting: numpy's float->str is the shortest round-trip repr.
    add = getattr(np, "strings", np.char).add  # numpy >= 2: the faster ufunc
    body = add(add(add(add(i.astype(str), " "), j.astype(str)), " "), bias.astype(str))
    text = "".join(f"# {line}\n" for line in header) + "\n".join(body.tolist()) + ("\n" if body.size else "")
    atomic_write_text(path, text)


def read(path: str | os.PathLike[str]) -> QuadraticIR:
    """Read a file written by :func:`write`; the entry count guards against truncation."""
    fix = "the file is corrupt or truncated; re-export it"
    text = read_text(path, NAME, fix=fix)
    lines = text.split("\n")
    header: dict[str, str] = {}
    n_header = 0
    for line in lines:  # header lines only
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        if sep:
            header[key.strip()] = value.strip()
        n_header += 1
    check_version(path, NAME, header.get("format"), header.get("version"))
    missing = [k for k in _REQUIRED if k not in header]
    if missing:
        fail(path, f"header lacks {missing}", fix=fix, fmt=NAME)
    try:
        v, entries, offset = int(header["variables"]), int(header["entries"]), float(header["offset"])
    except ValueError as exc:
        fail(path, f"malformed header value ({exc})", fix=fix, fmt=NAME)
    vartype = header["vartype"]
    if vartype not in ("BINARY", "SPIN"):
        fail(path, f"vartype {vartype!r} is neither BINARY nor SPIN", fix=fix, fmt=NAME)
    fields = tuple(header["label_fields"].split()) or ("index",)
    labels = parse_labels(path, NAME, header["labels"], v, len(fields))
    body = "\n".join(lines[n_header:])
    table = np.zeros((0, 3))
    if body.strip():
        try:
            table = np.loadtxt(io.StringIO(body), dtype=np.float64, comments="#", ndmin=2)
        except ValueError as exc:
            fail(path, f"body is not 'i j bias' lines ({exc})", fix=fix, fmt=NAME)
    if table.shape[1] != 3:
        fail(path, f"body has {table.shape[1]} columns, expected 3 (i j bias)", fix=fix, fmt=NAME)
    if table.shape[0] != entries:
        fail(path, f"has {table.shape[0]} entries, the header says {entries}", fix=fix, fmt=NAME)
    i, j, bias = table[:, 0], table[:, 1], table[:, 2]
    if (
        np.any(i != np.round(i))
        or np.any(j != np.round(j))
        or (i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= v))
    ):
        fail(path, f"variable indices must be integers in 0..{v - 1}", fix=fix, fmt=NAME)
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

"""``mtx``: one problem as a Matrix Market file of the upper-triangular QUBO matrix.

Written with :func:`scipy.io.mmwrite` (coordinate, real, general, 17 significant digits):
the linear terms are on the diagonal, couplings above it, so ``E(x) = x^T Q x + offset``
for binary ``x``. SPIN problems are converted to their exact QUBO first. The offset, labels
and version travel in ``%`` comment lines::

    %%MatrixMarket matrix coordinate real general
    % format: qama-compile/mtx
    % version: 1
    % offset: 0.0
    % vartype: BINARY
    % label_fields: head token bit
    % labels: 0,0,0 0,0,1 ...
    % batch_index: 0
    12 12 40
    1 1 -5.1778890390762130e-01
    ...

A Matrix Market file without this header loads as a plain QUBO (offset 0, labels 0..V-1).

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[0.1]], offset=[0.25])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.mtx"
>>> write(ir, path, 0)
>>> read(path).energies([[1, 1], [0, 1]]).tolist()
[[-0.65, -1.75]]
"""

from __future__ import annotations

import io
import os

import numpy as np
import scipy.io
import scipy.sparse
from numpy.typing import NDArray

from ..base.atomic import atomic_write
from ..core.ir import QuadraticIR
from ._base import PREFIX, VERSION, build_ir, check_version, fail, format_labels, parse_labels, read_text

NAME = "mtx"


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` as its upper-triangular QUBO to ``path`` atomically."""
    binary = ir.to_binary()
    v = binary.num_variables
    lin = binary.linear[index]
    diag = np.nonzero(lin)[0]
    rows, cols, data = binary.coo(index)
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate([lin[diag], data]), (np.concatenate([diag, rows]), np.concatenate([diag, cols]))),
        shape=(v, v),
    )
    comment = "\n".join(
        [
            f" format: {PREFIX}{NAME}",
            f" version: {VERSION}",
            f" offset: {float(binary.offset[index])!r}",
            " vartype: BINARY",
            f" label_fields: {' '.join(ir.label_fields)}",
            f" labels: {format_labels(ir.labels)}",
            f" batch_index: {index}",
        ]
    )
    with atomic_write(path, "wb") as fh:
        scipy.io.mmwrite(fh, matrix, comment=comment, field="real", precision=17, symmetry="general")


def _parse(
    path: str | os.PathLike[str],
) -> tuple[dict[str, str], int, NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Header comments, size and the ``(i, j, q)`` entries (0-based; symmetric files mirrored).

    A strict numpy reader of the coordinate and array forms of real/integer matrices:
    ``scipy.io.mmread`` crashes the interpreter on some truncated files (scipy 1.17).
    """
    fix = "the file is corrupt or truncated; re-export it"
    text = read_text(path, NAME, fix="pass a Matrix Market (.mtx) file")
    lines = text.split("\n")
    banner = lines[0].split()
    if not lines[0].startswith("%%MatrixMarket") or len(banner) != 5 or banner[1].lower() != "matrix":
        fail(
            path,
            "does not start with '%%MatrixMarket matrix <layout> <field> <symmetry>'",
            fix="pass a Matrix Market (.mtx) file",
            fmt=NAME,
        )
    layout, field_, symmetry = (w.lower() for w in banner[2:])
    if (
        layout not in ("coordinate", "array")
        or field_ not in ("real", "integer", "double")
        or symmetry not in ("general", "symmetric")
    ):
        fail(
            path,
            f"unsupported Matrix Market kind '{layout} {field_} {symmetry}'",
            fix="write a real coordinate or array matrix (general or symmetric)",
            fmt=NAME,
        )
    header: dict[str, str] = {}
    k = 1
    while k < len(lines) and (lines[k].startswith("%") or not lines[k].strip()):  # comment lines only
        key, sep, value = lines[k][1:].strip().partition(":")
        if sep and lines[k].startswith("%"):
            header[key.strip()] = value.strip()
        k += 1
    if k >= len(lines):
        fail(path, "has no size line", fix=fix, fmt=NAME)
    try:
        size = [int(x) for x in lines[k].split()]
    except ValueError:
        size = []
    expected = 3 if layout == "coordinate" else 2
    if len(size) != expected or min(size) < 0:
        fail(path, f"malformed size line {lines[k]!r}", fix=fix, fmt=NAME)
    rows_n, cols_n = size[0], size[1]
    if rows_n != cols_n:
        fail(path, f"QUBO matrix must be square, got shape ({rows_n}, {cols_n})", fix="pass a V x V matrix", fmt=NAME)
    body = "\n".join(lines[k + 1 :])
    try:
        values = (
            np.loadtxt(io.StringIO(body), dtype=np.float64, comments="%", ndmin=2)
            if body.strip()
            else (np.zeros((0, expected)))
        )
    except ValueError as exc:
        fail(path, f"body cannot be parsed ({exc})", fix=fix, fmt=NAME)
    v = rows_n
    if layout == "coordinate":
        if values.shape != (size[2], 3) and not (size[2] == 0 and values.size == 0):
            fail(
                path,
                f"has {values.shape[0]} entries of {values.shape[1] if values.ndim == 2 else 0} columns, "
                f"the size line says {size[2]} entries of 3",
                fix=fix,
                fmt=NAME,
            )
        values = values.reshape(-1, 3)
        ij = values[:, :2]
        if np.any(ij != np.round(ij)) or np.any(ij < 1) or np.any(ij > v):
            fail(path, f"entry indices must be integers in 1..{v}", fix=fix, fmt=NAME)
        i, j, q = ij[:, 0].astype(np.int64) - 1, ij[:, 1].astype(np.int64) - 1, values[:, 2]
    else:
        flat = values.reshape(-1)
        n_expected = v * v if symmetry == "general" else v * (v + 1) // 2
        if flat.size != n_expected:
            fail(path, f"has {flat.size} values, a {v}x{v} {symmetry} array needs {n_expected}", fix=fix, fmt=NAME)
        if symmetry == "general":  # column-major
            j, i = np.divmod(np.arange(v * v, dtype=np.int64), v)
        else:  # lower triangle, column by column
            j, i = np.triu_indices(v)
        q = flat
        keep = q != 0
        i, j, q = i[keep], j[keep], q[keep]
    if not np.all(np.isfinite(q)):
        fail(path, "contains NaN or infinite values", fix=fix, fmt=NAME)
    if symmetry == "symmetric":
        off = i != j
        i, j, q = np.concatenate([i, j[off]]), np.concatenate([j, i[off]]), np.concatenate([q, q[off]])
    return header, v, i, j, q


def read(path: str | os.PathLike[str]) -> QuadraticIR:
    """Read a file written by :func:`write` (or any square real Matrix Market QUBO)."""
    fix = "the file is corrupt or truncated; re-export it"
    header, v, i, j, q = _parse(path)
    plain = "format" not in header
    if not plain:
        check_version(path, NAME, header.get("format"), header.get("version"))
    diag = i == j
    linear = np.zeros((1, v))
    np.add.at(linear[0], i[diag], q[diag])
    fields: tuple[str, ...] = ("index",)
    if plain:
        offset = 0.0
        labels = np.arange(v, dtype=np.int64).reshape(v, 1)
    else:
        try:
            offset = float(header.get("offset", "0"))
        except ValueError:
            fail(path, f"malformed offset {header.get('offset')!r}", fix=fix, fmt=NAME)
        fields = tuple(header.get("label_fields", "index").split()) or ("index",)
        if "labels" in header:
            labels = parse_labels(path, NAME, header["labels"], v, len(fields))
        else:
            labels = np.arange(v, dtype=np.int64).reshape(v, 1)
            fields = ("index",)
    return build_ir(
        path,
        NAME,
        linear=linear,
        rows=i[~diag],
        cols=j[~diag],
        data=q[~diag][None],
        offset=[offset],
        vartype="BINARY",
        labels=labels,
        label_fields=fields,
    )

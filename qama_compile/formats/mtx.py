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
import itertools
import os
import warnings
from typing import IO

import numpy as np
import scipy.io
import scipy.sparse
from numpy.typing import NDArray

from ..base.atomic import atomic_write
from ..core.ir import QuadraticIR
from ._base import (
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    check_version,
    fail,
    parse_labels,
    write_labels,
)
from .validate import as_float, as_int

NAME = "mtx"
#: Most ``%`` comment lines before the size line.
MAX_COMMENT_LINES = 10_000
#: Loader bytes per declared entry (table, mirrored copy, IR) and per variable (linear, labels, IR).
BYTES_PER_ENTRY = 200
BYTES_PER_VARIABLE = 96
_NOT_MTX = "pass a Matrix Market (.mtx) file"


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` as its upper-triangular QUBO to ``path`` atomically."""
    binary = ir.select([index]).to_binary()  # one problem converted, not the batch
    v = binary.num_variables
    lin = binary.linear[0]
    diag = np.nonzero(lin)[0]
    rows, cols, data = binary.coo(0)
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate([lin[diag], data]), (np.concatenate([diag, rows]), np.concatenate([diag, cols]))),
        shape=(v, v),
    )
    del rows, cols, data
    buf = io.StringIO()
    write_labels(buf, ir.labels)
    comment = "\n".join(
        [
            f" format: {PREFIX}{NAME}",
            f" version: {VERSION}",
            f" offset: {float(binary.offset[0])!r}",
            " vartype: BINARY",
            f" label_fields: {' '.join(ir.label_fields)}",
            f" labels: {buf.getvalue()}",
            f" batch_index: {index}",
        ]
    )
    with atomic_write(path, "wb") as fh:
        scipy.io.mmwrite(fh, matrix, comment=comment, field="real", precision=17, symmetry="general")


def _lines(fh: IO[str], first: str) -> itertools.chain[str]:
    return itertools.chain([first], fh)


def _parse(
    path: str | os.PathLike[str], size: int
) -> tuple[dict[str, str], int, NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Header comments, size and the ``(i, j, q)`` entries (0-based; symmetric files mirrored).

    A strict numpy reader of the coordinate and array forms of real/integer matrices
    (``scipy.io.mmread`` crashes the interpreter on some truncated files, scipy 1.17): the
    declared size is checked against the file's bytes before the body is parsed.
    """
    header: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        banner_line = fh.readline()
        banner = banner_line.split()
        if not banner_line.startswith("%%MatrixMarket") or len(banner) != 5 or banner[1].lower() != "matrix":
            fail(
                path, "does not start with '%%MatrixMarket matrix <layout> <field> <symmetry>'", fix=_NOT_MTX, fmt=NAME
            )
        layout, field_, symmetry = (w.lower() for w in banner[2:])
        if (
            layout not in ("coordinate", "array")
            or field_ not in ("real", "integer", "double")
            or symmetry not in ("general", "symmetric")
        ):
            fail(
                path,
                f"unsupported Matrix Market kind '{layout[:20]} {field_[:20]} {symmetry[:20]}'",
                fix="write a real coordinate or array matrix (general or symmetric)",
                fmt=NAME,
            )
        line = fh.readline()
        for _ in range(MAX_COMMENT_LINES):  # comment lines only
            if not (line.startswith("%") or (line and not line.strip())):
                break
            key, sep, value = line[1:].strip().partition(":")
            if sep and line.startswith("%"):
                header[key.strip()] = value.strip()
            line = fh.readline()
        else:
            fail(path, f"has more than {MAX_COMMENT_LINES} comment lines", fmt=NAME)
        words = line.split()
        expected = 3 if layout == "coordinate" else 2
        if len(words) != expected:
            fail(path, f"malformed size line {line[:80]!r}", fmt=NAME, field="size line")
        dims = [as_int(path, w, fmt=NAME, field="size line") for w in words]
        if dims[0] != dims[1]:
            fail(
                path,
                f"QUBO matrix must be square, got shape ({dims[0]}, {dims[1]})",
                fix="pass a V x V matrix",
                fmt=NAME,
            )
        v = dims[0]
        count = dims[2] if layout == "coordinate" else (v * v if symmetry == "general" else v * (v + 1) // 2)
        # every value takes at least 2 bytes; coordinate lines at least 6 ("1 1 1\n")
        if (6 if layout == "coordinate" else 2) * count > size:
            fail(path, f"declares {count} entries, more than its {size} bytes can hold", fmt=NAME, field="size line")
        with_labels = "labels" in header
        check_declared(
            path,
            BYTES_PER_ENTRY * count + BYTES_PER_VARIABLE * v,
            file_size=size,
            fmt=NAME,
            field="size line",
            what=f"a {v}x{v} matrix with {count} entries" + ("" if with_labels else " (no labels listed)"),
        )
        body = fh.readline()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
                values = np.loadtxt(_lines(fh, body), dtype=np.float64, comments="%", ndmin=2, max_rows=count + 1)
        except ValueError as exc:
            fail(path, f"body cannot be parsed ({str(exc)[:120]})", fmt=NAME, field="body")
    if layout == "coordinate":
        if values.size == 0:
            values = values.reshape(0, 3)
        if values.shape != (count, 3):
            fail(
                path,
                f"has {values.shape[0]} entries of {values.shape[1]} columns, the size line says {count} entries of 3",
                fmt=NAME,
                field="body",
            )
        ij = values[:, :2]
        if np.any(ij != np.round(ij)) or np.any(ij < 1) or np.any(ij > v):
            fail(path, f"entry indices must be integers in 1..{v}", fmt=NAME, field="body")
        i, j, q = ij[:, 0].astype(np.int64) - 1, ij[:, 1].astype(np.int64) - 1, values[:, 2]
    else:
        flat = values.reshape(-1)
        if flat.size != count:
            fail(path, f"has {flat.size} values, a {v}x{v} {symmetry} array needs {count}", fmt=NAME, field="body")
        if symmetry == "general":  # column-major
            j, i = np.divmod(np.arange(count, dtype=np.int64), v if v else 1)
        else:  # lower triangle, column by column
            j, i = np.triu_indices(v)
        q = flat
        keep = q != 0
        i, j, q = i[keep], j[keep], q[keep]
    if not np.all(np.isfinite(q)):
        fail(path, "contains NaN or infinite values", fmt=NAME, field="body")
    if symmetry == "symmetric":
        off = i != j
        i, j, q = np.concatenate([i, j[off]]), np.concatenate([j, i[off]]), np.concatenate([q, q[off]])
    return header, v, i, j, q


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR:
    """Read a file written by :func:`write` (or any square real Matrix Market QUBO)."""
    size = check_size(path, max_bytes)
    try:
        header, v, i, j, q = _parse(path, size)
    except UnicodeDecodeError as exc:
        fail(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", fix=_NOT_MTX, fmt=NAME)
    except OSError as exc:
        fail(path, f"cannot be read ({exc.strerror or exc})", fix="check the path and its permissions", fmt=NAME)
    plain = "format" not in header
    if not plain:
        check_version(path, NAME, header.get("format"), header.get("version"))
    diag = i == j
    linear = np.zeros((1, v))
    np.add.at(linear[0], i[diag], q[diag])
    fields: tuple[str, ...] = ("index",)
    offset = 0.0
    if plain or "labels" not in header:
        labels = np.arange(v, dtype=np.int64).reshape(v, 1)
    else:
        offset = as_float(path, header.get("offset", "0"), fmt=NAME, field="offset")
        fields = tuple(header.get("label_fields", "index").split()) or ("index",)
        if len(fields) > 8:
            fail(path, f"has {len(fields)} fields, at most 8 are allowed", fmt=NAME, field="label_fields")
        labels = parse_labels(path, NAME, header["labels"], v, len(fields))
    if not plain and "labels" not in header:
        offset = as_float(path, header.get("offset", "0"), fmt=NAME, field="offset")
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

"""``kaiwu``: one problem as the Ising matrix of QBoson's Kaiwu SDK (the CIM the paper ran on), as CSV.

Kaiwu's solvers (``kaiwu.cim.CIMOptimizer``, ``kaiwu.classical.*Optimizer``) take a dense
symmetric matrix ``K`` with a zero diagonal and minimise

.. math:: H(s) = -s^\\top K s = -2 \\sum_{i<j} K_{ij} s_i s_j, \\qquad s \\in \\{-1, +1\\}^{V+1}

(``kaiwu.common.hamiltonian`` in the ``kaiwu-community`` package). Linear fields have no
place of their own: they sit in the row and column of an extra *ancilla* spin, the last
one (index ``V``), exactly as ``kaiwu.core.qubo_matrix_to_ising_matrix`` builds it. For a
SPIN model ``E(s) = sum_i h_i s_i + sum_{i<j} J_ij s_i s_j + c`` this module writes

* ``K[i, j] = K[j, i] = -J_ij / 2`` for the couplings,
* ``K[i, V] = K[V, i] = -h_i / 2`` for the fields (the ancilla column and row),
* ``offset = c``, so that ``E(s) = -t^T K t + offset`` with ``t = (s, +1)``.

``H`` is symmetric under flipping every spin, so a solver may return the ancilla at ``-1``;
multiply the whole vector by its last entry first (Kaiwu's "negtail flip"). A BINARY
problem is written in its spin form (``s = 2x - 1``; decode with ``x = (1 + s) / 2``),
which is what ``qubo_matrix_to_ising_matrix`` returns for its upper-triangular QUBO matrix.

The file is CSV under ``#`` comment lines (the convention, ``V``, the offset, the labels of
the ``V`` variables in matrix order), so ``numpy.loadtxt(path, delimiter=",")`` gives the
matrix in one line. Numbers are in shortest round-trip form, so the energies survive
exactly. :func:`read` gives the problem back as a SPIN
:class:`~qama_compile.core.ir.QuadraticIR` over the ``V`` logical spins (the ancilla gauged
to ``+1``).

>>> import tempfile, pathlib
>>> import numpy as np
>>> from qama_compile.core.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[0.1]], offset=[0.25])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
>>> write(ir, path, 0)
>>> print(path.read_text(), end="")
# format: qama-compile/kaiwu
# version: 1
# energy: E(s) = -t^T K t + offset, t = (s_0 .. s_{V-1}, s_anc); multiply t by t[-1] first
# variables: 2
# ancilla: 2
# offset: -0.225
# source_vartype: BINARY
# label_fields: index
# labels: 0 1
# batch_index: 0
0.0,-0.0125,-0.2625
-0.0125,0.0,0.4875
-0.2625,0.4875,0.0
>>> K = np.loadtxt(path, delimiter=",")
>>> K.shape
(3, 3)
>>> x = np.array([[1, 0], [1, 1]])
>>> t = np.c_[2 * x - 1, np.ones(2)]                   # spins plus the ancilla at +1
>>> bool(np.allclose(-np.einsum("si,ij,sj->s", t, K, t) - 0.225, ir.energies(x)[0]))
True
>>> back = read(path)
>>> back.vartype, bool(np.allclose(back.energies(2 * x - 1), ir.energies(x)))
('SPIN', True)
"""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
from numpy.typing import NDArray

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
    fail,
    label_fields,
    parse_labels,
    read_header,
    text_file,
    write_labels,
)
from .validate import as_float, as_int, as_text

__all__ = ["ENERGY", "NAME", "ising_matrix", "read", "write"]

NAME = "kaiwu"
#: The energy line of every header (the convention, stated in the file itself).
ENERGY = "E(s) = -t^T K t + offset, t = (s_0 .. s_{V-1}, s_anc); multiply t by t[-1] first"
_REQUIRED = (
    "format",
    "version",
    "variables",
    "ancilla",
    "offset",
    "source_vartype",
    "label_fields",
    "labels",
)
#: Most ``#`` header lines read before the body must start (ours has 10).
MAX_HEADER_LINES = 256
#: Loader bytes per matrix entry (the parsed float64 table, its symmetry check, the triangle).
BYTES_PER_ENTRY = 48
#: Loader bytes per variable and label field.
BYTES_PER_VARIABLE = 96
#: The smallest a matrix entry can be in the file (``0,``).
MIN_ENTRY_BYTES = 2
_add = getattr(np, "strings", np.char).add  # numpy >= 2: the faster ufunc


def _spin_terms(
    ir: QuadraticIR, index: int
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], float]:
    """``(h, rows, cols, J, c)`` of problem ``index`` in spin form (``rows < cols``, duplicates kept)."""
    spin = ir.select([index]).to_spin()
    rows, cols, data = spin.coo(0)
    return spin.linear[0], rows, cols, data, float(spin.offset[0])


def ising_matrix(ir: QuadraticIR, index: int = 0) -> tuple[NDArray[np.float64], float]:
    """Kaiwu's ``(K, offset)`` for problem ``index``: ``[V+1, V+1]`` with the ancilla last.

    The in-memory form of what :func:`write` stores (``E = -t^T K t + offset``); dense, so
    for problems that fit in memory.

    >>> from qama_compile.core.ir import QuadraticIR
    >>> ir = QuadraticIR.from_coo(linear=[[2.0, 0.0]], rows=[0], cols=[1], data=[[-1.0]], vartype="SPIN")
    >>> K, offset = ising_matrix(ir)
    >>> K.tolist(), offset
    ([[0.0, 0.5, -1.0], [0.5, 0.0, 0.0], [-1.0, 0.0, 0.0]], 0.0)
    """
    h, rows, cols, data, offset = _spin_terms(ir, index)
    v = ir.num_variables
    out = np.zeros((v + 1, v + 1))
    np.add.at(out, (rows, cols), -data / 2)
    out += out.T
    out[:v, v] = out[v, :v] = -h / 2
    return out + 0.0, offset  # + 0.0: no negative zeros


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` as Kaiwu's Ising matrix (CSV) to ``path`` atomically.

    The dense ``[V+1, V+1]`` matrix is built and written a few rows at a time, so the
    writer's memory is the coupling list plus one chunk of about :data:`CHUNK` entries.
    """
    h, rows, cols, data, offset = _spin_terms(ir, index)
    v = ir.num_variables
    size = v + 1
    # every coupling in both rows it touches, sorted by row: each chunk is one slice
    rr, cc = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    dd = np.concatenate([data, data]) / -2
    order = np.argsort(rr, kind="stable")
    rr, cc, dd = rr[order], cc[order], dd[order]
    anc = np.append(-h / 2, 0.0)  # the ancilla column; its own diagonal is 0
    header = [
        f"format: {PREFIX}{NAME}",
        f"version: {VERSION}",
        f"energy: {ENERGY}",
        f"variables: {v}",
        f"ancilla: {v}",
        f"offset: {offset!r}",
        f"source_vartype: {ir.vartype}",
        f"label_fields: {' '.join(ir.label_fields)}",
    ]
    step = max(1, CHUNK // size)
    sep = np.full(size, ",")
    sep[-1] = "\n"
    with atomic_write(path, "w") as fh:
        fh.write("".join(f"# {line}\n" for line in header) + "# labels: ")
        write_labels(fh, ir.labels)
        fh.write(f"\n# batch_index: {index}\n")
        for r0 in range(0, size, step):  # chunks of rows
            r1 = min(r0 + step, size)
            block = np.zeros((r1 - r0, size))
            lo, hi = np.searchsorted(rr, [r0, r1])
            np.add.at(block, (rr[lo:hi] - r0, cc[lo:hi]), dd[lo:hi])
            block[:, v] = anc[r0:r1]
            if r1 == size:
                block[-1, :v] = anc[:v]
            text = _add((block + 0.0).astype(str), sep)  # + 0.0: no negative zeros
            fh.write("".join(text.ravel().tolist()))


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR:
    """Read a file written by :func:`write` as a SPIN IR over the ``V`` logical spins (ancilla at ``+1``).

    The declared size is checked against the file's bytes and the loader's memory limit
    before the matrix is parsed; a matrix that is not ``[V+1, V+1]``, not finite, not
    symmetric or with a non-zero diagonal is refused with a :class:`FileFormatError`.
    """
    size = check_size(path, max_bytes)
    with text_file(path, NAME) as fh:
        header, first = read_header(fh, path, NAME, required=_REQUIRED, max_lines=MAX_HEADER_LINES)
        v = as_int(path, header["variables"], fmt=NAME, field="variables")
        ancilla = as_int(path, header["ancilla"], fmt=NAME, field="ancilla")
        if ancilla != v:
            fail(
                path,
                f"puts the ancilla spin at {ancilla}; this version keeps it last (index {v})",
                fmt=NAME,
                field="ancilla",
            )
        offset = as_float(path, header["offset"], fmt=NAME, field="offset")
        as_text(path, header["source_vartype"], fmt=NAME, field="source_vartype", choices=("BINARY", "SPIN"))
        fields = label_fields(path, NAME, header["label_fields"])
        n = v + 1
        if MIN_ENTRY_BYTES * n * n > size or 2 * v * len(fields) > size + 1:
            fail(
                path,
                f"declares {v} variables (a {n}x{n} matrix), more than its {size} bytes can hold",
                fmt=NAME,
                field="variables",
            )
        check_declared(
            path,
            BYTES_PER_ENTRY * n * n + BYTES_PER_VARIABLE * v * len(fields),
            file_size=size,
            fmt=NAME,
            field="variables",
            what=f"a {n}x{n} matrix",
        )
        labels = parse_labels(path, NAME, header["labels"], v, len(fields))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
                matrix = np.loadtxt(
                    itertools.chain([first], fh),
                    dtype=np.float64,
                    delimiter=",",
                    comments="#",
                    ndmin=2,
                    max_rows=n + 1,
                )
        except ValueError as exc:
            fail(path, f"body is not rows of comma-separated numbers ({str(exc)[:120]})", fmt=NAME, field="matrix")
    if matrix.shape != (n, n):
        fail(
            path,
            f"matrix has shape {matrix.shape}{'+' if matrix.shape[0] > n else ''}, the header's {v} variables "
            f"need {n}x{n} (the logical spins plus the ancilla)",
            fmt=NAME,
            field="matrix",
        )
    if not np.all(np.isfinite(matrix)):
        fail(path, "matrix contains NaN or infinite values", fmt=NAME, field="matrix")
    if np.any(np.diagonal(matrix)):
        fail(
            path,
            "matrix has a non-zero diagonal; Kaiwu's Ising matrix has none (a diagonal belongs to a QUBO matrix)",
            fix="convert a QUBO matrix with kaiwu.core.qubo_matrix_to_ising_matrix, or re-export the file",
            fmt=NAME,
            field="matrix",
        )
    if not np.array_equal(matrix, matrix.T):
        i, j = np.unravel_index(int(np.argmax(np.abs(matrix - matrix.T))), matrix.shape)
        fail(
            path,
            f"matrix is not symmetric (K[{i},{j}] = {matrix[i, j]!r}, K[{j},{i}] = {matrix[j, i]!r})",
            fix="symmetrise it with (K + K.T) / 2 (the energy -s^T K s is unchanged), or re-export the file",
            fmt=NAME,
            field="matrix",
        )
    rows, cols = np.nonzero(np.triu(matrix[:v, :v], k=1))
    coupling = -2 * matrix[rows, cols]
    return build_ir(
        path,
        NAME,
        linear=(-2 * matrix[:v, v])[None],
        rows=rows,
        cols=cols,
        data=coupling[None],
        offset=[offset],
        vartype="SPIN",
        labels=labels,
        label_fields=fields,
    )

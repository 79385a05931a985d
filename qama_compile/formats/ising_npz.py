"""``ising-npz``: a batch of physical Ising problems as numpy arrays (the CIM export), no pickle.

Arrays: ``h [B, Q]``, ``rows``, ``cols [E]``, ``J [B, E]``, ``offset [B]``, ``qubits [Q]``
(hardware qubit of each column), ``scale [B]``, ``h_step``, ``j_step`` and ``header`` (JSON
text: ``format`` ``"qama-compile/ising-npz"``, ``version``, ``target``, ``integer``,
``convention``, and ``compiled``, the record of :mod:`qama_compile.formats.physical_file`).
Energies follow dimod's convention ``E = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j``;
when ``integer`` the values are DAC codes and the problem is ``h * h_step``, ``J * j_step``.

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.npz"
>>> write(ir, path, head={"target": None})
>>> read(path).energies([[1, -1]]).tolist()
[[1.25]]
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_bytes
from ..base.safeload import loads_json, read_npz
from ..core.ir import QuadraticIR
from ._base import DEFAULT_MAX_BYTES, PREFIX, VERSION, build_ir, check_size, check_version, fail, loader_limit
from .physical_file import LEGACY_FIX, PhysicalFile, open_physical
from .validate import as_float

NAME = "ising-npz"
_KEYS = ("h", "rows", "cols", "J", "offset", "qubits", "scale", "h_step", "j_step", "header")


def coo_all(ir: QuadraticIR) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Rows, columns and ``[B, E]`` values of the couplings non-zero in any problem of ``ir``."""
    flat = ir.flatten()
    keep = np.any(flat.data != 0, axis=0)
    return flat.rows[keep], flat.cols[keep], flat.data[:, keep]


def integer_codes(ir: QuadraticIR, steps: dict[str, float] | None) -> tuple[NDArray[Any], NDArray[Any], bool]:
    """``(h, J)`` of ``ir`` (SPIN) as DAC codes when ``steps`` has ``h_step``/``j_step``, else as floats."""
    _, _, j = coo_all(ir)
    if steps and steps.get("h_step") and steps.get("j_step"):
        return (
            np.rint(ir.linear / steps["h_step"]).astype(np.int64),
            np.rint(j / steps["j_step"]).astype(np.int64),
            True,
        )
    return ir.linear, j, False


def write(ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None) -> None:
    """Write the SPIN batch ``ir`` with ``head`` (JSON) and the compiled ``record`` to ``path`` atomically."""
    rows, cols, _ = coo_all(ir)
    steps: dict[str, float] = ir.meta.get("quantization_steps") or {}
    h, j, integer = integer_codes(ir, steps)
    header = {"format": PREFIX + NAME, "version": VERSION, **head, "integer": integer, "compiled": record}
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        h=h,
        rows=rows,
        cols=cols,
        J=j,
        offset=ir.offset,
        qubits=ir.labels[:, 0].astype(np.int64),
        scale=np.asarray(ir.meta.get("scale", [1.0] * ir.batch_size), dtype=np.float64).reshape(-1),
        h_step=np.float64(steps["h_step"] if integer else np.nan),
        j_step=np.float64(steps["j_step"] if integer else np.nan),
        header=np.asarray(json.dumps(header, allow_nan=False)),
    )
    atomic_write_bytes(path, buf.getvalue())


def _array(path: str | os.PathLike[str], a: dict[str, NDArray[Any]], key: str, shape: tuple[int, ...]) -> NDArray[Any]:
    arr = a[key]
    if arr.dtype.kind not in "iuf" or arr.shape != shape:
        fail(path, f"has dtype {arr.dtype} shape {arr.shape}, expected numbers of shape {shape}", fmt=NAME, field=key)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        fail(path, "contains NaN or infinite values", fmt=NAME, field=key)
    return arr


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read a file written by :func:`write`: the physical IR, or a :class:`PhysicalFile` when it has a record."""
    size = check_size(path, max_bytes)
    a = read_npz(path, limit=loader_limit(size) // 4, max_bytes=max_bytes, fmt=NAME)
    missing = [k for k in _KEYS if k not in a]
    if missing:
        fail(path, f"lacks the arrays {missing}", fmt=NAME)
    raw = a["header"]
    if raw.shape != () or raw.dtype.kind != "U":
        fail(path, "must be a JSON text scalar", fmt=NAME, field="header")
    header = loads_json(str(raw), path=path, fmt=NAME, field="header", max_depth=16)
    if not isinstance(header, dict):
        fail(path, "must be a JSON object", fmt=NAME, field="header")
    if header.get("format") == PREFIX + "ising":
        fail(path, "is an ising-npz file of qama-compile 0.x (no decode data)", fmt=NAME,
             fix=LEGACY_FIX.format(suffix=".npz"))  # fmt: skip
    check_version(path, NAME, header.get("format"), header.get("version"))
    h = a["h"]
    if h.ndim != 2:
        fail(path, f"must be [B, Q], got shape {h.shape}", fmt=NAME, field="h")
    b, q = h.shape
    h = _array(path, a, "h", (b, q))
    rows = _array(path, a, "rows", a["rows"].shape[:1])
    e = rows.size
    cols = _array(path, a, "cols", (e,))
    j = _array(path, a, "J", (b, e))
    offset = _array(path, a, "offset", (b,)).astype(np.float64)
    qubits = _array(path, a, "qubits", (q,))
    if rows.dtype.kind == "f" or cols.dtype.kind == "f" or qubits.dtype.kind == "f":
        fail(path, "rows, cols and qubits must be integers", fmt=NAME, field="rows")
    if e and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= q or np.any(rows == cols)):
        fail(path, f"coupling indices must be distinct integers in 0..{q - 1}", fmt=NAME, field="rows")
    if q and (qubits.min() < 0 or np.unique(qubits).size != q):
        fail(path, "must be distinct non-negative qubit ids", fmt=NAME, field="qubits")
    if header.get("integer"):
        steps = [
            as_float(path, a[k].item() if a[k].shape == () else None, fmt=NAME, field=k) for k in ("h_step", "j_step")
        ]
        h, j = h * steps[0], j * steps[1]
    ir = build_ir(
        path,
        NAME,
        linear=h.astype(np.float64),
        rows=rows.astype(np.int64),
        cols=cols.astype(np.int64),
        data=j.astype(np.float64),
        offset=offset,
        vartype="SPIN",
        labels=qubits.astype(np.int64).reshape(q, 1),
        label_fields=("qubit",),
    )
    return open_physical(path, ir, header.get("compiled"), fmt=NAME)

"""``pauli-json``: a batch of physical Ising problems as Pauli-Z terms (the gate-model export).

Layout (JSON)::

    {"format": "qama-compile/pauli-json", "version": 1, "target": "ibm-heron", ...,
     "qubit_order": [q0, q1, ...],     # Pauli position k (label character -1-k) is qubit q_k
     "problems": [{"offset": 0.5, "terms": [["IIZ", -0.25], ["IZZ", 0.5], ...]}, ...],
     "compiled": {...}}               # the record of qama_compile.formats.physical_file

Terms are Qiskit ``SparsePauliOp.to_list()`` labels (little-endian: the last character is
position 0) with real coefficients. The convention is qiskit-optimization's: spin
``s_k = -Z_k``, so a field ``h_k`` is the term ``-h_k Z_k`` and a coupling ``J_kl`` the term
``J_kl Z_k Z_l``; ``E = offset + sum of the terms``.

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1.0], rows=[0], cols=[1], data=[0.25], vartype="SPIN")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.json"
>>> write(ir, path, head={"target": None})
>>> read(path).energies([[1, -1]]).tolist()
[[1.25]]
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_text
from ..base.safeload import loads_json
from ..core.ir import QuadraticIR
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
from .physical_file import LEGACY_FIX, PhysicalFile, open_physical, qubit_batch
from .validate import as_float, float_array, int_array

NAME = "pauli-json"
#: Peak bytes of ``json.loads`` per byte of JSON text (as bqm-json).
JSON_BYTES_PER_BYTE = 32


def write(ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None) -> None:
    """Write the SPIN batch ``ir`` as Pauli terms to ``path`` atomically."""
    from ..core.convert import ir_to_pauli

    problems = []
    for b in range(ir.batch_size):  # one operator per problem of the batch
        op, offset = ir_to_pauli(ir, b)
        problems.append({"offset": offset, "terms": [[p, float(c.real)] for p, c in op.to_list()]})
    doc = {
        "format": PREFIX + NAME,
        "version": VERSION,
        **head,
        "qubit_order": ir.labels[:, 0].tolist(),
        "problems": problems,
        "compiled": record,
    }
    atomic_write_text(path, json.dumps(doc, allow_nan=False))


def _terms(
    path: str | os.PathLike[str], terms: Any, q: int, field: str
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """``[T, Q]`` Z masks (position order) and ``[T]`` coefficients of a term list."""
    if not isinstance(terms, list) or not all(isinstance(t, list) and len(t) == 2 for t in terms):
        fail(path, "must be a list of [label, coefficient] pairs", fmt=NAME, field=field)
    labels = [t[0] for t in terms]
    if not all(isinstance(s, str) and len(s) == q for s in labels):
        fail(path, f"every label must be text of {q} characters", fmt=NAME, field=field)
    coef = float_array(path, [t[1] for t in terms], fmt=NAME, field=field, shape=(len(terms),))
    try:
        raw = np.frombuffer("".join(labels).encode("ascii"), dtype=np.uint8).reshape(len(labels), q)
    except UnicodeEncodeError:
        fail(path, "labels must be made of 'I' and 'Z'", fmt=NAME, field=field)
    z = raw == ord("Z")
    if np.any(~z & (raw != ord("I"))):
        fail(path, "labels must be made of 'I' and 'Z' (an Ising problem)", fmt=NAME, field=field)
    return z[:, ::-1], coef


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read a file written by :func:`write`: the physical IR, or a :class:`PhysicalFile` when it has a record."""
    size = check_size(path, max_bytes)
    check_declared(path, JSON_BYTES_PER_BYTE * size, file_size=size, fmt=NAME, field="(whole file)", what="JSON text")
    doc = loads_json(read_text(path, NAME, fix=CORRUPT), path=path, fmt=NAME, max_depth=64)
    if not isinstance(doc, dict):
        fail(path, "is JSON but not a qama-compile pauli-json object", fmt=NAME)
    if doc.get("format") == PREFIX + "pauli":
        fail(path, "is a pauli-json file of qama-compile 0.x (no qubit order, no decode data)", fmt=NAME,
             fix=LEGACY_FIX.format(suffix=".json --format pauli-json"))  # fmt: skip
    check_version(path, NAME, doc.get("format"), doc.get("version"))
    qubits = int_array(path, doc.get("qubit_order"), fmt=NAME, field="qubit_order", lo=0, hi=2**62)
    q = qubits.size
    if qubits.ndim != 1 or np.unique(qubits).size != q:
        fail(path, "must list distinct qubit ids", fmt=NAME, field="qubit_order")
    problems = doc.get("problems")
    if not isinstance(problems, list) or not problems or not all(isinstance(p, dict) for p in problems):
        fail(path, "must be a non-empty list of {offset, terms}", fmt=NAME, field="problems")
    b = len(problems)
    offset = np.array(
        [as_float(path, p.get("offset"), fmt=NAME, field=f"problems[{i}].offset") for i, p in enumerate(problems)]
    )
    parts = [_terms(path, p.get("terms"), q, f"problems[{i}].terms") for i, p in enumerate(problems)]
    check_declared(path, 8 * q * (b + 2) + 32 * sum(c.size for _, c in parts), file_size=size, fmt=NAME,
                   field="problems", what=f"{b} problems of {q} qubits")  # fmt: skip
    linear = np.zeros((b, q))
    keys, which, values = [], [], []
    for i, (z, coef) in enumerate(parts):  # one problem at a time, its terms vectorised
        count = z.sum(axis=1)
        if np.any((count < 1) | (count > 2)):
            fail(path, "every term must act on one or two qubits", fmt=NAME, field=f"problems[{i}].terms")
        single = count == 1
        np.add.at(linear[i], np.argmax(z[single], axis=1), -coef[single])
        pair = z[~single]
        first = np.argmax(pair, axis=1)
        second = q - 1 - np.argmax(pair[:, ::-1], axis=1)
        keys.append(first.astype(np.int64) * q + second)
        which.append(np.full(first.size, i))
        values.append(coef[~single])
    ir = qubit_batch(path, NAME, linear=linear, keys=keys, which=which, values=values, offset=offset, qubits=qubits,
                     size=size, what=f"{b} problems")  # fmt: skip
    return open_physical(path, ir, doc.get("compiled"), fmt=NAME)

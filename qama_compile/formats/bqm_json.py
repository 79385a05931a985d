"""``bqm-json``: one problem as dimod's ``BinaryQuadraticModel.to_serializable`` in an envelope.

File layout (JSON)::

    {"format": "qama-compile/bqm-json", "version": 1, "vartype": "BINARY",
     "label_fields": ["head", "token", "bit"], "batch_index": 0, "meta": {...},
     "bqm": <dimod serializable BQM, variable labels [head, token, bit]>}

A plain dimod BQM JSON file (no envelope) also loads.

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[0.5]], offset=[0.25])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.json"
>>> write(ir, path, 0)
>>> read(path).energies([[1, 1]]).tolist()
[[-0.25]]
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..base.atomic import atomic_write_text
from ..base.jsonutil import to_jsonable
from ..core.convert import bqm_to_ir, ir_to_bqm
from ..core.ir import QuadraticIR
from ._base import PREFIX, VERSION, build_ir, check_version, fail

NAME = "bqm-json"


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` (in its own vartype) to ``path`` atomically."""
    bqm = ir_to_bqm(ir, index, vartype=ir.vartype)
    envelope = {
        "format": PREFIX + NAME,
        "version": VERSION,
        "vartype": ir.vartype,
        "label_fields": list(ir.label_fields),
        "batch_index": index,
        "meta": to_jsonable(ir.meta),
        "bqm": bqm.to_serializable(),
    }
    atomic_write_text(path, json.dumps(envelope, allow_nan=False))


def read(path: str | os.PathLike[str]) -> QuadraticIR:
    """Read a file written by :func:`write` (or a plain dimod BQM JSON file)."""
    import dimod

    fix = "the file is corrupt or truncated; re-export it"
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(path, f"is not valid JSON ({exc})", fix=fix, fmt=NAME)
    if not isinstance(obj, dict):
        fail(path, "is JSON but not a qama-compile bqm-json object", fix=fix, fmt=NAME)
    if "format" not in obj and obj.get("type") == "BinaryQuadraticModel":
        obj = {"format": PREFIX + NAME, "version": VERSION, "bqm": obj, "plain": True}
    check_version(path, NAME, obj.get("format"), obj.get("version"))
    try:
        bqm = dimod.BinaryQuadraticModel.from_serializable(obj["bqm"])
    except Exception as exc:  # dimod raises many types on malformed input
        fail(path, f"the embedded dimod BQM cannot be read ({type(exc).__name__}: {exc})", fix=fix, fmt=NAME)
    if obj.get("plain"):
        return bqm_to_ir(bqm)
    order = list(bqm.variables)
    fields = tuple(str(f) for f in obj.get("label_fields", ["index"]))
    try:
        labels = np.array(order, dtype=np.int64).reshape(len(order), len(fields))
    except (TypeError, ValueError):
        fail(path, f"variable labels do not match label_fields {list(fields)}", fix=fix, fmt=NAME)
    vectors = bqm.to_numpy_vectors(variable_order=order)
    lin, (rows, cols, data), offset = vectors[0], vectors[1], vectors[2]
    meta: Any = obj.get("meta") or {}
    vartype = "SPIN" if bqm.vartype is dimod.SPIN else "BINARY"
    return build_ir(
        path,
        NAME,
        linear=np.asarray(lin)[None],
        rows=rows,
        cols=cols,
        data=np.asarray(data)[None],
        offset=[offset],
        vartype=vartype,
        labels=labels,
        label_fields=fields,
        meta=dict(meta) if isinstance(meta, dict) else {},
    )

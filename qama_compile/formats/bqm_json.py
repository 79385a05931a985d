"""``bqm-json``: one problem as dimod's ``BinaryQuadraticModel`` serialization in an envelope.

File layout (JSON)::

    {"format": "qama-compile/bqm-json", "version": 1, "vartype": "BINARY",
     "label_fields": ["head", "token", "bit"], "batch_index": 0, "meta": {...},
     "bqm": <dimod serializable BQM (schema 3.0.0), variable labels [head, token, bit]>}

The ``bqm`` member is exactly what ``dimod.BinaryQuadraticModel.to_serializable()`` writes
(``dimod.BinaryQuadraticModel.from_serializable`` reads our files), but both directions are
done here with numpy: the writer streams the arrays in chunks, and the reader validates every
field (types, lengths, index ranges, finiteness) itself, so file content never reaches
dimod's native code. A plain dimod BQM JSON file (no envelope) also loads.

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
import re
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write, atomic_write_text
from ..base.jsonutil import to_jsonable
from ..base.safeload import json_depth, loads_json
from ..core.ir import QuadraticIR
from ._base import (
    CHUNK,
    CORRUPT,
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    check_unique_labels,
    check_version,
    count_couplings,
    fail,
    iter_couplings,
    labels_array,
    read_text,
    short,
    text_of,
    write_labels,
)
from .physical_file import LEGACY_FIX, PhysicalFile, open_physical, qubit_batch
from .validate import as_float, as_int, as_text, float_array, int_array

NAME = "bqm-json"
#: Peak bytes of ``json.loads`` per byte of JSON text (measured worst case, ``[{},{},...]``).
JSON_OBJECT_BYTES_PER_BYTE = 32
_SCHEMA = re.compile(r"^[23]\.[0-9]{1,4}\.[0-9]{1,4}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_META_DEPTH = 16


# --------------------------------------------------------------------------- writing
def _write_list(fh: IO[str], chunks: Any) -> None:
    fh.write("[")
    first = True
    for arr in chunks:
        if arr.size:
            fh.write(("" if first else ", ") + ", ".join(text_of(arr).tolist()))
            first = False
    fh.write("]")


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` (in its own vartype) to ``path`` atomically, in chunks."""
    v = ir.num_variables
    e = count_couplings(ir, index)
    head = {
        "format": PREFIX + NAME,
        "version": VERSION,
        "vartype": ir.vartype,
        "label_fields": list(ir.label_fields),
        "batch_index": int(index),
        "meta": to_jsonable(ir.meta),
    }
    bqm_head = {
        "type": "BinaryQuadraticModel",
        "version": {"bqm_schema": "3.0.0"},
        "use_bytes": False,
        "index_type": "int32" if v < 2**31 else "int64",
        "bias_type": "float64",
        "num_variables": v,
        "num_interactions": e,
    }
    lin = ir.linear[index]
    with atomic_write(path, "w") as fh:
        fh.write(json.dumps(head, allow_nan=False)[:-1] + ', "bqm": ' + json.dumps(bqm_head)[:-1])
        fh.write(', "variable_labels": [')
        if ir.labels.shape[1] == 1:
            write_labels(fh, ir.labels, sep=", ")
        elif v:
            fh.write("[")
            for start in range(0, v, CHUNK):  # chunks of variables
                part = text_of(ir.labels[start : start + CHUNK])
                rows = part[:, 0]
                for col in range(1, part.shape[1]):  # label fields
                    rows = np.char.add(np.char.add(rows, ", "), part[:, col])
                fh.write(("" if start == 0 else "], [") + "], [".join(rows.tolist()))
            fh.write("]")
        fh.write(f'], "variable_type": "{ir.vartype}", "offset": {float(ir.offset[index])!r}, "info": {{}}, ')
        fh.write('"linear_biases": ')
        _write_list(fh, (lin[s : s + CHUNK] for s in range(0, v, CHUNK)))
        for key, column in (("quadratic_biases", 2), ("quadratic_head", 0), ("quadratic_tail", 1)):
            fh.write(f', "{key}": ')
            _write_list(fh, (chunk[column] for chunk in iter_couplings(ir, index)))
        fh.write("}}")


# --------------------------------------------------------------------------- reading
def _plain_labels(
    path: str | os.PathLike[str], raw: list[Any]
) -> tuple[NDArray[np.int64], tuple[str, ...], NDArray[np.int64]]:
    """Labels of a plain dimod file: int triples -> (head, token, bit), ints -> index, else 0..V-1.

    Returns the labels, their fields and the canonical variable order (as ``bqm_to_ir``).
    """
    v = len(raw)
    fields: tuple[str, ...]
    try:
        arr = np.asarray(raw) if v else np.zeros((0,), dtype=np.int64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        arr = np.zeros(0, dtype=object)
    if v and arr.dtype.kind == "i" and arr.shape == (v, 3):
        labels, fields = arr.astype(np.int64), ("head", "token", "bit")
        order = np.lexsort(labels.T[::-1])
    elif v and arr.dtype.kind == "i" and arr.shape == (v,):
        labels, fields = arr.astype(np.int64).reshape(v, 1), ("index",)
        order = np.argsort(labels[:, 0], kind="stable")
    else:
        if len({json.dumps(x, sort_keys=True) for x in raw}) != v:  # foreign labels (text, lists): small files
            fail(path, "labels two variables alike", fmt=NAME, field="variable_labels")
        return np.arange(v, dtype=np.int64).reshape(v, 1), ("index",), np.arange(v, dtype=np.int64)
    check_unique_labels(path, NAME, labels, field="variable_labels")
    return labels[order], fields, order.astype(np.int64)


def _label_fields(path: str | os.PathLike[str], value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 8:
        fail(path, f"must be a list of 1 to 8 names, got {short(value)}", fmt=NAME, field="label_fields")
    if not all(isinstance(f, str) and _FIELD.match(f) for f in value) or len(set(value)) != len(value):
        fail(path, f"must be distinct identifiers, got {short(value)}", fmt=NAME, field="label_fields")
    return tuple(value)


def _bqm_arrays(
    path: str | os.PathLike[str], bqm: Any, prefix: str
) -> tuple[str, list[Any], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], float]:
    """Validated arrays of one dimod BQM serialization: vartype, labels, linear, rows, cols, data, offset."""
    if not isinstance(bqm, dict) or bqm.get("type") != "BinaryQuadraticModel":
        fail(path, "is not a dimod BinaryQuadraticModel serialization", fmt=NAME, field="bqm")
    schema = bqm.get("version")
    if (
        not isinstance(schema, dict)
        or not isinstance(schema.get("bqm_schema"), str)
        or not _SCHEMA.match(schema["bqm_schema"])
    ):
        fail(path, f"unsupported dimod schema {short(schema)}", fmt=NAME, field=prefix + "version")
    if bqm.get("use_bytes", False) is not False:
        fail(path, "use_bytes must be false (JSON cannot hold bytes)", fmt=NAME, field=prefix + "use_bytes")
    vartype = as_text(
        path, bqm.get("variable_type"), fmt=NAME, field=prefix + "variable_type", choices=("BINARY", "SPIN")
    )
    raw_labels = bqm.pop("variable_labels", None)
    if not isinstance(raw_labels, list):
        fail(path, f"must be a list, got {type(raw_labels).__name__}", fmt=NAME, field=prefix + "variable_labels")
    v = len(raw_labels)
    if "num_variables" in bqm and as_int(path, bqm["num_variables"], fmt=NAME, field=prefix + "num_variables") != v:
        fail(
            path,
            f"declares {bqm['num_variables']} variables but lists {v} labels",
            fmt=NAME,
            field=prefix + "num_variables",
        )

    def take(key: str) -> Any:
        value = bqm.pop(key, None)
        if not isinstance(value, list):
            fail(path, f"must be a list, got {type(value).__name__}", fmt=NAME, field=prefix + key)
        return value

    linear = float_array(path, take("linear_biases"), fmt=NAME, field=prefix + "linear_biases", shape=(v,))
    heads = take("quadratic_head")
    e = len(heads)
    if (
        "num_interactions" in bqm
        and as_int(path, bqm["num_interactions"], fmt=NAME, field=prefix + "num_interactions") != e
    ):
        fail(
            path,
            f"declares {bqm['num_interactions']} interactions but lists {e}",
            fmt=NAME,
            field=prefix + "num_interactions",
        )
    rows = int_array(path, heads, fmt=NAME, field=prefix + "quadratic_head", shape=(e,), lo=0, hi=v)
    del heads
    cols = int_array(path, take("quadratic_tail"), fmt=NAME, field=prefix + "quadratic_tail", shape=(e,), lo=0, hi=v)
    data = float_array(path, take("quadratic_biases"), fmt=NAME, field=prefix + "quadratic_biases", shape=(e,))
    offset = as_float(path, bqm.get("offset", 0.0), fmt=NAME, field=prefix + "offset")
    return vartype, raw_labels, linear, rows, cols, data, offset


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read a file written by :func:`write` or :func:`write_physical` (or a plain dimod BQM JSON file).

    Every field is validated; a physical file gives a :class:`PhysicalFile` when it carries the
    compiled record, else the physical IR.
    """
    size = check_size(path, max_bytes)
    check_declared(
        path, JSON_OBJECT_BYTES_PER_BYTE * size, file_size=size, fmt=NAME, field="(whole file)", what="JSON text"
    )
    obj = loads_json(read_text(path, NAME, fix=CORRUPT), path=path, fmt=NAME)
    if not isinstance(obj, dict):
        fail(path, "is JSON but not a qama-compile bqm-json object", fmt=NAME)
    plain = "format" not in obj and obj.get("type") == "BinaryQuadraticModel"
    if obj.get("format") == PREFIX + "bqm":
        fail(path, "is a physical bqm-json file of qama-compile 0.x (no embedding, no decode data)", fmt=NAME,
             fix=LEGACY_FIX.format(suffix=".json"))  # fmt: skip
    if not plain and "problems" in obj:
        check_version(path, NAME, obj.get("format"), obj.get("version"))
        return _read_physical(path, obj, size)
    if plain:
        bqm: Any = obj
        prefix = ""
    else:
        check_version(path, NAME, obj.get("format"), obj.get("version"))
        bqm = obj.get("bqm")
        prefix = "bqm."
    vartype, raw_labels, linear, rows, cols, data, offset = _bqm_arrays(path, bqm, prefix)
    if not plain and "vartype" in obj and obj["vartype"] != vartype:
        fail(path, f"{short(obj['vartype'])} differs from bqm.variable_type {vartype!r}", fmt=NAME, field="vartype")
    v = len(raw_labels)
    meta: dict[str, Any] = {}
    if plain:
        labels, fields, order = _plain_labels(path, raw_labels)
        position = np.empty(v, dtype=np.int64)
        position[order] = np.arange(v)
        linear, rows, cols = linear[order], position[rows], position[cols]
    else:
        fields = _label_fields(path, obj.get("label_fields", ["index"]))
        labels = labels_array(path, NAME, raw_labels, v, len(fields), field="bqm.variable_labels")
        check_unique_labels(path, NAME, labels, field="bqm.variable_labels")
        raw_meta = obj.get("meta")
        if isinstance(raw_meta, dict):
            if json_depth(raw_meta, limit=_META_DEPTH) > _META_DEPTH:
                fail(path, f"is nested more than {_META_DEPTH} levels deep", fmt=NAME, field="meta")
            meta = raw_meta
    del raw_labels
    return build_ir(
        path,
        NAME,
        linear=linear[None],
        rows=rows,
        cols=cols,
        data=data[None],
        offset=[offset],
        vartype=vartype,
        labels=labels,
        label_fields=fields,
        meta=meta,
    )


# --------------------------------------------------------------------------- physical files (a batch, by qubit)
def write_physical(ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None) -> None:
    """Write the SPIN batch ``ir`` (labelled by qubit): one dimod serialization per problem, and the record."""
    from ..core.convert import ir_to_bqm

    problems = [ir_to_bqm(ir, b, vartype="SPIN").to_serializable() for b in range(ir.batch_size)]
    doc = {"format": PREFIX + NAME, "version": VERSION, "kind": "physical", **head, "problems": problems,
           "compiled": record}  # fmt: skip
    atomic_write_text(path, json.dumps(to_jsonable(doc), allow_nan=False))


def _read_physical(path: str | os.PathLike[str], obj: dict[str, Any], size: int) -> QuadraticIR | PhysicalFile:
    problems = obj.get("problems")
    if not isinstance(problems, list) or not problems:
        fail(path, "must be a non-empty list of dimod BQM serializations", fmt=NAME, field="problems")
    b = len(problems)
    linear: list[NDArray[np.float64]] = []
    keys, which, values, offsets = [], [], [], []
    qubits: NDArray[np.int64] | None = None
    for i, bqm in enumerate(problems):  # one problem at a time; its arrays are vectorised
        vartype, raw, lin, rows, cols, data, offset = _bqm_arrays(path, bqm, f"problems[{i}].")
        if vartype != "SPIN":
            fail(path, "a physical problem must be SPIN", fmt=NAME, field=f"problems[{i}].variable_type")
        labels = int_array(path, raw, fmt=NAME, field=f"problems[{i}].variable_labels", lo=0, hi=2**62)
        if qubits is None:
            if labels.ndim != 1 or np.unique(labels).size != labels.size:
                fail(path, "must be distinct qubit ids", fmt=NAME, field="problems[0].variable_labels")
            qubits = labels
        elif not np.array_equal(labels, qubits):
            fail(path, "every problem must list the same qubits in the same order", fmt=NAME,
                 field=f"problems[{i}].variable_labels")  # fmt: skip
        q = qubits.size
        if rows.size and np.any(rows == cols):
            fail(path, "couples a qubit with itself", fmt=NAME, field=f"problems[{i}].quadratic_head")
        lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
        linear.append(lin)
        keys.append(lo * q + hi)
        which.append(np.full(lo.size, i, dtype=np.int64))
        values.append(data)
        offsets.append(offset)
    assert qubits is not None
    ir = qubit_batch(path, NAME, linear=np.stack(linear), keys=keys, which=which, values=values, offset=offsets,
                     qubits=qubits, size=size, what=f"{b} problems of {qubits.size} qubits",
                     extra_bytes=8 * b * qubits.size)  # fmt: skip
    return open_physical(path, ir, obj.get("compiled"), fmt=NAME)

"""``npz``: the whole batch in one numpy ``.npz`` archive, loaded without pickle.

Arrays: ``format`` (``"qama-compile/npz"``), ``version`` (1), ``kind`` (``"ir"`` or
``"attention-problem"``), ``vartype``, ``linear [B, V]``, ``offset [B]``,
``blocks_shape [G, n]``, ``blocks_triu [B, G, n(n-1)/2]`` (the strict upper triangle of each
dense block, row-major), ``rows``, ``cols [E]``, ``data [B, E]``, ``labels [V, k]``,
``label_fields [k]``, ``meta`` (JSON text). An attention problem adds ``couplings``,
``fields``, ``attention`` and ``params`` (JSON: bits, alpha, beta, penalty, normalize), and
loads back as an :class:`~qama_compile.core.problem.AttentionProblem`.

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 2, 3, 4)), bits=2)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.npz"
>>> write(problem, path)
>>> back = read(path)
>>> type(back).__name__, back.shape
('AttentionProblem', (2, 2, 3, 2))
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write
from ..base.jsonutil import to_jsonable
from ..base.safeload import loads_json, read_npz
from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ._base import (
    CORRUPT,
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    check_version,
    fail,
    loader_limit,
)
from .validate import as_float, as_int, as_text

NAME = "npz"
_IR_KEYS = (
    "vartype",
    "linear",
    "offset",
    "blocks_shape",
    "blocks_triu",
    "rows",
    "cols",
    "data",
    "labels",
    "label_fields",
    "meta",
)
_PROBLEM_KEYS = ("couplings", "fields", "attention", "params")


def arrays_for(obj: QuadraticIR | AttentionProblem) -> dict[str, NDArray[Any]]:
    """The named arrays :func:`write` stores for ``obj``."""
    ir = obj.ir if isinstance(obj, AttentionProblem) else obj
    g, n = ir.block_count, ir.block_size
    iu, ju = np.triu_indices(n, k=1)
    out: dict[str, NDArray[Any]] = {
        "format": np.array(PREFIX + NAME),
        "version": np.array(VERSION, dtype=np.int64),
        "kind": np.array("attention-problem" if isinstance(obj, AttentionProblem) else "ir"),
        "vartype": np.array(ir.vartype),
        "linear": ir.linear,
        "offset": ir.offset,
        "blocks_shape": np.array([g, n], dtype=np.int64),
        "blocks_triu": ir.blocks[:, :, iu, ju],
        "rows": ir.rows,
        "cols": ir.cols,
        "data": ir.data,
        "labels": ir.labels,
        "label_fields": np.array(list(ir.label_fields), dtype=str),
        "meta": np.array(json.dumps(to_jsonable(ir.meta))),
    }
    if isinstance(obj, AttentionProblem):
        out["couplings"] = obj.couplings
        out["fields"] = obj.fields
        out["attention"] = obj.attention
        out["params"] = np.array(
            json.dumps(
                {
                    "bits": obj.bits,
                    "alpha": obj.alpha,
                    "beta": obj.beta,
                    "penalty": obj.penalty,
                    "normalize": obj.normalize,
                }
            )
        )
    return out


def write(obj: QuadraticIR | AttentionProblem, path: str | os.PathLike[str]) -> None:
    """Write the whole batch of ``obj`` to ``path`` atomically (uncompressed ``.npz``)."""
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays_for(obj))  # type: ignore[arg-type]


#: Peak bytes of reading per unpacked byte (dense blocks are twice their stored triangle,
#: plus the IR's own validation): unpacked archives larger than loader_limit / this are refused.
NPZ_PEAK_PER_UNPACKED_BYTE = 4
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NORMALIZE = ("none", "standardise", "minmax")
_META_DEPTH = 16


def _text(path: str | os.PathLike[str], a: dict[str, NDArray[Any]], key: str, default: str | None = None) -> str:
    """A text scalar array (``np.array("...")``)."""
    if key not in a and default is not None:
        return default
    arr = a[key]
    if arr.shape != () or arr.dtype.kind != "U":
        fail(path, f"must be a text scalar, got dtype {arr.dtype} shape {arr.shape}", fmt=NAME, field=key)
    return str(arr)


def _numbers(
    path: str | os.PathLike[str], a: dict[str, NDArray[Any]], key: str, shape: tuple[int, ...], *, integer: bool = False
) -> NDArray[Any]:
    """A numeric array of exactly ``shape`` as read-only float64 (finite) or int64."""
    arr = a[key]
    if arr.dtype.kind not in ("iu" if integer else "iuf"):
        fail(path, f"has dtype {arr.dtype}, expected {'integers' if integer else 'numbers'}", fmt=NAME, field=key)
    if arr.shape != shape:
        fail(path, f"has shape {arr.shape}, expected {shape}", fmt=NAME, field=key)
    if integer:
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            fail(path, "holds integers beyond int64", fmt=NAME, field=key)
        out = np.asarray(arr, dtype=np.int64)
    else:
        out = np.asarray(arr, dtype=np.float64)
        if not np.all(np.isfinite(out)):
            fail(path, "contains NaN or infinite values", fmt=NAME, field=key)
    out.setflags(write=False)  # the IR keeps read-only arrays as they are (no copy)
    return out


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | AttentionProblem:
    """Read a file written by :func:`write`; every array is checked before it is read, nothing is unpickled."""
    size = check_size(path, max_bytes)
    arrays = read_npz(
        path,
        limit=loader_limit(size) // NPZ_PEAK_PER_UNPACKED_BYTE,
        max_bytes=max_bytes,
        fmt=NAME,
        fix=CORRUPT,
        not_zip_fix="re-export it with qama_compile.formats.save(..., format='npz')",
    )
    keys = set(arrays)
    if "format" not in keys:
        hint = " (it looks like attention tensors q, k, v: lower them first)" if {"q", "k", "v"} <= keys else ""
        fail(
            path,
            f"has no 'format' array, so it is not a qama-compile npz{hint}; arrays: {sorted(keys)[:20]}",
            fix="save problems with qama_compile.formats.save(..., format='npz')",
            fmt=NAME,
        )
    check_version(path, NAME, _text(path, arrays, "format"), arrays.get("version"))
    kind = _text(path, arrays, "kind", "ir")
    if kind not in ("ir", "attention-problem"):
        fail(
            path,
            f"unknown kind {kind[:40]!r}",
            fix="upgrade qama-compile or re-export the file",
            fmt=NAME,
            field="kind",
        )
    missing = [k for k in _IR_KEYS + (_PROBLEM_KEYS if kind == "attention-problem" else ()) if k not in arrays]
    if missing:
        fail(path, f"is missing arrays {missing}", fmt=NAME)
    ir = _read_ir(path, arrays, size)
    if kind == "ir":
        return ir
    return _read_problem(path, arrays, ir)


def _read_ir(path: str | os.PathLike[str], a: dict[str, NDArray[Any]], size: int) -> QuadraticIR:
    vartype = as_text(path, _text(path, a, "vartype"), fmt=NAME, field="vartype", choices=("BINARY", "SPIN"))
    if a["linear"].ndim != 2:
        fail(path, f"must be [B, V], got shape {a['linear'].shape}", fmt=NAME, field="linear")
    b, v = a["linear"].shape
    linear = _numbers(path, a, "linear", (b, v))
    offset = _numbers(path, a, "offset", (b,))
    g, n = (int(x) for x in _numbers(path, a, "blocks_shape", (2,), integer=True))
    if not ((g, n) == (0, 0) or (g >= 1 and n >= 1 and g * n <= v)):
        fail(path, f"(G, n) = ({g}, {n}) does not fit {v} variables", fmt=NAME, field="blocks_shape")
    tri = _numbers(path, a, "blocks_triu", (b, g, n * (n - 1) // 2))
    if a["rows"].ndim != 1:
        fail(path, f"must be 1-D, got shape {a['rows'].shape}", fmt=NAME, field="rows")
    e = a["rows"].shape[0]
    rows = _numbers(path, a, "rows", (e,), integer=True)
    cols = _numbers(path, a, "cols", (e,), integer=True)
    if e and (int(rows.min()) < 0 or int(cols.max()) >= v or bool(np.any(rows >= cols))):
        fail(path, f"sparse couplings must satisfy 0 <= row < col < {v}", fmt=NAME, field="rows")
    data = _numbers(path, a, "data", (b, e))
    names = a["label_fields"]
    if names.dtype.kind != "U" or names.ndim != 1 or not 1 <= names.size <= 8:
        fail(path, f"must be 1 to 8 names, got dtype {names.dtype} shape {names.shape}", fmt=NAME, field="label_fields")
    fields = tuple(str(x) for x in names.tolist())
    if not all(_FIELD.match(f) for f in fields) or len(set(fields)) != len(fields):
        fail(path, f"must be distinct identifiers, got {list(fields)[:8]}", fmt=NAME, field="label_fields")
    labels = _numbers(path, a, "labels", (v, len(fields)), integer=True)
    meta = loads_json(_text(path, a, "meta"), path=path, fmt=NAME, field="meta", max_depth=_META_DEPTH)
    # the dense blocks (twice their stored triangle) and the triangle mask, before allocating them
    check_declared(
        path, 8 * b * g * n * n + n * n, file_size=size, fmt=NAME, field="blocks_shape", what=f"{g} blocks of {n}x{n}"
    )
    blocks = np.zeros((b, g, n, n))
    if g and n > 1:
        blocks[:, :, np.triu(np.ones((n, n), dtype=bool), k=1)] = tri
    blocks.setflags(write=False)
    return build_ir(
        path,
        NAME,
        vartype=vartype,
        linear=linear,
        offset=offset,
        blocks=blocks,
        rows=rows,
        cols=cols,
        data=data,
        labels=labels,
        label_fields=fields,
        meta=meta if isinstance(meta, dict) else {},
    )


def _read_problem(path: str | os.PathLike[str], a: dict[str, NDArray[Any]], ir: QuadraticIR) -> AttentionProblem:
    params = loads_json(_text(path, a, "params"), path=path, fmt=NAME, field="params", max_depth=4)
    if not isinstance(params, dict):
        fail(path, "must be a JSON object", fmt=NAME, field="params")
    missing = [k for k in ("bits", "alpha", "beta", "penalty", "normalize") if k not in params]
    if missing:
        fail(path, f"lacks {missing}", fmt=NAME, field="params")
    bits = as_int(path, params["bits"], fmt=NAME, field="params.bits", lo=1, hi=8)
    weights = {k: as_float(path, params[k], fmt=NAME, field=f"params.{k}") for k in ("alpha", "beta", "penalty")}
    normalize = as_text(path, params["normalize"], fmt=NAME, field="params.normalize", choices=_NORMALIZE)
    if a["fields"].ndim != 3:
        fail(path, f"must be [B, H, N], got shape {a['fields'].shape}", fmt=NAME, field="fields")
    b, h, n = a["fields"].shape
    if b != ir.batch_size or h * n * bits != ir.num_variables:
        fail(
            path,
            f"[B, H, N] = {(b, h, n)} with bits={bits} does not match the IR ({ir.batch_size} problems of "
            f"{ir.num_variables} variables)",
            fmt=NAME,
            field="fields",
        )
    return AttentionProblem(
        ir=ir,
        couplings=_numbers(path, a, "couplings", (b, h, n, n)),
        fields=_numbers(path, a, "fields", (b, h, n)),
        attention=_numbers(path, a, "attention", (b, h, n, n)),
        bits=bits,
        normalize=normalize,
        **weights,
    )

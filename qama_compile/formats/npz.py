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
>>> back = read(path, max_bytes=1 << 20)
>>> type(back).__name__, back.shape
('AttentionProblem', (2, 2, 3, 2))
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write
from ..base.jsonutil import to_jsonable
from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ._base import PREFIX, VERSION, build_ir, check_version, fail

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


def _scalar_text(path: str | os.PathLike[str], arr: NDArray[Any], key: str) -> str:
    if arr.shape != () or arr.dtype.kind != "U":
        fail(
            path,
            f"array {key!r} must be a text scalar, got dtype {arr.dtype} shape {arr.shape}",
            fix="the file is corrupt; re-export it",
            fmt=NAME,
        )
    return str(arr)


def read(path: str | os.PathLike[str], *, max_bytes: int) -> QuadraticIR | AttentionProblem:
    """Read a file written by :func:`write`; never unpickles (object arrays are refused)."""
    fix = "the file is corrupt or truncated; re-export it"
    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):  # neither zip nor .npy (e.g. a .pkl renamed .npz): numpy would unpickle it
            fail(
                path,
                "is not an .npz (zip) archive; numpy could only read it by unpickling, which is never done (unsafe)",
                fix="re-export it with qama_compile.formats.save(..., format='npz')",
                fmt=NAME,
            )
        fail(path, f"is not a readable .npz archive ({type(exc).__name__}: {exc})", fix=fix, fmt=NAME)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        fail(path, f"is not a readable .npz archive ({type(exc).__name__}: {exc})", fix=fix, fmt=NAME)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        fail(path, "holds a single .npy array, not a qama-compile .npz archive", fix=fix, fmt=NAME)
    with npz:
        infos = npz.zip.infolist() if npz.zip is not None else []
        unpacked = sum(int(info.file_size) for info in infos)
        if unpacked > max_bytes:
            fail(
                path,
                f"unpacks to {unpacked} bytes, over the limit of {max_bytes} bytes",
                fix="pass a larger max_bytes= to load() if you trust this file",
                fmt=NAME,
            )
        keys = set(npz.files)
        if "format" not in keys:
            hint = " (it looks like attention tensors q, k, v: lower them first)" if {"q", "k", "v"} <= keys else ""
            fail(
                path,
                f"has no 'format' array, so it is not a qama-compile npz{hint}; arrays: {sorted(keys)}",
                fix="save problems with qama_compile.formats.save(..., format='npz')",
                fmt=NAME,
            )
        arrays: dict[str, NDArray[Any]] = {}
        try:
            for key in keys:  # a handful of named arrays
                arrays[key] = npz[key]
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                fail(
                    path,
                    "contains pickled object arrays, which are never loaded (unsafe)",
                    fix="re-export the file with qama-compile; it writes no object arrays",
                    fmt=NAME,
                )
            fail(path, f"has a corrupt array ({exc})", fix=fix, fmt=NAME)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            fail(path, f"has a corrupt or truncated array ({type(exc).__name__}: {exc})", fix=fix, fmt=NAME)
    check_version(path, NAME, _scalar_text(path, arrays["format"], "format"), arrays.get("version"))
    kind = _scalar_text(path, arrays.get("kind", np.array("ir")), "kind")
    missing = [k for k in _IR_KEYS + (_PROBLEM_KEYS if kind == "attention-problem" else ()) if k not in arrays]
    if missing:
        fail(path, f"is missing arrays {missing}", fix=fix, fmt=NAME)
    for key, value in arrays.items():
        if value.dtype.kind not in "biufU":
            fail(path, f"array {key!r} has unsupported dtype {value.dtype}", fix=fix, fmt=NAME)
    ir = _read_ir(path, arrays)
    if kind == "ir":
        return ir
    if kind != "attention-problem":
        fail(path, f"unknown kind {kind!r}", fix="upgrade qama-compile or re-export the file", fmt=NAME)
    try:
        params = json.loads(_scalar_text(path, arrays["params"], "params"))
        problem = AttentionProblem(
            ir=ir,
            couplings=np.asarray(arrays["couplings"], dtype=np.float64),
            fields=np.asarray(arrays["fields"], dtype=np.float64),
            attention=np.asarray(arrays["attention"], dtype=np.float64),
            bits=int(params["bits"]),
            alpha=float(params["alpha"]),
            beta=float(params["beta"]),
            penalty=float(params["penalty"]),
            normalize=str(params["normalize"]),
        )
        b, h, n, q = problem.shape
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        fail(path, f"has malformed attention-problem parameters ({exc})", fix=fix, fmt=NAME)
    if (
        problem.couplings.shape != (b, h, n, n)
        or problem.attention.shape != (b, h, n, n)
        or ir.batch_size != b
        or ir.num_variables != h * n * q
    ):
        fail(
            path,
            f"attention arrays (couplings {problem.couplings.shape}, fields {problem.fields.shape}) "
            f"do not match the IR ({ir.batch_size} problems of {ir.num_variables} variables)",
            fix=fix,
            fmt=NAME,
        )
    return problem


def _read_ir(path: str | os.PathLike[str], a: dict[str, NDArray[Any]]) -> QuadraticIR:
    fix = "the file is corrupt; re-export it"
    try:
        g, n = (int(x) for x in a["blocks_shape"].reshape(-1))
        b = int(a["linear"].shape[0])
        tri = np.asarray(a["blocks_triu"], dtype=np.float64)
        if tri.shape != (b, g, n * (n - 1) // 2) or g < 0 or n < 0:
            raise InvalidInputError(f"blocks_triu has shape {tri.shape}, expected {(b, g, n * (n - 1) // 2)}")
        blocks = np.zeros((b, g, n, n))
        iu, ju = np.triu_indices(n, k=1)
        blocks[:, :, iu, ju] = tri
        meta = json.loads(_scalar_text(path, a["meta"], "meta"))
        fields = tuple(str(x) for x in np.atleast_1d(a["label_fields"]).tolist())
    except (InvalidInputError, ValueError, TypeError, json.JSONDecodeError) as exc:
        fail(path, f"inconsistent npz content ({exc})", fix=fix, fmt=NAME)
    return build_ir(
        path,
        NAME,
        vartype=_scalar_text(path, a["vartype"], "vartype"),
        linear=a["linear"],
        offset=a["offset"],
        blocks=blocks,
        rows=a["rows"],
        cols=a["cols"],
        data=a["data"],
        labels=a["labels"],
        label_fields=fields,
        meta=meta if isinstance(meta, dict) else {},
    )

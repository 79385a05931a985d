"""Validation helpers for every file reader: typed fields, checked arrays, declared sizes.

Readers call these on untrusted content *before* they allocate anything sized by it, so a
malformed file of any kind ends in a :class:`~qama_compile.errors.FileFormatError` that
names the file, the field and the fix, never in a crash, a hang or a huge allocation.

The memory rule for loaders (:func:`loader_limit`): a reader may allocate at most
:data:`~qama_compile.base.memory.LOAD_EXPANSION` times the file's size (plus
:data:`~qama_compile.base.memory.LOAD_FLOOR`), and never more than the memory budget.
Declared sizes that would need more are refused up front with :func:`check_declared`.

>>> from qama_compile.errors import FileFormatError
>>> as_int("p.coo", "12", fmt="coo", field="variables")
12
>>> try:
...     as_int("p.coo", "1e400", fmt="coo", field="variables")
... except FileFormatError as exc:
...     print(str(exc).split(";")[0])
p.coo: variables: '1e400' is not an integer
>>> int_array("p.json", [0, 2], fmt="bqm-json", field="bqm.quadratic_head", lo=0, hi=3).tolist()
[0, 2]
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..base.memory import LOAD_EXPANSION, LOAD_FLOOR, memory_limit
from ..base.safeload import file_error

__all__ = [
    "CORRUPT",
    "as_float",
    "as_int",
    "as_text",
    "check_declared",
    "fail",
    "float_array",
    "int_array",
    "loader_limit",
]

#: The fix for content that is damaged (the usual case).
CORRUPT = "the file is corrupt or truncated; re-export it"
_INT64_MAX = int(np.iinfo(np.int64).max)
_INT_TEXT = re.compile(r"^[+-]?[0-9]{1,19}$")


def fail(
    path: str | os.PathLike[str],
    message: str,
    *,
    fix: str = CORRUPT,
    fmt: str | None = None,
    field: str | None = None,
    **fields: Any,
) -> NoReturn:
    """Raise :class:`FileFormatError` naming ``path`` (and ``field``)."""
    raise file_error(path, message, fix=fix, fmt=fmt, field=field, **fields)


def loader_limit(file_size: int) -> int:
    """Bytes a reader may allocate for a file of ``file_size`` bytes.

    >>> from qama_compile.base.memory import LOAD_EXPANSION, LOAD_FLOOR
    >>> loader_limit(1000) == min(LOAD_FLOOR + LOAD_EXPANSION * 1000, memory_limit())
    True
    """
    return min(LOAD_FLOOR + LOAD_EXPANSION * max(int(file_size), 0), memory_limit())


def check_declared(path: str | os.PathLike[str], need: int, *, file_size: int, fmt: str, field: str, what: str) -> None:
    """Refuse when ``need`` bytes (derived from declared sizes) exceed :func:`loader_limit`."""
    limit = loader_limit(file_size)
    if need > limit:
        over_budget = limit == memory_limit()
        fail(
            path,
            f"declares {what}, which needs about {need:,} bytes to load; a {file_size:,}-byte file may use at most "
            f"{limit:,} bytes" + (" (the memory budget)" if over_budget else ""),
            fix="use a machine with more memory (or QAMA_MEMORY_LIMIT)"
            if over_budget
            else "the declared size is not backed by the file's content; the file is corrupt, re-export it",
            fmt=fmt,
            field=field,
            size=need,
            limit=limit,
        )


def as_int(
    path: str | os.PathLike[str], value: Any, *, fmt: str, field: str, lo: int = 0, hi: int | None = None
) -> int:
    """An integer field in ``lo..hi``: a JSON int, a decimal string or a numpy integer scalar."""
    out: int | None = None
    if (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu"
    ):
        out = int(value)
    elif isinstance(value, str) and _INT_TEXT.match(value.strip()):
        out = int(value.strip())
    if out is None:
        shown = repr(value) if isinstance(value, (str, int, float)) else type(value).__name__
        fail(path, f"{shown[:60]} is not an integer", fmt=fmt, field=field)
    top = _INT64_MAX if hi is None else hi
    if not lo <= out <= top:
        shown = str(out) if abs(out) < 10**30 else f"an integer of {len(str(abs(out)))} digits"
        fail(path, f"{shown} is out of range {lo}..{top}", fmt=fmt, field=field)
    return out


def as_float(path: str | os.PathLike[str], value: Any, *, fmt: str, field: str) -> float:
    """A finite real-number field (JSON number, decimal string, numpy scalar)."""
    if isinstance(value, (bool, np.bool_)):
        fail(path, f"{value!r} is not a number", fmt=fmt, field=field)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        value = value.item()
    try:
        if isinstance(value, str):
            if len(value) > 64:
                raise ValueError
            out = float(value.strip())
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out = float(value)
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if isinstance(value, (str, int, float)) else type(value).__name__
        fail(path, f"{shown[:60]} is not a finite number", fmt=fmt, field=field)
    if not math.isfinite(out):
        fail(path, f"{out} is not a finite number", fmt=fmt, field=field)
    return out


def as_text(
    path: str | os.PathLike[str],
    value: Any,
    *,
    fmt: str,
    field: str,
    choices: tuple[str, ...] | None = None,
    max_length: int = 256,
) -> str:
    """A short text field (optionally one of ``choices``)."""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "U":
        value = str(value)
    if not isinstance(value, str) or len(value) > max_length:
        fail(
            path, f"expected text of at most {max_length} characters, got {type(value).__name__}", fmt=fmt, field=field
        )
    if choices is not None and value not in choices:
        fail(path, f"{value[:60]!r} is not one of {', '.join(choices)}", fmt=fmt, field=field)
    return value


def _as_array(path: str | os.PathLike[str], values: Any, fmt: str, field: str) -> NDArray[Any]:
    if isinstance(values, np.ndarray):
        return values
    if not isinstance(values, list):
        fail(path, f"expected a list of numbers, got {type(values).__name__}", fmt=fmt, field=field)
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # ragged or odd content
        fail(path, f"is not a flat list of numbers ({type(exc).__name__})", fmt=fmt, field=field)


def int_array(
    path: str | os.PathLike[str],
    values: Any,
    *,
    fmt: str,
    field: str,
    shape: tuple[int, ...] | None = None,
    lo: int | None = None,
    hi: int | None = None,
) -> NDArray[np.int64]:
    """``values`` as int64 of the given ``shape`` with every entry in ``lo..hi-1``.

    Integral floats (``3.0``) are accepted; fractions, booleans, text, huge integers and
    ragged lists are refused.
    """
    arr = _as_array(path, values, fmt, field)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(np.abs(arr) > 2.0**62):
            fail(path, "holds values that are not integers", fmt=fmt, field=field)
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "u":
        if arr.size and int(arr.max()) > _INT64_MAX:
            fail(path, "holds integers too large for int64", fmt=fmt, field=field)
        arr = arr.astype(np.int64)
    elif arr.dtype.kind != "i":
        what = {"b": "booleans", "U": "text", "O": "mixed values or integers beyond int64"}.get(arr.dtype.kind, "")
        fail(path, f"holds {what or arr.dtype} where integers are expected", fmt=fmt, field=field)
    out = np.asarray(arr, dtype=np.int64)
    if shape is not None and out.shape != shape:
        fail(path, f"has shape {out.shape}, expected {shape}", fmt=fmt, field=field)
    if out.size and lo is not None and int(out.min()) < lo:
        fail(path, f"holds {int(out.min())}, below the smallest allowed value {lo}", fmt=fmt, field=field)
    if out.size and hi is not None and int(out.max()) >= hi:
        fail(path, f"holds {int(out.max())}, out of range (must be below {hi})", fmt=fmt, field=field)
    return out


def float_array(
    path: str | os.PathLike[str],
    values: Any,
    *,
    fmt: str,
    field: str,
    shape: tuple[int, ...] | None = None,
) -> NDArray[np.float64]:
    """``values`` as finite float64 of the given ``shape`` (integers accepted; text, booleans refused)."""
    arr = _as_array(path, values, fmt, field)
    if arr.size and arr.dtype.kind not in "iuf":
        what = {"b": "booleans", "U": "text", "O": "mixed values or numbers beyond float64"}.get(arr.dtype.kind, "")
        fail(path, f"holds {what or arr.dtype} where numbers are expected", fmt=fmt, field=field)
    with np.errstate(over="ignore"):
        out = np.asarray(arr, dtype=np.float64)
    if shape is not None and out.shape != shape:
        fail(path, f"has shape {out.shape}, expected {shape} (truncated or padded?)", fmt=fmt, field=field)
    if not np.all(np.isfinite(out)):
        fail(path, "contains NaN or infinite values", fmt=fmt, field=field)
    return out

"""Plain-text tables and JSON helpers shared by every ``qama`` command.

>>> print(format_table([{"name": "exact", "energy": -1.25}, {"name": "sa", "energy": -1.0}]))
name   energy
-----  ------
exact   -1.25
sa         -1
>>> dumps_json({"shape": (2, 3), "x": 0.5})
'{\\n  "shape": [\\n    2,\\n    3\\n  ],\\n  "x": 0.5\\n}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dumps_json", "format_kv", "format_table", "format_value", "to_jsonable"]


def format_value(value: Any, *, digits: int = 6) -> str:
    """One cell: integers with no decimals, floats with ``digits`` significant digits.

    >>> format_value(3.0), format_value(0.000123456789), format_value(12345678), format_value(None)
    ('3', '0.000123457', '12345678', '')
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x) or math.isinf(x):
            return str(x)
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v, digits=digits) for v in value)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None, digits: int = 6) -> str:
    """An aligned text table of ``rows`` (one dict per row).

    ``columns`` picks and orders the columns; by default every key, in first-seen order.
    Numbers are right-aligned, text left-aligned; missing cells are blank.

    >>> print(format_table([{"a": 1, "b": "x"}, {"a": 10}], columns=["b", "a"]))
    b   a
    -  --
    x   1
       10
    """
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            for key in row:
                seen.setdefault(str(key), None)
        columns = list(seen)
    cols = list(columns)
    if not cols:
        return ""
    cells = [[format_value(row.get(c), digits=digits) for c in cols] for row in rows]
    numeric = [
        all(isinstance(row.get(c), (int, float, np.integer, np.floating)) or row.get(c) is None for row in rows)
        and any(row.get(c) is not None for row in rows)
        for c in cols
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [line(cols), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def format_kv(data: Mapping[str, Any], *, notes: Mapping[str, str] | None = None, digits: int = 6) -> str:
    """A two- or three-column ``quantity / value [/ note]`` table of one dict.

    >>> print(format_kv({"variables": 32, "density": 0.25}, notes={"variables": "H*N*q"}))
    quantity   value  note
    ---------  -----  -----
    variables     32  H*N*q
    density     0.25
    """
    notes = notes or {}
    rows = [{"quantity": k, "value": v, "note": notes.get(k)} for k, v in data.items()]
    columns = ["quantity", "value", "note"] if any(notes.get(k) for k in data) else ["quantity", "value"]
    return format_table(rows, columns=columns, digits=digits)


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples, sets and paths turned into JSON types.

    Non-finite floats become strings (``"nan"``, ``"inf"``) so the output is strict JSON.

    >>> to_jsonable({"a": np.int64(3), "b": np.array([1.5, np.inf]), "c": Path("x")})
    {'a': 3, 'b': [1.5, 'inf'], 'c': 'x'}
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`to_jsonable`), keys in insertion order."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)

"""Plain-text tables shared by every ``qama`` command and the tools.

>>> print(format_table([{"name": "exact", "energy": -1.25}, {"name": "sa", "energy": -1.0}]))
name   energy
-----  ------
exact   -1.25
sa         -1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["format_kv", "format_table", "format_value"]


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

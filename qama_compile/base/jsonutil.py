"""JSON helpers: numpy scalars and arrays, tuples, paths and non-finite floats made JSON-ready.

>>> dumps_json({"shape": (2, 3), "x": 0.5}, indent=None)
'{"shape": [2, 3], "x": 0.5}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dumps_json", "to_jsonable"]


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

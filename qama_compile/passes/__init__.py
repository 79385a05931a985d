"""Compiler passes over :class:`~qama_compile.ir.QuadraticIR` and the pass manager.

See :mod:`qama_compile.passes.base` for the interface and ``docs/passes.md`` for the passes.
:func:`get_pass` builds a pass by name (for pipelines written as text).

>>> available_passes()[:3]
['analysis', 'decompose', 'embed']
>>> get_pass("quantize", rounding="stochastic").name
'quantize'
"""

from __future__ import annotations

import importlib
from typing import Any

from ..core.decode import DecodeStep, FixVariables, VartypeChange, decode_samples, decode_samples_with_info
from ..errors import UnknownNameError
from .base import Pass, PassContext, PassManager, PassRecord

#: pass name -> "module:Class" (modules import lazily)
_PASSES: dict[str, str] = {
    "analysis": "analysis:AnalysisPass",
    "decompose": "decompose:DecomposePass",
    "embed": "embed:EmbedPass",
    "quantize": "quantize:QuantizePass",
    "reduce": "reduce:ReducePass",
}


def available_passes() -> list[str]:
    """Names accepted by :func:`get_pass`."""
    return sorted(_PASSES)


def get_pass(name: str, **options: Any) -> Pass:
    """Instantiate the pass ``name`` with keyword ``options``."""
    if name not in _PASSES:
        raise UnknownNameError(
            f"unknown pass {name!r}; known passes: {', '.join(available_passes())}",
            fix="pick one of the known passes",
            name=name,
            known=available_passes(),
        )
    module, _, cls = _PASSES[name].partition(":")
    pass_cls = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    instance: Pass = pass_cls(**options)
    return instance


__all__ = [
    "DecodeStep",
    "FixVariables",
    "Pass",
    "PassContext",
    "PassManager",
    "PassRecord",
    "VartypeChange",
    "available_passes",
    "decode_samples",
    "decode_samples_with_info",
    "get_pass",
]

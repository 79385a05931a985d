"""Layer 2, *passes*: compiler passes over :class:`~qama_compile.ir.QuadraticIR` and the pass manager.

Passes depend only on the core; they reach a hardware target through the
:class:`~qama_compile.passes.base.TargetLike` protocol. See :mod:`qama_compile.passes.base`
for the interface, :mod:`qama_compile.passes.reports` for the typed reports,
:mod:`qama_compile.passes.options` for :class:`CompileOptions`, and ``docs/passes.md`` for
the passes. :func:`get_pass` builds a pass by name (for pipelines written as text).

>>> available_passes()[:3]
['analysis', 'decompose', 'embed']
>>> get_pass("quantize", rounding="stochastic").name
'quantize'
"""

from __future__ import annotations

from typing import Any

from ..core.decode import DecodeStep, FixVariables, VartypeChange, decode_samples, decode_samples_with_info
from ..errors import UnknownNameError
from .analysis import AnalysisPass
from .base import Pass, PassContext, PassManager, PassRecord, TargetLike
from .decompose import DecomposePass
from .embed import EmbedPass
from .options import CompileOptions
from .quantize import QuantizePass
from .reduce import ReducePass
from .reports import (
    AnalysisReport,
    DecomposePlan,
    DynamicRange,
    EmbeddingReport,
    Fit,
    PassReport,
    QuantizationReport,
    ReductionReport,
)

_PASSES: dict[str, type[Pass]] = {
    "analysis": AnalysisPass,
    "decompose": DecomposePass,
    "embed": EmbedPass,
    "quantize": QuantizePass,
    "reduce": ReducePass,
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
    return _PASSES[name](**options)


__all__ = [
    "AnalysisPass",
    "AnalysisReport",
    "CompileOptions",
    "DecodeStep",
    "DecomposePass",
    "DecomposePlan",
    "DynamicRange",
    "EmbedPass",
    "EmbeddingReport",
    "Fit",
    "FixVariables",
    "Pass",
    "PassContext",
    "PassManager",
    "PassRecord",
    "PassReport",
    "QuantizationReport",
    "QuantizePass",
    "ReducePass",
    "ReductionReport",
    "TargetLike",
    "VartypeChange",
    "available_passes",
    "decode_samples",
    "decode_samples_with_info",
    "get_pass",
]

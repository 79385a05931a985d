"""``compile``: a logical problem -> the physical problem on a target, with its decoder.

* :mod:`~qama_compile.compiler.driver` - :func:`compile`, :func:`plan_decomposition`,
  :func:`default_pipeline`;
* :mod:`~qama_compile.compiler.compiled` - :class:`CompiledProblem`;
* :mod:`~qama_compile.compiler.precision` - :func:`choose_bits` (the widest selection a
  target's coupler DAC holds) and :func:`with_bits`.

>>> from qama_compile.compiler import compile, CompiledProblem
>>> compile.__module__
'qama_compile.compiler.driver'
"""

from __future__ import annotations

from ..passes.options import CompileOptions
from .compiled import CompiledProblem
from .driver import compile, default_pipeline, plan_decomposition
from .precision import choose_bits, with_bits

__all__ = [
    "CompileOptions",
    "CompiledProblem",
    "choose_bits",
    "compile",
    "default_pipeline",
    "plan_decomposition",
    "with_bits",
]

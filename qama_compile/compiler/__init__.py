"""``compile``: a logical problem -> the physical problem on a target, with its decoder.

>>> from qama_compile.compiler import compile, CompiledProblem
>>> compile.__module__
'qama_compile.compiler.driver'
"""

from __future__ import annotations

from .driver import CompiledProblem, compile, default_pipeline

__all__ = ["CompiledProblem", "compile", "default_pipeline"]

"""Public path of the canonical IR: :class:`QuadraticIR` lives in :mod:`qama_compile.core.ir`.

>>> from qama_compile.ir import QuadraticIR
>>> QuadraticIR.__module__
'qama_compile.core.ir'
"""

from __future__ import annotations

from .core.ir import FloatArray, IntArray, QuadraticIR, Vartype

__all__ = ["FloatArray", "IntArray", "QuadraticIR", "Vartype"]

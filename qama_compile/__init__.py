"""qama-compile: compile quantum-annealing multi-head attention (QAMA) to hardware and solve it.

>>> import numpy as np, qama_compile
>>> rng = np.random.default_rng(0)
>>> problem = qama_compile.lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=2)
>>> result = qama_compile.solve(problem, backend="exact", seed=0)
>>> result.weights.shape
(1, 2, 3)
"""

from __future__ import annotations

from .errors import (
    BackendError,
    CompilationError,
    FileFormatError,
    InvalidInputError,
    MissingDependencyError,
    ProblemTooLargeError,
    QamaError,
    UnknownNameError,
)
from .ir import QuadraticIR
from .lowering import lower_attention
from .problem import AttentionProblem
from .registry import available_backends, get_backend
from .solve import SolveResult, solve

__version__ = "0.1.0"

__all__ = [
    "AttentionProblem",
    "BackendError",
    "CompilationError",
    "FileFormatError",
    "InvalidInputError",
    "MissingDependencyError",
    "ProblemTooLargeError",
    "QamaError",
    "QuadraticIR",
    "SolveResult",
    "UnknownNameError",
    "__version__",
    "available_backends",
    "get_backend",
    "lower_attention",
    "solve",
]

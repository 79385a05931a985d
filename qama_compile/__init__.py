"""qama-compile: compile quantum-annealing multi-head attention (QAMA) to hardware and solve it.

>>> import numpy as np, qama_compile
>>> rng = np.random.default_rng(0)
>>> problem = qama_compile.lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=2)
>>> result = qama_compile.solve(problem, backend="exact", seed=0)
>>> result.weights.shape
(1, 2, 3)
"""

from __future__ import annotations

from . import _compat
from ._version import __version__
from .compiler import CompiledProblem, CompileOptions, compile, plan_decomposition
from .core.ir import QuadraticIR
from .core.lowering import lower_attention
from .core.problem import AttentionProblem
from .errors import (
    BackendError,
    CompilationError,
    FileFormatError,
    InvalidInputError,
    MissingDependencyError,
    PrecisionLossError,
    ProblemTooLargeError,
    QamaError,
    TracingError,
    UnknownNameError,
)
from .runtime.many import ManyResult, solve_many
from .runtime.registry import available_backends, get_backend
from .runtime.sampling import BatchSampler, sample_batch
from .runtime.solve import SolveInfo, SolveResult, solve
from .targets import Target, available_targets, get_target

_compat.install()

__all__ = [
    "AttentionProblem",
    "BackendError",
    "BatchSampler",
    "CompilationError",
    "CompileOptions",
    "CompiledProblem",
    "FileFormatError",
    "InvalidInputError",
    "ManyResult",
    "MissingDependencyError",
    "PrecisionLossError",
    "ProblemTooLargeError",
    "QamaError",
    "QuadraticIR",
    "SolveInfo",
    "SolveResult",
    "Target",
    "TracingError",
    "UnknownNameError",
    "__version__",
    "available_backends",
    "available_targets",
    "compile",
    "get_backend",
    "get_target",
    "lower_attention",
    "plan_decomposition",
    "sample_batch",
    "solve",
    "solve_many",
]

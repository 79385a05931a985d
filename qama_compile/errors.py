"""The exception hierarchy: one root, subclasses that carry fields and say what to do.

Every error the toolkit raises on purpose is a :class:`QamaError`. Each subclass keeps the
facts of the failure as attributes (so programs can react) and its message names the
problem and the fix (so people can).

>>> try:
...     raise InvalidInputError("tensor 'q' contains NaN", tensor="q", fix="clean the input")
... except QamaError as exc:
...     print(exc.tensor, "|", exc)
q | tensor 'q' contains NaN; fix: clean the input
"""

from __future__ import annotations

from typing import Any


class QamaError(Exception):
    """Root of every error raised by qama-compile on purpose.

    Keyword arguments become attributes; ``fix`` (if given) is appended to the message.
    ``message`` and ``fix`` are also kept apart, for tables that show them in their own
    columns.
    """

    def __init__(self, message: str, *, fix: str | None = None, **fields: Any) -> None:
        self.message = message
        self.fix = fix
        self.fields = dict(fields)
        for key, value in fields.items():
            setattr(self, key, value)
        super().__init__(f"{message}; fix: {fix}" if fix else message)


class InvalidInputError(QamaError, ValueError):
    """An input tensor, option or argument is malformed (NaN, wrong shape, out of range)."""


class ProblemTooLargeError(QamaError):
    """A problem exceeds a limit (memory, backend variables, target qubits).

    Fields: ``size`` (what was asked), ``limit`` (what is allowed), ``unit``.
    """


class FileFormatError(QamaError):
    """A file is corrupt, truncated, of an unknown format, or of an unsupported version.

    Fields: ``path`` and, where known, ``format`` and ``version``.
    """


class MissingDependencyError(QamaError, ImportError):
    """An optional dependency is not installed. Field ``package``; the fix is a pip command."""


class UnknownNameError(QamaError, KeyError):
    """An unknown backend, target, format or pass name. Fields ``name`` and ``known``."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class BackendError(QamaError):
    """A backend failed, is unavailable (no credentials), or returned inconsistent samples."""


class CompilationError(QamaError):
    """A compiler pass failed or produced an invalid result (e.g. no embedding found)."""


class TracingError(QamaError, RuntimeError):
    """An operation cannot be captured by a graph tracer (``torch.jit.trace``).

    The QAMA operator calls a solver on the data of every forward; a traced graph would
    freeze the first call's solution into a constant. Field ``tracer``.
    """


class PrecisionLossError(CompilationError):
    """Quantizing to a target's coupler DAC would lose the problem: more couplers round to zero
    than ``max_zeroed_fraction`` allows, or the quantized ground state is not an original one.

    Fields: ``target``, ``bits`` (the DAC width), ``bits_needed``, ``zeroed_fraction``,
    ``max_zeroed_fraction``, ``ground_state_preserved`` (per problem, empty when not checked).
    Compile with ``allow_precision_loss=True`` to accept the loss.
    """

"""The QAMA operator in PyTorch (install the ``torch`` extra).

See :mod:`qama_compile.nn.layer` and docs/operator.md.
"""

from __future__ import annotations

from .layer import QAMultiheadAttention, solve_ir_batch

__all__ = ["QAMultiheadAttention", "solve_ir_batch"]

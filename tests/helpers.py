"""Small builders and checks shared by several test modules."""

from __future__ import annotations

import numpy as np

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR


def qama(seed: int, *, batch: int = 1, heads: int = 2, tokens: int = 4, bits: int = 2) -> QuadraticIR:
    """The IR of ``batch`` QAMA problems lowered from seeded ``N(0, 1)`` tensors (d = 4)."""
    rng = np.random.default_rng(seed)
    return lower_attention(*rng.normal(size=(3, batch, heads, tokens, 4)), bits=bits).ir


def check_plan(ir: QuadraticIR, blocks: tuple[np.ndarray, ...], limit: int) -> None:
    """``blocks`` partition the variables of ``ir`` and none is over ``limit``."""
    covered = np.sort(np.concatenate(blocks))
    assert np.array_equal(covered, np.arange(ir.num_variables))  # a partition
    assert max(b.size for b in blocks) <= limit

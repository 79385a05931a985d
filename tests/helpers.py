"""Small builders and checks shared by several test modules."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

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


#: Byte-level corruptions of a file: ``(kind, where in [0, 1], payload)`` (see :func:`mutate`).
mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1), st.binary(max_size=0)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=6)),
)


def mutate(data: bytes, mutation: tuple[str, float, bytes]) -> bytes:
    """``data`` truncated, overwritten or grown at the relative position of ``mutation``."""
    kind, where, payload = mutation
    at = int(where * (len(data) - 1))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + payload + data[at + len(payload) :]
    return data[:at] + payload + data[at:]


def peak_bytes(call: Callable[[], object]) -> int:
    """The peak of Python-traced allocations (tracemalloc) while ``call()`` runs, exception or not."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak

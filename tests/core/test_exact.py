from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile.core.exact import BATCH_ENUMERATE_MAX, lowest_states
from qama_compile.core.ir import QuadraticIR


def _all_states(v: int, spin: bool) -> np.ndarray:
    bits = (np.arange(2**v)[:, None] >> np.arange(v)) & 1  # variable 0 is the least significant bit
    return 2 * bits - 1 if spin else bits


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, BATCH_ENUMERATE_MAX),
    st.sampled_from(["SPIN", "BINARY"]),
    st.booleans(),
    st.sampled_from([1, 3, 7]),
    st.integers(0, 2**32 - 1),
)
def test_batched_enumeration_is_brute_force_with_ties_by_index(
    v: int, vartype: str, integer: bool, k: int, seed: int
) -> None:
    """The split (low/high halves) enumeration returns the k lowest states, ties by state index.

    Integer coefficients make exact ties common, so the order among equal energies is checked.
    """
    rng = np.random.default_rng(seed)
    b = 3
    lin, quad, off = rng.normal(size=(b, v)), rng.normal(size=(b, v, v)), rng.normal(size=b)
    if integer:
        lin, quad, off = np.round(lin), np.round(quad), np.round(off)
    r, c = np.triu_indices(v, 1)
    ir = QuadraticIR.from_coo(linear=lin, rows=r, cols=c, data=quad[:, r, c], vartype=vartype, offset=off)
    spin = vartype == "SPIN"
    energy = ir.energies(_all_states(v, spin))
    kk = min(k, 2**v)
    want = np.stack([np.lexsort((np.arange(2**v), energy[i]))[:kk] for i in range(b)])
    x, e = lowest_states(ir, k=k)
    np.testing.assert_allclose(e, np.take_along_axis(energy, want, axis=1), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ir.energies(x), e, rtol=0, atol=1e-9)
    if integer:  # exact arithmetic: the tie order is defined
        bits = (x + 1) // 2 if spin else x
        got = (bits.astype(np.int64) << np.arange(v)).sum(axis=-1)
        np.testing.assert_array_equal(got, want)

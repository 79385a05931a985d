from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError


def _random_ir(seed: int, vartype: str = "BINARY") -> QuadraticIR:
    rng = np.random.default_rng(seed)
    v = int(rng.integers(1, 9))
    e = int(rng.integers(0, 12))
    return QuadraticIR.from_coo(
        linear=rng.normal(size=(2, v)),
        rows=rng.integers(0, v, e),
        cols=rng.integers(0, v, e),
        data=rng.normal(size=(2, e)),
        offset=rng.normal(size=2),
        vartype=vartype,  # type: ignore[arg-type]
    )


def _brute(ir: QuadraticIR, x: np.ndarray, b: int) -> float:
    m = ir.dense_matrix(b)
    return float(ir.offset[b] + x @ ir.linear[b] + x @ m @ x)


@given(st.integers(0, 2**31 - 1), st.sampled_from(["BINARY", "SPIN"]))
def test_energies_match_dense_matrix(seed: int, vartype: str) -> None:
    ir = _random_ir(seed, vartype)
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(0, 2, size=(5, ir.num_variables))
    if vartype == "SPIN":
        x = 2 * x - 1
    got = ir.energies(x)
    for b in range(2):
        for s in range(5):
            assert got[b, s] == pytest.approx(_brute(ir, x[s], b))


@given(st.integers(0, 2**31 - 1))
def test_vartype_round_trip_preserves_energy(seed: int) -> None:
    ir = _random_ir(seed)
    x = np.random.default_rng(seed).integers(0, 2, size=(7, ir.num_variables))
    spin = ir.to_spin()
    assert spin.vartype == "SPIN"
    assert np.allclose(spin.energies(2 * x - 1), ir.energies(x))
    back = spin.to_binary()
    assert np.allclose(back.energies(x), ir.energies(x))
    assert ir.to_binary() is ir and spin.to_spin() is spin


def test_block_ir_vartype_and_flatten(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 3, 3, 4)), bits=2)
    ir = problem.ir
    x = rng.integers(0, 2, size=(9, ir.num_variables))
    expected = ir.energies(x)
    assert np.allclose(ir.to_spin().energies(2 * x - 1), expected)
    flat = ir.flatten()
    assert flat.block_count == 0
    assert np.allclose(flat.energies(x), expected)
    for b in range(2):
        assert np.allclose([_brute(ir, xs, b) for xs in x], expected[b])
    r, c, d = ir.coo(1)
    assert np.all(r < c) and np.all(d != 0)


def test_from_coo_merges_duplicates_and_folds_diagonal() -> None:
    ir = QuadraticIR.from_coo(linear=[0.0, 0.0], rows=[1, 0, 0], cols=[0, 1, 0], data=[1.0, 2.0, 5.0])
    assert ir.rows.tolist() == [0] and ir.cols.tolist() == [1] and ir.data.tolist() == [[3.0]]
    assert ir.linear.tolist() == [[5.0, 0.0]]
    spin = QuadraticIR.from_coo(linear=[0.0], rows=[0], cols=[0], data=[2.0], vartype="SPIN")
    assert spin.offset.tolist() == [2.0]


def test_ir_is_immutable(rng: np.random.Generator) -> None:
    ir = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=1).ir
    with pytest.raises(ValueError):
        ir.linear[0, 0] = 1.0
    with pytest.raises(AttributeError):
        ir.vartype = "SPIN"  # type: ignore[misc]


def test_select(rng: np.random.Generator) -> None:
    ir = lower_attention(*rng.normal(size=(3, 4, 2, 2, 3)), bits=1).ir
    sub = ir.select([3, 1])
    x = rng.integers(0, 2, size=(3, ir.num_variables))
    assert np.allclose(sub.energies(x), ir.energies(x)[[3, 1]])
    with pytest.raises(InvalidInputError, match="out of range"):
        ir.select([4])


def test_validation_errors() -> None:
    with pytest.raises(InvalidInputError, match="vartype"):
        QuadraticIR.from_coo(linear=[1.0], vartype="ISING")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="out of range"):
        QuadraticIR.from_coo(linear=[1.0, 2.0], rows=[0], cols=[2], data=[1.0])
    with pytest.raises(InvalidInputError, match="NaN"):
        QuadraticIR.from_coo(linear=[np.nan])
    with pytest.raises(InvalidInputError, match="strictly upper"):
        QuadraticIR(
            vartype="BINARY",
            linear=np.zeros((1, 2)),
            offset=np.zeros(1),
            blocks=np.ones((1, 1, 2, 2)),
            rows=np.zeros(0),
            cols=np.zeros(0),
            data=np.zeros((1, 0)),
            labels=np.arange(2).reshape(2, 1),
        )
    ir = QuadraticIR.from_coo(linear=[1.0, 2.0])
    with pytest.raises(InvalidInputError, match="samples must be"):
        ir.energies(np.zeros((2, 3)))


def test_counts_and_ranges(rng: np.random.Generator) -> None:
    ir = lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=2).ir
    assert ir.num_couplers == 2 * 6 * 5 // 2 + 6
    ranges = ir.coefficient_range()
    assert ranges["quadratic"][0] <= 0 <= ranges["quadratic"][1]
    assert ir.nbytes() > 0
    assert ir.label_tuples()[0] == (0, 0, 0)


def test_a_read_only_view_of_a_callers_array_is_copied() -> None:
    """A validated IR never shares memory its caller can still write (e.g. through np.broadcast_to)."""
    base = np.array([1.0, 2.0, 3.0])
    view = np.broadcast_to(base, (2, 3))  # read-only, but base stays writable
    assert not view.flags.writeable
    ir = QuadraticIR(
        vartype="BINARY",
        linear=view,
        offset=np.zeros(2),
        blocks=np.zeros((2, 0, 0, 0)),
        rows=np.zeros(0, dtype=np.int64),
        cols=np.zeros(0, dtype=np.int64),
        data=np.zeros((2, 0)),
        labels=np.arange(3).reshape(3, 1),
    )
    base[0] = 99.0
    assert ir.linear[0, 0] == 1.0 and not np.shares_memory(ir.linear, base)
    again = dataclasses.replace(ir, offset=np.ones(2))  # the IR's own frozen arrays are shared, not copied
    assert again.linear is ir.linear and again.offset[0] == 1.0

"""The CIM emulator's structured coupling products agree with a dense reference (``qama_backends.cim_couplings``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qama_backends.cim import couplings_from_ir
from qama_backends.cim_arrays import resolve_ops
from qama_backends.cim_couplings import Couplings, _kron, spectral_bounds

from qama_compile import QuadraticIR, lower_attention


def _ir(b: int, g: int, n: int, seed: int, *, penalty: str, vartype: str = "SPIN", tail: int = 0) -> QuadraticIR:
    """``b`` problems: ``g`` dense blocks of ``n`` and a sparse part of kind ``penalty``:
    ``"uniform"`` (QAMA's head penalty), ``"kron"`` (one value per head pair), ``"per-problem"``
    (the uniform pattern with different values per problem), ``"random"`` (no structure)."""
    rng = np.random.default_rng(seed)
    v = g * n + tail
    blocks = np.triu(rng.normal(size=(b, g, n, n)), 1)
    t1, t2 = np.triu_indices(g, 1)
    m = np.arange(n)
    rows = (t1[:, None] * n + m).reshape(-1)
    cols = (t2[:, None] * n + m).reshape(-1)
    if penalty == "uniform":
        data = np.full((b, rows.size), 0.7)
    elif penalty == "kron":
        data = np.repeat(rng.normal(size=t1.size), n)[None].repeat(b, axis=0)
    elif penalty == "per-problem":
        data = rng.normal(size=(b, 1)).repeat(rows.size, axis=1)
    else:
        pairs = {(int(i), int(j)) for i, j in rng.integers(0, v, size=(4 * v, 2)) if i < j}
        rows, cols = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs), strict=True))
        data = rng.normal(size=(b, rows.size))
    return QuadraticIR(
        vartype=vartype,  # type: ignore[arg-type]
        linear=rng.normal(size=(b, v)),
        offset=rng.normal(size=b),
        blocks=blocks,
        rows=rows,
        cols=cols,
        data=data,
        labels=np.arange(v).reshape(v, 1),
    )


def _dense_reference(ir: QuadraticIR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spin = ir.to_spin()
    J = np.stack([spin.dense_matrix(i) for i in range(ir.batch_size)])
    return spin.linear, J + np.swapaxes(J, 1, 2), spin.offset


@pytest.mark.parametrize("penalty", ["uniform", "kron", "per-problem", "random"])
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_every_structure_multiplies_like_the_dense_matrix(penalty: str, vartype: str) -> None:
    ir = _ir(3, 4, 5, seed=1, penalty=penalty, vartype=vartype)
    h_ref, J_ref, off_ref = _dense_reference(ir)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, ir.num_variables))
    for structure in ("blocks", "dense", "sparse"):
        c, off = couplings_from_ir(ir, structure=structure)
        np.testing.assert_allclose(c.h, h_ref, atol=1e-12)
        np.testing.assert_allclose(off, off_ref, atol=1e-12)
        np.testing.assert_allclose(c.apply(x), x @ J_ref, atol=1e-10)
        op = c.operator()
        out = np.empty(x.shape, dtype=np.float32)
        np.testing.assert_allclose(op(x.astype(np.float32), out), x @ J_ref, rtol=1e-4, atol=1e-4)
        factor = np.array([0.5, -2.0, 3.0])
        op.rescale(factor)
        np.testing.assert_allclose(
            op(x.astype(np.float32), out), (x @ J_ref) * factor[:, None, None], rtol=1e-4, atol=1e-4
        )
    blocks_c, _ = couplings_from_ir(ir, structure="blocks")
    kron = _kron(blocks_c)
    assert (kron is not None) == (penalty != "random")
    if kron is not None:
        assert kron[1] == (penalty in ("uniform", "per-problem"))


def test_tail_variables_outside_the_blocks() -> None:
    ir = _ir(2, 3, 4, seed=3, penalty="random", tail=5)
    _, J_ref, _ = _dense_reference(ir)
    c, _ = couplings_from_ir(ir, structure="blocks")
    assert c.kind == "blocks+sparse"
    x = np.random.default_rng(4).normal(size=(2, 3, ir.num_variables)).astype(np.float32)
    np.testing.assert_allclose(c.operator()(x, np.empty_like(x)), x @ J_ref, rtol=1e-4, atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    penalty=st.sampled_from(["uniform", "kron", "per-problem", "random"]),
    structure=st.sampled_from(["blocks", "dense", "sparse"]),
)
def test_add_rows_adds_the_rows_of_J(seed: int, penalty: str, structure: str) -> None:
    ir = _ir(2, 3, 4, seed=seed, penalty=penalty)
    _, J_ref, _ = _dense_reference(ir)
    c, _ = couplings_from_ir(ir, structure=structure)
    rng = np.random.default_rng(seed)
    field = rng.normal(size=(5, ir.num_variables))
    expect = field.copy()
    ki = rng.permutation(5)[:3]
    bi = rng.integers(0, 2, size=3)
    vi = rng.integers(0, ir.num_variables, size=3)
    coef = rng.normal(size=3)
    expect[ki] += coef[:, None] * J_ref[bi, vi]
    c.add_rows(field, ki, bi, vi, coef)
    np.testing.assert_allclose(field, expect, atol=1e-12)


@pytest.mark.parametrize("kind", ["sk", "qama", "sparse-graph"])
def test_spectral_bounds_approach_the_exact_extremes(kind: str) -> None:
    rng = np.random.default_rng(7)
    if kind == "sk":
        upper = np.triu(rng.choice([-1.0, 1.0], size=(2, 300, 300)), 1)
        c = Couplings.from_dense(np.zeros((2, 300)), upper + np.swapaxes(upper, 1, 2), sparse=False)
    elif kind == "qama":
        problem = lower_attention(*rng.normal(size=(3, 2, 4, 24, 8)), bits=3, normalize="standardise")
        c, _ = couplings_from_ir(problem.ir, structure="blocks")
    else:
        upper = np.triu((rng.random((1, 300, 300)) < 0.05).astype(float), 1)
        c = Couplings.from_dense(np.zeros((1, 300)), upper + np.swapaxes(upper, 1, 2), sparse=True)
    ev = np.linalg.eigvalsh(c.apply(np.eye(c.num_variables)[None].repeat(c.batch_size, 0)))
    lo, hi = spectral_bounds(c.operator(), steps=20)
    # Ritz values lie inside the spectrum and, after 20 steps, close to its ends
    assert np.all(lo >= ev[:, 0] - 1e-3 * np.abs(ev[:, 0])) and np.all(hi <= ev[:, -1] + 1e-3 * np.abs(ev[:, -1]))
    np.testing.assert_allclose(lo, ev[:, 0], rtol=0.05)
    np.testing.assert_allclose(hi, ev[:, -1], rtol=0.05)


def test_torch_operator_matches_numpy_on_the_cpu() -> None:
    pytest.importorskip("torch")
    ir = _ir(2, 3, 4, seed=5, penalty="per-problem")
    x = np.random.default_rng(6).normal(size=(2, 3, ir.num_variables)).astype(np.float32)
    ops = resolve_ops("cpu", use_torch=True)
    assert ops.name == "torch" and ops.device == "cpu"
    for structure in ("blocks", "dense", "sparse"):
        c, _ = couplings_from_ir(ir, structure=structure)
        ref = c.operator()(x, np.empty_like(x))
        top = c.operator().to(ops)
        got = ops.to_numpy(top(ops.asarray(x), ops.empty(x.shape)))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from qama_compile.core.hamiltonian import bit_weights, js_coupling, normalise, softmax, value_entropy
from qama_compile.errors import InvalidInputError


def _softmax_row(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.1, 20.0))
def test_js_matches_scipy_pairwise(n: int, d: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(2, n, d)) * scale
    got = js_coupling(q, k)
    for i in range(n):  # independent reference: scipy, one pair at a time
        for j in range(n):
            p, r = _softmax_row(q[i]), _softmax_row(k[j])
            assert got[i, j] == pytest.approx(jensenshannon(p, r, base=2) ** 2, abs=1e-9)
    assert np.all((got >= 0) & (got <= 1))


def test_js_batched_equals_unbatched(rng: np.random.Generator) -> None:
    q, k = rng.normal(size=(2, 3, 2, 4, 5))
    full = js_coupling(q, k)
    assert full.shape == (3, 2, 4, 4)
    assert np.allclose(full[1, 0], js_coupling(q[1, 0], k[1, 0]))


def test_js_extreme_logits_are_finite() -> None:
    q = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]])
    j = js_coupling(q, q[::-1])
    assert np.all(np.isfinite(j))
    assert j[0, 0] == pytest.approx(jensenshannon(_softmax_row(q[0]), _softmax_row(q[1]), base=2) ** 2, abs=1e-9)


@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_value_entropy_matches_formula(n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, d))
    eps = 1e-8
    got = value_entropy(v, eps=eps)
    for i in range(n):
        total = sum(v[i]) + eps
        expected = 0.0
        for x in v[i]:
            p = min(max(x / total, eps), 1.0)
            expected -= p * np.log2(p)
        assert got[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_value_entropy_of_zero_and_constant_rows() -> None:
    v = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    h = value_entropy(v)
    assert np.all(np.isfinite(h))
    assert h[1] == pytest.approx(2.0, abs=1e-6)  # uniform over 4 -> 2 bits


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_bit_weights_span_unit_interval(bits: int) -> None:
    c = bit_weights(bits)
    assert c.sum() == pytest.approx(1.0)
    assert np.allclose(c[1:] / c[:-1], 2.0)


@pytest.mark.parametrize("bits", [0, 9, -1, 2.5, True, "4"])
def test_bit_weights_rejects_out_of_range(bits: object) -> None:
    with pytest.raises(InvalidInputError, match=r"bits must be an integer in 1\.\.8"):
        bit_weights(bits)  # type: ignore[arg-type]


def test_normalise_modes(rng: np.random.Generator) -> None:
    j = rng.random((2, 4, 4))
    h = rng.random((2, 4))
    j0, h0 = normalise(j, h, None)
    assert j0 is j and h0 is h
    js, hs = normalise(j, h, "standardise")
    off = ~np.eye(4, dtype=bool)
    assert np.allclose(js[:, off].mean(axis=-1), 0)
    var = j[:, off].var(axis=-1)  # population variance, plus batch norm's eps
    assert np.allclose(js[:, off].std(axis=-1), np.sqrt(var / (var + 1e-5)))
    assert np.allclose(np.diagonal(js, axis1=1, axis2=2), np.diagonal(j, axis1=1, axis2=2))
    assert np.allclose(hs.mean(axis=-1), 0)
    jm, hm = normalise(j, h, "minmax")
    assert np.allclose(jm[:, off].min(axis=-1), 0) and np.allclose(jm[:, off].max(axis=-1), 1)
    assert np.allclose(hm.max(axis=-1), 1)
    jc, hc = normalise(np.ones((1, 3, 3)), np.ones((1, 3)), "standardise")
    assert np.all(np.isfinite(jc)) and np.all(hc == 0) and np.all(jc[:, ~np.eye(3, dtype=bool)] == 0)
    with pytest.raises(InvalidInputError, match="unknown normalisation"):
        normalise(j, h, "zscore")  # type: ignore[arg-type]


def test_softmax_rows_sum_to_one(rng: np.random.Generator) -> None:
    s = softmax(rng.normal(size=(3, 7)) * 100)
    assert np.allclose(s.sum(axis=-1), 1)


def test_standardise_is_batch_norm_of_one_problem(rng: np.random.Generator) -> None:
    """``standardise`` equals the paper's ``BatchNorm1d(num_heads)`` applied to one problem at a time."""
    torch = pytest.importorskip("torch")
    j = rng.random((3, 4, 5, 5))  # [B, H, N, N]
    h = rng.normal(size=(3, 4, 5)) * 3
    js, hs = normalise(j, h, "standardise")
    off = ~np.eye(5, dtype=bool)
    for b in range(3):  # the layer normalises [batch, heads, L]; here the batch is the one problem b
        jbn = torch.nn.BatchNorm1d(4).double().train()(torch.from_numpy(j[b : b + 1][:, :, off])).detach().numpy()
        hbn = torch.nn.BatchNorm1d(4).double().train()(torch.from_numpy(h[b : b + 1])).detach().numpy()
        assert np.allclose(js[b][:, off], jbn[0], atol=1e-6)
        assert np.allclose(hs[b], hbn[0], atol=1e-6)
    assert np.array_equal(np.diagonal(js, axis1=-2, axis2=-1), np.diagonal(j, axis1=-2, axis2=-1))

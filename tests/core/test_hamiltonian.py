from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from qama_compile.core.hamiltonian import (
    FLOAT32_JS_TOLERANCE,
    FLOAT32_MIN_SPREAD,
    JSKernel,
    bit_weights,
    js_coupling,
    normalise,
    normalise_inplace,
    softmax,
    value_entropy,
)
from qama_compile.errors import InvalidInputError


def _softmax_row(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _scipy_js(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Independent reference: scipy, one pair at a time."""
    out = np.empty((q.shape[0], k.shape[0]))
    for i in range(q.shape[0]):
        for j in range(k.shape[0]):
            out[i, j] = jensenshannon(_softmax_row(q[i]), _softmax_row(k[j]), base=2) ** 2
    return out


def _off_std(j: np.ndarray) -> np.ndarray:
    n = j.shape[-1]
    return j[..., ~np.eye(n, dtype=bool)].std(axis=-1)


@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.1, 20.0))
def test_js_matches_scipy_pairwise(n: int, d: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(2, n, d)) * scale
    got = js_coupling(q, k)
    np.testing.assert_allclose(got, _scipy_js(q, k), rtol=0, atol=1e-9)
    assert np.all((got >= 0) & (got <= 1))


@given(
    n=st.integers(1, 6),
    m=st.integers(1, 6),
    d=st.integers(1, 40),
    log_scale=st.floats(-3.0, 3.0),
    mixed=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_js_float32_within_documented_tolerance(
    n: int, m: int, d: int, log_scale: float, mixed: bool, seed: int
) -> None:
    """float32 J is within 4e-6 bits of float64 J and within 1e-3 of the head's spread."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** (rng.uniform(-3, 3, size=(2, 3, max(n, m), 1)) if mixed else log_scale)
    q, k = rng.normal(size=(2, 3, max(n, m), d)) * scale
    q, k = q[:, :n], k[:, :m]
    exact = js_coupling(q, k)
    fast = js_coupling(q, k, precision="float32")
    err = np.abs(fast - exact).max(axis=(-1, -2))
    assert np.all(err <= FLOAT32_JS_TOLERANCE)
    if n == m and n > 1:
        assert np.all(err <= 1e-3 * np.maximum(_off_std(exact), FLOAT32_MIN_SPREAD))


def test_js_float32_large_head_dim_and_mixed_rows() -> None:
    """The cases that come closest to the tolerance: wide heads whose rows mix sharp and flat softmaxes."""
    rng = np.random.default_rng(7)
    for d in (256, 1024):
        q, k = rng.normal(size=(2, 2, 48, d)) * 10.0 ** rng.uniform(-3, 3, size=(2, 2, 48, 1))
        err = np.abs(js_coupling(q, k, precision="float32") - js_coupling(q, k)).max()
        assert 0 < err <= FLOAT32_JS_TOLERANCE


def test_js_float32_falls_back_to_float64_on_near_uniform_heads(rng: np.random.Generator) -> None:
    q, k = rng.normal(size=(2, 2, 16, 64))
    q[0] *= 1e-3  # head 0 near-uniform: couplings ~1e-7 bits, float32 rounding would dominate them
    k[0] *= 1e-3
    exact = js_coupling(q, k)
    fast = js_coupling(q, k, precision="float32")
    assert _off_std(exact)[0] < FLOAT32_MIN_SPREAD < _off_std(exact)[1]
    np.testing.assert_array_equal(fast[0], exact[0])  # recomputed in float64
    assert 0 < np.abs(fast[1] - exact[1]).max() <= FLOAT32_JS_TOLERANCE  # really ran in float32


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize(
    ("heads", "n", "m", "d"),
    [(2, 3, 37, 3000), (1, 2, 48, 1500), (2, 5, 64, 1024), (7, 9, 12, 7), (300, 3, 4, 5)],
)
def test_js_kernel_blocks_heads_rows_and_key_columns(precision: str, heads: int, n: int, m: int, d: int) -> None:
    """Workspace blocks of several whole heads, of query rows, of key columns (wide rows), tiled or not."""
    rng = np.random.default_rng(n * m + d)
    q = rng.normal(size=(heads, n, d)) * 3
    k = rng.normal(size=(heads, m, d)) * 3
    kernel = JSKernel(n, m, d, np.dtype(precision), heads=heads)
    assert kernel.group * kernel.rows * kernel.cols * d <= max(d, (1 << 18) // kernel.dtype.itemsize)
    out = np.empty((heads, n, m))
    kernel(q, k, out)
    tol = 1e-9 if precision == "float64" else FLOAT32_JS_TOLERANCE
    for t in range(0, heads, max(1, heads // 5)):
        np.testing.assert_allclose(out[t], _scipy_js(q[t], k[t]), rtol=0, atol=tol)
    part = np.empty((1, n, m))
    kernel(q[-1:], k[-1:], part)  # fewer heads than the kernel holds
    np.testing.assert_array_equal(part[0], out[-1])


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_js_is_identical_for_any_number_of_workers(rng: np.random.Generator, precision: str) -> None:
    q, k = rng.normal(size=(2, 3, 4, 10, 16))
    one = js_coupling(q, k, precision=precision, workers=1)  # type: ignore[arg-type]
    two = js_coupling(q, k, precision=precision, workers=2)  # type: ignore[arg-type]
    np.testing.assert_array_equal(one, two)


def test_js_batched_equals_unbatched(rng: np.random.Generator) -> None:
    q, k = rng.normal(size=(2, 3, 2, 4, 5))
    full = js_coupling(q, k)
    assert full.shape == (3, 2, 4, 4)
    assert np.allclose(full[1, 0], js_coupling(q[1, 0], k[1, 0]))


def test_js_extreme_logits_are_finite() -> None:
    q = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]])
    for precision in ("float32", "float64"):
        j = js_coupling(q, q[::-1], precision=precision)  # type: ignore[arg-type]
        assert np.all(np.isfinite(j))
        expected = jensenshannon(_softmax_row(q[0]), _softmax_row(q[1]), base=2) ** 2
        assert j[0, 0] == pytest.approx(expected, abs=FLOAT32_JS_TOLERANCE if precision == "float32" else 1e-9)


def test_js_accepts_float32_inputs_and_refuses_unknown_precision(rng: np.random.Generator) -> None:
    q = rng.normal(size=(4, 6))
    np.testing.assert_allclose(js_coupling(q.astype(np.float32), q), js_coupling(q.astype(np.float32).astype(float), q))
    with pytest.raises(InvalidInputError, match="precision must be"):
        js_coupling(q, q, precision="float16")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="workers must be"):
        js_coupling(q, q, workers=0)


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


def _masked_normalise(j: np.ndarray, h: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward version: copy the off-diagonal out with a mask, scale, put it back."""

    def scale(x: np.ndarray) -> np.ndarray:
        if mode == "standardise":  # batch norm: population variance plus its eps
            c = x - x.mean(axis=-1, keepdims=True)
            return c / np.sqrt(c.var(axis=-1, keepdims=True) + 1e-5)
        lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
        return np.divide(x - lo, hi - lo, out=np.zeros_like(x), where=hi > lo)

    n = j.shape[-1]
    off = ~np.eye(n, dtype=bool)
    out = j.copy()
    if n > 1:
        out[..., off] = scale(j[..., off])
    return out, scale(h)


@given(
    n=st.integers(1, 6),
    mode=st.sampled_from(["standardise", "minmax"]),
    seed=st.integers(0, 2**31 - 1),
    signed=st.booleans(),
)
def test_normalise_equals_masked_reference(n: int, mode: str, seed: int, signed: bool) -> None:
    rng = np.random.default_rng(seed)
    j = rng.normal(size=(2, 3, n, n)) if signed else rng.random((2, 3, n, n))
    h = rng.normal(size=(2, 3, n))
    got_j, got_h = normalise(j, h, mode)  # type: ignore[arg-type]
    ref_j, ref_h = _masked_normalise(j, h, mode)
    np.testing.assert_allclose(got_j, ref_j, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_h, ref_h, rtol=1e-12, atol=1e-12)
    jj, hh = j.copy(), h.copy()
    normalise_inplace(jj, hh, mode)  # type: ignore[arg-type]
    np.testing.assert_array_equal(jj, got_j)
    np.testing.assert_array_equal(hh, got_h)


def test_normalise_inplace_refuses_a_non_contiguous_matrix(rng: np.random.Generator) -> None:
    j = rng.random((2, 4, 4)).transpose(0, 2, 1)  # reshaping would copy: the in-place result would be lost
    with pytest.raises(AttributeError):
        normalise_inplace(j, rng.random((2, 4)), "standardise")


@pytest.mark.parametrize("mode", ["standardise", "minmax"])
def test_normalise_constant_up_to_rounding_maps_to_zero(mode: str) -> None:
    """0.1 is not representable: a naive mean leaves +-1e-17 residues that would divide to +-1."""
    j = np.full((1, 5, 5), 0.1)
    j[0, np.arange(5), np.arange(5)] = 0.7  # the diagonal is kept, not part of the statistics
    h = np.full((1, 5), 0.1)
    jn, hn = normalise(j, h, mode)  # type: ignore[arg-type]
    off = ~np.eye(5, dtype=bool)
    assert np.all(jn[0][off] == 0) and np.all(hn == 0)
    assert np.all(np.diagonal(jn[0]) == 0.7)


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

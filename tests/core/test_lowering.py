from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.hamiltonian import (
    FLOAT32_JS_TOLERANCE,
    FLOAT32_MIN_SPREAD,
    js_coupling,
    normalise,
    value_entropy,
)
from qama_compile.core.lowering import build_qama_ir, estimate_lowering_bytes
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from ..reference import design_energy
from .test_hamiltonian import _masked_normalise, _off_std, _scipy_js


def _formula_energy(
    j: np.ndarray, h: np.ndarray, x: np.ndarray, *, bits: int, alpha: float, beta: float, penalty: float
) -> np.ndarray:
    """The docs/hamiltonian.md energy of binary samples ``x [S, V]`` from given ``J [H, N, N]``, ``h [H, N]``."""
    heads, n = h.shape
    xs = x.reshape(x.shape[0], heads, n, bits).astype(float)
    w = xs @ (2.0 ** np.arange(bits) / (2.0**bits - 1))
    e = -alpha * np.einsum("shi,hij,shj->s", w, j, w) - beta * np.einsum("shi,hi->s", w, h)
    pairs = heads * (heads - 1) // 2
    if pairs:
        total = xs.reshape(x.shape[0], heads, -1).sum(axis=1)
        e += penalty / pairs * ((total**2 - total) / 2).sum(axis=-1)
    return e


def _coupling_mass(x: np.ndarray, heads: int, bits: int) -> np.ndarray:
    """``sum_t (sum_i w_ti)^2`` per sample: |E(J + dJ) - E(J)| <= alpha * max|dJ| * this."""
    w = x.reshape(x.shape[0], heads, -1, bits) @ (2.0 ** np.arange(bits) / (2.0**bits - 1))
    return (w.sum(axis=-1) ** 2).sum(axis=-1)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@given(
    heads=st.integers(1, 3),
    tokens=st.integers(1, 3),
    dim=st.integers(1, 4),
    bits=st.integers(1, 3),
    alpha=st.floats(0.1, 3.0),
    beta=st.floats(0.0, 3.0),
    penalty=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_ir_energy_equals_design_formula(
    precision: str, heads: int, tokens: int, dim: int, bits: int, alpha: float, beta: float, penalty: float, seed: int
) -> None:
    """float64: equal to rounding; float32: within alpha * FLOAT32_JS_TOLERANCE * sum_t (sum_i w_ti)^2."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(3, heads, tokens, dim)) * rng.uniform(0.1, 5)
    problem = lower_attention(
        q,
        k,
        v,
        bits=bits,
        alpha=alpha,
        beta=beta,
        penalty=penalty,
        normalize="none",
        precision=precision,  # type: ignore[arg-type]
    )
    x = rng.integers(0, 2, size=(6, heads * tokens * bits))
    got = problem.energies(x)[0]
    slack = alpha * FLOAT32_JS_TOLERANCE * _coupling_mass(x, heads, bits) if precision == "float32" else 0 * got
    for s in range(x.shape[0]):
        expected = design_energy(q, k, v, x[s], bits=bits, alpha=alpha, beta=beta, penalty=penalty)
        assert abs(got[s] - expected) <= slack[s] + 1e-9 * max(1.0, abs(expected))
    assert np.allclose(problem.reference_energy(x)[0], got, atol=1e-9)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["standardise", "minmax"])
@given(
    heads=st.integers(1, 3),
    tokens=st.integers(1, 4),
    dim=st.integers(1, 6),
    log_scale=st.floats(-3.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_normalised_energy_equals_formula(
    precision: str, mode: str, heads: int, tokens: int, dim: int, log_scale: float, seed: int
) -> None:
    """Normalised J, h against scipy JS + a masked normalisation: float64 to rounding; float32
    within FLOAT32_JS_TOLERANCE scaled by the normalisation, which the float64 fallback for
    near-uniform heads keeps below 1e-3 (2 + |J'|) in standard-score units."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(3, 1, heads, tokens, dim)) * 10.0**log_scale
    bits, alpha, beta, penalty = 2, 1.3, 0.7, 2.0
    problem = lower_attention(
        q,
        k,
        v,
        bits=bits,
        alpha=alpha,
        beta=beta,
        penalty=penalty,
        normalize=mode,
        precision=precision,  # type: ignore[arg-type]
    )
    j = np.stack([_scipy_js(q[0, t], k[0, t]) for t in range(heads)])
    j_ref, h_ref = _masked_normalise(j, value_entropy(v[0]), mode)
    x = rng.integers(0, 2, size=(8, heads * tokens * bits))
    expected = _formula_energy(j_ref, h_ref, x, bits=bits, alpha=alpha, beta=beta, penalty=penalty)
    got = problem.energies(x)[0]
    if precision == "float64":
        np.testing.assert_allclose(problem.couplings[0], j_ref, rtol=1e-7, atol=1e-7)
        slack = 1e-7 * alpha * _coupling_mass(x, heads, bits)
    else:
        spread = np.maximum([_off_std(jt) if tokens > 1 else 0.0 for jt in j], FLOAT32_MIN_SPREAD)[:, None, None]
        bound = np.maximum(FLOAT32_JS_TOLERANCE, FLOAT32_JS_TOLERANCE / spread * (2 + np.abs(j_ref)))
        assert np.all(np.abs(problem.couplings[0] - j_ref) <= bound + 1e-9)
        slack = alpha * bound.max() * _coupling_mass(x, heads, bits)
    assert np.all(np.abs(got - expected) <= slack + 1e-9 * np.maximum(1.0, np.abs(expected)))


def test_shapes_and_labels(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 3, 4, 5))  # B=2, H=3, N=4, d=5
    problem = lower_attention(q, k, v, bits=2)
    assert problem.shape == (2, 3, 4, 2)
    ir = problem.ir
    assert ir.num_variables == 3 * 4 * 2
    assert ir.block_count == 3 and ir.block_size == 8
    assert ir.num_block_couplers == 3 * 8 * 7 // 2
    assert ir.num_sparse_couplers == 3 * 8  # H(H-1)/2 * N * q
    assert ir.label_fields == ("head", "token", "bit")
    assert ir.labels[5].tolist() == [0, 2, 1]  # index (t*N + i)*q + r
    assert problem.attention.shape == (2, 3, 4, 4)
    assert np.allclose(problem.attention.sum(-1), 1)


def test_rank_two_and_three_inputs_add_axes(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 4, 5))
    assert lower_attention(q, k, v, bits=1).shape == (1, 1, 4, 1)
    assert lower_attention(q[None], k[None], v[None], bits=1).shape == (1, 1, 4, 1)


def test_batch_items_are_independent(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 3, 2, 3, 4))
    batched = lower_attention(q, k, v, bits=2)
    single = lower_attention(q[2], k[2], v[2], bits=2)
    x = rng.integers(0, 2, size=(5, batched.ir.num_variables))
    assert np.allclose(batched.energies(x)[2], single.energies(x)[0])


def test_inputs_are_not_mutated_and_lists_accepted(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 3, 4))
    copies = [a.copy() for a in (q, k, v)]
    lower_attention(q, k, v, bits=2, normalize="standardise")
    assert all(np.array_equal(a, b) for a, b in zip((q, k, v), copies, strict=True))
    assert lower_attention(q.tolist(), k.tolist(), v.tolist(), bits=1).shape == (1, 2, 3, 1)


def test_single_head_has_no_penalty(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 1, 3, 4))
    assert lower_attention(q, k, v, bits=2, penalty=5.0).ir.num_sparse_couplers == 0


@pytest.mark.parametrize("name", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_the_tensor(rng: np.random.Generator, name: str, bad: float) -> None:
    arrays = dict(zip("qkv", rng.normal(size=(3, 2, 3, 4)), strict=True))
    arrays[name][1, 2, 0] = bad
    with pytest.raises(InvalidInputError, match=f"tensor '{name}' contains") as info:
        lower_attention(arrays["q"], arrays["k"], arrays["v"])
    assert info.value.tensor == name
    assert info.value.index == (1, 2, 0)


def test_bad_shapes_and_types(rng: np.random.Generator) -> None:
    q = rng.normal(size=(2, 3, 4))
    with pytest.raises(InvalidInputError, match="same shape"):
        lower_attention(q, q[:, :2], q)
    with pytest.raises(InvalidInputError, match="v must match q"):
        lower_attention(q, q, q[:1])
    with pytest.raises(InvalidInputError, match="rank 1"):
        lower_attention(q[0, 0], q[0, 0], q[0, 0])
    with pytest.raises(InvalidInputError, match="rank 5"):
        lower_attention(q[None, None], q[None, None], q[None, None])
    with pytest.raises(InvalidInputError, match="complex"):
        lower_attention(q + 1j, q, q)
    with pytest.raises(InvalidInputError, match="dtype object"):
        lower_attention(np.array([[None, 1.0]]), q, q)
    with pytest.raises(InvalidInputError, match="bits must be"):
        lower_attention(q, q, q, bits=9)
    with pytest.raises(InvalidInputError, match="alpha must be finite"):
        lower_attention(q, q, q, alpha=float("nan"))


@pytest.mark.parametrize("shape", [(2, 0, 4), (2, 3, 0), (0, 3, 4)])
def test_zero_sizes_are_refused(shape: tuple[int, ...]) -> None:
    z = np.zeros(shape)
    with pytest.raises(InvalidInputError, match="size is 0"):
        lower_attention(z, z, z)


def test_too_large_is_refused_before_allocating() -> None:
    # 8 heads x 4096 tokens x 8 bits: the blocks alone would be ~2 TiB. Only broadcast views exist.
    q = np.broadcast_to(np.zeros(1), (1, 8, 4096, 2))
    with pytest.raises(ProblemTooLargeError, match="GiB") as info:
        lower_attention(q, q, q, bits=8)
    assert info.value.size > info.value.limit
    assert estimate_lowering_bytes(1, 8, 4096, 2, 8) == info.value.size


def test_torch_tensors_accepted() -> None:
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, generator=g, requires_grad=True) for _ in range(3))
    problem = lower_attention(q, k, v, bits=2)
    ref = lower_attention(q.detach().numpy(), k.detach().numpy(), v.detach().numpy(), bits=2)
    assert np.allclose(problem.ir.linear, ref.ir.linear)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_result_is_identical_for_any_number_of_workers(rng: np.random.Generator, precision: str) -> None:
    q, k, v = rng.normal(size=(3, 3, 2, 6, 5))
    one = lower_attention(q, k, v, bits=3, normalize="standardise", precision=precision, workers=1)  # type: ignore[arg-type]
    two = lower_attention(q, k, v, bits=3, normalize="standardise", precision=precision, workers=2)  # type: ignore[arg-type]
    for name in ("linear", "blocks", "data", "rows", "cols", "labels", "offset"):
        np.testing.assert_array_equal(getattr(one.ir, name), getattr(two.ir, name))
    for name in ("couplings", "fields", "attention"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))


def test_precisions_agree_and_float32_fallback_keeps_normalised_couplings(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 2, 12, 16))
    q[0, 1] *= 1e-3  # one near-uniform head: standardising its ~1e-7-bit couplings needs float64
    k[0, 1] *= 1e-3
    exact = lower_attention(q, k, v, bits=2, normalize="standardise", precision="float64")
    fast = lower_attention(q, k, v, bits=2, normalize="standardise", precision="float32")
    np.testing.assert_array_equal(fast.couplings[0, 1], exact.couplings[0, 1])
    assert 0 < np.abs(fast.couplings - exact.couplings).max() < 1e-3
    np.testing.assert_array_equal(fast.fields, exact.fields)
    np.testing.assert_array_equal(fast.attention, exact.attention)


def test_lowering_matches_its_stages(rng: np.random.Generator) -> None:
    """The fused lowering equals js_coupling -> normalise -> build_qama_ir, bit for bit."""
    q, k, v = rng.normal(size=(3, 2, 3, 5, 4))
    for mode in (None, "standardise", "minmax"):
        problem = lower_attention(
            q, k, v, bits=3, alpha=0.8, beta=1.7, penalty=3.0, normalize=mode, precision="float64"
        )
        j, h = normalise(js_coupling(q, k), value_entropy(v), mode)  # type: ignore[arg-type]
        np.testing.assert_allclose(problem.couplings, j, rtol=0, atol=1e-12)
        np.testing.assert_allclose(problem.fields, h, rtol=0, atol=1e-12)
        ir = build_qama_ir(problem.couplings, problem.fields, bits=3, alpha=0.8, beta=1.7, penalty=3.0)
        for name in ("linear", "blocks", "data", "rows", "cols", "labels"):
            np.testing.assert_array_equal(getattr(problem.ir, name), getattr(ir, name))


def test_attention_is_the_models_softmax(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 2, 70, 8)) * 3  # 70 tokens: the logits are built in several row chunks
    problem = lower_attention(q, k, v, bits=1)
    logits = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(8)
    expected = np.exp(logits - logits.max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(problem.attention, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64, np.bool_])
def test_input_dtypes_and_read_only_non_contiguous_inputs(rng: np.random.Generator, dtype: type) -> None:
    base = rng.normal(size=(3, 2, 4, 12)) * 2
    q, k, v = (np.asarray(a, dtype=dtype)[..., ::2] for a in base)  # strided views
    for a in (q, k, v):
        a.flags.writeable = False
    problem = lower_attention(q, k, v, bits=2, precision="float64")
    ref = lower_attention(*(a.astype(np.float64) for a in (q, k, v)), bits=2, precision="float64")
    np.testing.assert_array_equal(problem.ir.blocks, ref.ir.blocks)
    np.testing.assert_array_equal(problem.ir.linear, ref.ir.linear)


def test_outputs_are_fresh_read_only_arrays(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 3, 4, 5))
    problem = lower_attention(q, k, v, bits=2)
    ir = problem.ir
    for name in ("linear", "offset", "blocks", "rows", "cols", "data", "labels"):
        arr = getattr(ir, name)
        assert not arr.flags.writeable
        assert arr.base is None or (isinstance(arr.base, np.ndarray) and arr.base.flags.owndata)
        assert not any(np.shares_memory(arr, x) for x in (q, k, v))
    assert ir.data.strides[0] != 0  # a real [B, E] array, not a broadcast view
    assert not np.any(np.tril(ir.blocks))


def test_precision_and_workers_are_checked(rng: np.random.Generator) -> None:
    q = rng.normal(size=(2, 3, 4))
    with pytest.raises(InvalidInputError, match="precision must be"):
        lower_attention(q, q, q, precision="half")  # type: ignore[arg-type]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="workers must be"):
            lower_attention(q, q, q, workers=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown normalisation"):
        lower_attention(q, q, q, normalize="zscore")  # type: ignore[arg-type]


def test_estimate_covers_the_output(rng: np.random.Generator) -> None:
    q, k, v = rng.normal(size=(3, 2, 3, 16, 8))
    problem = lower_attention(q, k, v, bits=4)
    out = problem.ir.nbytes() + sum(a.nbytes for a in (problem.couplings, problem.fields, problem.attention))
    assert out <= estimate_lowering_bytes(2, 3, 16, 8, 4)

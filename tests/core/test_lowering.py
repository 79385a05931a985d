from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.lowering import estimate_lowering_bytes
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from ..reference import design_energy


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
    heads: int, tokens: int, dim: int, bits: int, alpha: float, beta: float, penalty: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(3, heads, tokens, dim)) * rng.uniform(0.1, 5)
    problem = lower_attention(q, k, v, bits=bits, alpha=alpha, beta=beta, penalty=penalty, normalize="none")
    x = rng.integers(0, 2, size=(6, heads * tokens * bits))
    got = problem.energies(x)[0]
    for s in range(x.shape[0]):
        expected = design_energy(q, k, v, x[s], bits=bits, alpha=alpha, beta=beta, penalty=penalty)
        assert got[s] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert np.allclose(problem.reference_energy(x)[0], got, atol=1e-9)


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

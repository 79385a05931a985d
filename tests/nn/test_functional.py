"""qama_compile.nn.functional: the formulas against the numpy reference and the IR, gradients, no NaN."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from qama_compile.core import hamiltonian as ref
from qama_compile.core.lowering import build_qama_ir
from qama_compile.errors import InvalidInputError
from qama_compile.nn import functional as fn

F64 = torch.float64


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


# ---------------------------------------------------------------- formulas
@pytest.mark.parametrize("d", [4, 16, 64])
@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0])
def test_js_coupling_is_the_divergence_up_to_the_authors_eps(rng: np.random.Generator, scale: float, d: int) -> None:
    """The authors' eps-regularised JS is the exact JS of the compiler's lowering to within 1.5 * d * eps bits."""
    q, k = rng.normal(scale=scale, size=(2, 2, 3, 5, d))
    got = fn.js_coupling(_t(q), _t(k)).numpy()
    err = np.abs(got - ref.js_coupling(q, k)).max()
    assert err <= 1.5 * d * fn.EPS
    assert err > 0.1 * fn.EPS  # the regulariser is really there (this is not the exact formula)


def test_js_coupling_takes_queries_and_keys_of_different_lengths(rng: np.random.Generator) -> None:
    q, k = _t(rng.normal(size=(2, 3, 5))), _t(rng.normal(size=(2, 7, 5)))
    got = fn.js_coupling(q, k)
    both = torch.cat([q, k], dim=1)
    np.testing.assert_allclose(got.numpy(), fn.js_coupling(both, both)[:, :3, 3:].numpy(), rtol=1e-14)
    with pytest.raises(InvalidInputError, match="head_dim"):
        fn.js_coupling(q, _t(rng.normal(size=(2, 7, 4))))


def _js_plain(q: torch.Tensor, k: torch.Tensor, eps: float = fn.EPS) -> torch.Tensor:
    """The authors' formula with plain autograd (the whole [.., Lq, Lk, d] workspace at once)."""
    p, r = torch.softmax(q, -1).unsqueeze(-2), torch.softmax(k, -1).unsqueeze(-3)
    m = 0.5 * (p + r)
    return 0.5 * (p * torch.log2(p / (m + eps) + eps)).sum(-1) + 0.5 * (r * torch.log2(r / (m + eps) + eps)).sum(-1)


@pytest.mark.parametrize("block", [None, 1, 37])
def test_js_coupling_blocks_and_analytic_backward(monkeypatch: pytest.MonkeyPatch, block: int | None) -> None:
    """Row blocks (one, one row, uneven) and the analytic backward equal plain autograd."""
    if block is not None:
        monkeypatch.setattr(fn, "_JS_BLOCK", block)
    g = torch.Generator().manual_seed(1)
    q, k = (torch.randn(2, 3, n, 5, generator=g, dtype=F64, requires_grad=True) for n in (7, 4))
    weight = torch.randn(2, 3, 7, 4, generator=g, dtype=F64)
    got = fn.js_coupling(q, k)
    grads = torch.autograd.grad((got * weight).sum(), (q, k))
    want = _js_plain(q, k)
    want_grads = torch.autograd.grad((want * weight).sum(), (q, k))
    assert torch.equal(got, want)  # the same operations in the forward
    for a, b in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-14)
    if block is None:  # second derivatives go through the backward's own (differentiable) operations
        small = (q[:1, :1, :3, :3].detach().requires_grad_(), k[:1, :1, :2, :3].detach().requires_grad_())
        assert torch.autograd.gradgradcheck(lambda a, b: fn.js_coupling(a, b), small, atol=1e-5)


@pytest.mark.parametrize("kind", ["normal", "positive", "zeros", "constant", "zero_sum", "tiny", "huge"])
def test_clamped_value_entropy_matches_numpy(rng: np.random.Generator, kind: str) -> None:
    v = {
        "normal": rng.normal(size=(3, 6, 8)),
        "positive": rng.uniform(0.01, 2.0, size=(3, 6, 8)),
        "zeros": np.zeros((3, 6, 8)),
        "constant": np.full((3, 6, 8), -2.5),
        "zero_sum": np.tile([1.0, -1.0, 2.0, -2.0], (3, 6, 2)),
        "tiny": rng.uniform(0, 1e-9, size=(3, 6, 8)),
        "huge": rng.normal(scale=1e6, size=(3, 6, 8)),
    }[kind]
    hi, h = fn.value_entropy_terms(_t(v))
    expected = ref.value_entropy(v, eps=fn.EPS)
    np.testing.assert_allclose(h.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hi.sum(-1).numpy(), h.numpy(), rtol=1e-12)


def test_value_entropy_caveat_and_the_alternatives() -> None:
    """Mixed-sign values: the paper's clamp gives more than log2 d bits; softmax and abs stay within it."""
    v = torch.tensor([[0.5] * 6 + [-2.0]], dtype=F64)  # sum 1: six entries of 1/2, one clamped to eps
    d = v.shape[-1]
    _, h_clamp = fn.value_entropy_terms(v)
    assert h_clamp.item() == pytest.approx(3.0, abs=1e-4) and h_clamp.item() > math.log2(d)
    g = torch.Generator().manual_seed(0)
    many = torch.randn(2000, 16, generator=g, dtype=F64)
    for transform in ("softmax", "abs"):
        _, h = fn.value_entropy_terms(many, transform=transform)
        assert (h >= 0).all() and (h <= math.log2(16) + 1e-4).all(), transform
    _, h = fn.value_entropy_terms(many, transform="clamp")
    assert (h > math.log2(16)).float().mean() > 0.05  # the caveat is common, not a corner case
    with pytest.raises(InvalidInputError, match="value_transform"):
        fn.value_entropy_terms(many, transform="log")  # type: ignore[arg-type]


def test_soft_weights_and_bits() -> None:
    x = torch.tensor([[1, 0, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_allclose(fn.soft_weights(x).numpy(), [5 / 7, 1.0, 0.0])
    np.testing.assert_allclose(np.array(fn.bit_weights(4)) / 15, ref.bit_weights(4))
    assert fn.soft_weights(x, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(InvalidInputError, match="bits"):
        fn.bit_weights(9)


@pytest.mark.parametrize("heads", [1, 3])
def test_token_energies_plus_penalty_equal_the_ir_energy(rng: np.random.Generator, heads: int) -> None:
    """``sum_{t,i} H_ti`` + head penalty = the energy of the compiler's QUBO at the same x."""
    b, n, bits, lam = 4, 5, 3, 2.0
    couplings, fields = rng.normal(size=(b, heads, n, n)), rng.normal(size=(b, heads, n))
    ir = build_qama_ir(couplings, fields, bits=bits, alpha=0.7, beta=1.3, penalty=lam)
    x = rng.integers(0, 2, size=(b, heads, n, bits))
    w = fn.soft_weights(torch.from_numpy(x))
    h_ti = fn.token_energies(_t(couplings), _t(fields), w, alpha=0.7, beta=1.3)
    pairs = heads * (heads - 1) // 2
    overlap = sum((x[:, t] * x[:, u]).sum(axis=(1, 2)) for t in range(heads) for u in range(t + 1, heads))
    penalty = lam / pairs * overlap if pairs else 0.0
    expected = ir.energies(x.reshape(b, 1, -1))[:, 0]
    np.testing.assert_allclose(h_ti.sum(dim=(1, 2)).numpy() + penalty, expected, atol=1e-10)


def test_coupling_energies_with_pair_weights() -> None:
    J = torch.ones(1, 2, 3, dtype=F64)
    u, w = torch.tensor([[1.0, 0.5]], dtype=F64), torch.tensor([[1.0, 1.0, 0.0]], dtype=F64)
    assert fn.coupling_energies(J, u, w).tolist() == [[-2.0, -1.0]]
    drop = torch.tensor([[[2.0, 0.0, 2.0], [0.0, 0.0, 0.0]]], dtype=F64)
    assert fn.coupling_energies(J, u, w, pair_weights=drop).tolist() == [[-2.0, -0.0]]


def test_energy_softmax_masks_and_fallbacks() -> None:
    J = torch.zeros(1, 3, 3, dtype=F64)
    h = torch.tensor([[0.0, 1.0, 2.0]], dtype=F64)
    w = torch.tensor([[1.0, 0.0, 0.5]], dtype=F64)
    allowed = torch.tensor([[[True, True, True], [True, True, False], [False, False, False]]])
    attn = fn.energy_softmax(J, h, w, w, allowed=allowed)
    assert attn[0, 0, 1] == 0 and attn[0, 0].sum().item() == pytest.approx(1.0)
    # row 1: its only selected key (0) is allowed: all weight there
    assert attn[0, 1].tolist() == [1.0, 0.0, 0.0]
    assert attn[0, 2].tolist() == [0.0, 0.0, 0.0]  # no allowed key: zeros, not NaN
    nothing = fn.energy_softmax(J, h, w, torch.zeros_like(w))  # nothing selected: Boltzmann over all keys
    np.testing.assert_allclose(nothing[0, 0].numpy(), np.ones(3) / 3)


# ---------------------------------------------------------------- gradients
def test_gradcheck_of_each_formula(rng: np.random.Generator) -> None:
    q, k = (_t(a).requires_grad_() for a in rng.normal(size=(2, 2, 3, 4)))
    assert torch.autograd.gradcheck(lambda a, b: fn.js_coupling(a, b), (q, k), eps=1e-6, atol=1e-6, rtol=1e-4)
    v = _t(rng.uniform(0.2, 1.0, size=(2, 3, 5))).requires_grad_()  # inside the clamp: a real gradient
    for transform in ("clamp", "softmax", "abs"):
        assert torch.autograd.gradcheck(
            lambda t, tr=transform: fn.value_entropy_terms(t, transform=tr), (v,), eps=1e-7, atol=1e-6, rtol=1e-4
        )
    energies, fields = (_t(a).requires_grad_() for a in rng.normal(size=(2, 2, 3)))
    terms = _t(rng.uniform(0.1, 0.5, size=(2, 3, 4))).requires_grad_()
    assert torch.autograd.gradcheck(fn.paper_combination, (energies, terms, fields), eps=1e-6, atol=1e-5, rtol=1e-4)
    J, h = _t(rng.normal(size=(2, 3, 3))).requires_grad_(), _t(rng.normal(size=(2, 3))).requires_grad_()
    w = torch.tensor([[1.0, 0.0, 2 / 3], [0.0, 0.0, 0.0]], dtype=F64)
    assert torch.autograd.gradcheck(lambda a, b: fn.energy_softmax(a, b, w, w), (J, h), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(lambda a, b: fn.token_energies(a, b, w), (J, h), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["zeros", "constant", "huge", "zero_sum_rows", "underflow"])
def test_no_nan_in_forward_or_backward(kind: str) -> None:
    g = torch.Generator().manual_seed(0)
    v = {
        "zeros": torch.zeros(2, 3, 4, dtype=F64),
        "constant": torch.full((2, 3, 4), 3.0, dtype=F64),
        "huge": 1e6 * torch.randn(2, 3, 4, generator=g, dtype=F64),
        "zero_sum_rows": torch.tensor([[1.0, -1.0, 0.5, -0.5], [-1e-6, 0.0, 0.0, 0.0], [0.0] * 4], dtype=F64).expand(
            2, 3, 4
        ),
        "underflow": torch.tensor([[800.0, -800.0, 0.0, 1.0]] * 3, dtype=F64).expand(2, 3, 4),
    }[kind].clone()
    v.requires_grad_()
    for transform in ("clamp", "softmax", "abs"):
        hi, h = fn.value_entropy_terms(v, transform=transform)
        J = fn.js_coupling(v, v)
        out = fn.paper_combination(h, hi, h - h.mean())
        (out.sum() + J.sum()).backward()
        assert torch.isfinite(out).all() and torch.isfinite(J).all(), transform
        assert v.grad is not None and torch.isfinite(v.grad).all(), transform
        v.grad = None


def test_import_without_torch_raises_missing_dependency() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import qama_compile\n"
        "try:\n    import qama_compile.nn\nexcept qama_compile.MissingDependencyError as e:\n    print('OK', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert res.stdout.startswith("OK") and "pip install" in res.stdout, res.stdout + res.stderr

"""Our QAMA operator against a transcription of the authors' forward pass.

``AuthorsForward`` below re-implements, for this test only, the forward of the authors'
layer (github.com/Dxee-e/QAMA at commit bbbfe60: ``QAMA/QAMultiheadAttention.py``,
``QAMultiheadAttention.forward``, and ``QAMA/backend_kaiwu_sa/solver.py``,
``Solver.energy_function`` and ``Solver._solve_step``'s objective) with their formulas, their
``EPS = 1e-6``, their clamp, their in-place batch norm of J's off-diagonal and their three
batch norms, and with the solver call replaced by given spins. Deliberate departures,
each the only sensible reading where their code cannot run:

* ``H = 1``: their objective divides the head penalty by its number of head pairs, which is
  0 (``ZeroDivisionError``); the transcription, like our lowering, takes the empty penalty
  as 0.

Tolerances: float64 elementwise ``rtol = atol = 1e-12``; float32 ``max |ours - theirs| <=
2e-5 * max(1, max |theirs|)`` per tensor (``test_measured_agreement`` prints the worst case
with ``-s``; over 30 seeds x the 40 configurations below we measured 1.1e-14 and 4.4e-6).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from torch import nn

from qama_compile.nn import QAMA

AUTHORS_EPS = 1e-6


class AuthorsForward(nn.Module):
    """The authors' forward, transcribed; ``x`` (numpy ``[B, H, N, q]``, 0/1) stands in for their solver."""

    def __init__(self, num_heads: int, *, bits: int, alpha: float = 1.0, beta: float = 1.0, penalty: float = 2.0):
        super().__init__()
        self.bits, self.alpha, self.beta, self.penalty = bits, alpha, beta, penalty
        self.J_bn = nn.BatchNorm1d(num_heads)
        self.h_bn = nn.BatchNorm1d(num_heads)
        self.H_bn = nn.BatchNorm2d(num_heads)
        self.last_J: torch.Tensor | None = None
        self.last_h: torch.Tensor | None = None

    def soft_weights(self, x: np.ndarray) -> np.ndarray:
        """Their soft selection, in numpy: ``sum_r 2^r x_r`` times ``1 / (2^q - 1)``."""
        powers = np.array([2**r for r in range(self.bits)])
        return np.sum(x * powers, axis=-1) * (1.0 / (2**self.bits - 1))

    def energy_function(self, J: torch.Tensor, h: torch.Tensor, x: np.ndarray) -> torch.Tensor:
        """``Solver.energy_function``: per-token energies with the spins held constant."""
        xw = torch.from_numpy(self.soft_weights(x)).type(J.dtype).to(J.device)
        quartic = torch.sum(J * xw[:, :, :, None] * xw[:, :, None, :], dim=-1)
        linear = h * xw
        return -self.alpha * quartic - self.beta * linear

    def objective(self, J: np.ndarray, h: np.ndarray, x: np.ndarray) -> float:
        """``Solver._solve_step``'s QUBO for one item: ``J [H, N, N]``, ``h [H, N]``, ``x [H, N, q]``."""
        xw = self.soft_weights(x)
        value = -self.alpha * float((J * xw[:, :, None] * xw[:, None, :]).sum()) - self.beta * float((h * xw).sum())
        pairs = [float((x[t] * x[u]).sum()) for t in range(x.shape[0]) for u in range(t + 1, x.shape[0])]
        if pairs:  # H = 1: no pairs; their code divides by len(pairs) = 0 here
            value += self.penalty * sum(pairs) / len(pairs)
        return value

    def forward(self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, x: np.ndarray) -> torch.Tensor:
        eps = AUTHORS_EPS
        # value entropy
        V = V / (torch.sum(V, dim=-1, keepdim=True) + eps)
        V = torch.clamp(V, min=eps, max=1.0)
        hi = -V * torch.log2(V)
        h = torch.sum(hi, dim=-1)
        # Jensen-Shannon coupling
        pq, pk = torch.softmax(Q, dim=-1).unsqueeze(3), torch.softmax(K, dim=-1).unsqueeze(2)
        m = 0.5 * (pq + pk)
        kl_q = torch.sum(pq * torch.log2(pq / (m + eps) + eps), dim=-1)
        kl_k = torch.sum(pk * torch.log2(pk / (m + eps) + eps), dim=-1)
        J = 0.5 * kl_q + 0.5 * kl_k
        # batch norm of the off-diagonal (in place, as theirs) and of h
        off = ~np.eye(Q.shape[2], dtype=bool)
        J[:, :, off] = self.J_bn(J[:, :, off])
        h = self.h_bn(h)
        self.last_J, self.last_h = J.detach().clone(), h.detach().clone()
        H = self.energy_function(J, h, x)
        Hd = H.unsqueeze(-1) * hi / h.unsqueeze(-1)
        return self.H_bn(-Hd)


# ---------------------------------------------------------------- helpers
def _randomise_norms(module: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial affine parameters and running statistics, so eval mode is a real test."""
    with torch.no_grad():
        for bn in (m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)):
            bn.weight.copy_(0.5 + torch.rand(bn.weight.shape, generator=gen))
            bn.bias.copy_(0.3 * torch.randn(bn.bias.shape, generator=gen))
            bn.running_mean.copy_(0.2 * torch.randn(bn.running_mean.shape, generator=gen))
            bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=gen))


def _pair(heads: int, bits: int, dtype: torch.dtype, seed: int) -> tuple[QAMA, AuthorsForward]:
    ours = QAMA(heads, bits=bits, alpha=0.9, beta=1.1, penalty=2.0, backend="exact", seed=0).to(dtype)
    theirs = AuthorsForward(heads, bits=bits, alpha=0.9, beta=1.1, penalty=2.0).to(dtype)
    _randomise_norms(ours, torch.Generator().manual_seed(seed))
    theirs.J_bn.load_state_dict(ours.coupling_norm.state_dict())
    theirs.h_bn.load_state_dict(ours.field_norm.state_dict())
    theirs.H_bn.load_state_dict(ours.output_norm.state_dict())
    return ours, theirs


def _inputs(
    shape: tuple[int, int, int, int, int], dtype: torch.dtype, seed: int, values: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, h, n, d, dv = shape
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, n, d, generator=g, dtype=torch.float64)
    k = torch.randn(b, h, n, d, generator=g, dtype=torch.float64)
    if values == "positive":  # most entries inside the clamp range: gradients through the division
        v = 0.1 + torch.rand(b, h, n, dv, generator=g, dtype=torch.float64)
    else:  # projected values of mixed sign, as in a real layer
        v = torch.randn(b, h, n, dv, generator=g, dtype=torch.float64)
    return tuple(t.to(dtype).requires_grad_() for t in (q, k, v))  # type: ignore[return-value]


SHAPES = [  # (B, H, N, d, d_v), bits
    ((2, 1, 3, 4, 4), 2),  # H = 1
    ((1, 1, 5, 3, 6), 3),  # H = 1, one item
    ((3, 2, 4, 5, 5), 3),
    ((2, 4, 5, 8, 6), 4),
    ((4, 3, 2, 4, 3), 1),
]
TOL = {torch.float64: {"rtol": 1e-12, "atol": 1e-12}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}
#: float32 is compared against the tensor's scale: max |ours - theirs| <= F32_SCALED * max(1, max |theirs|)
#: (single elements of the value gradient, which passes through 1 / h, can differ by more than 1e-5).
F32_SCALED = 2e-5


def _assert_agree(ours: torch.Tensor, theirs: torch.Tensor, label: str) -> None:
    if theirs.dtype == torch.float64:
        torch.testing.assert_close(ours, theirs, **TOL[torch.float64], msg=lambda m: f"{label}: {m}")
        return
    scale = float(theirs.abs().max().clamp_min(1.0))
    diff = float((ours - theirs).abs().max())
    assert diff <= F32_SCALED * scale, f"{label}: max difference {diff:.3g} at scale {scale:.3g}"


def _run_both(
    shape: tuple[int, int, int, int, int], bits: int, dtype: torch.dtype, train: bool, values: str, seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Outputs, input gradients, parameter gradients and running statistics of both, for the same spins."""
    ours, theirs = _pair(shape[1], bits, dtype, seed)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(*shape[:3], bits)).astype(np.int8)
    weight = torch.randn(shape[0], shape[1], shape[2], shape[4], generator=torch.Generator().manual_seed(seed + 1))
    results: dict[str, list[torch.Tensor]] = {}
    for name, module in (("ours", ours), ("theirs", theirs)):
        q, k, v = _inputs(shape, dtype, seed, values)
        out = module(q, k, v, solution=torch.from_numpy(x)) if name == "ours" else module(q, k, v, x)
        (out * weight.to(dtype)).sum().backward()
        norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        results[name] = [out.detach(), q.grad, k.grad, v.grad]
        results[name] += [p.grad for bn in norms for p in (bn.weight, bn.bias)]
        results[name] += [s for bn in norms for s in (bn.running_mean, bn.running_var)]
    labels = ["output", "dq", "dk", "dv"]
    labels += [f"{n}.{p}" for n in ("J_bn", "h_bn", "H_bn") for p in ("weight.grad", "bias.grad")]
    labels += [f"{n}.{s}" for n in ("J_bn", "h_bn", "H_bn") for s in ("running_mean", "running_var")]
    return {lab: (a, b) for lab, a, b in zip(labels, results["ours"], results["theirs"], strict=True)}


# ---------------------------------------------------------------- the equivalence
@pytest.mark.parametrize("values", ["mixed", "positive"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("shape", "bits"), SHAPES)
def test_output_gradients_and_statistics_match_the_authors(
    shape: tuple[int, int, int, int, int], bits: int, dtype: torch.dtype, train: bool, values: str
) -> None:
    for label, (ours, theirs) in _run_both(shape, bits, dtype, train, values, seed=7).items():
        assert ours is not None and theirs is not None, label
        assert torch.isfinite(theirs).all(), label
        _assert_agree(ours, theirs, label)


def test_the_gradients_are_not_trivial() -> None:
    """The comparison above is meaningful: every input and every norm parameter gets gradient."""
    res = _run_both((3, 2, 4, 5, 5), 3, torch.float64, True, "positive", seed=3)
    for label in ("dq", "dk", "dv", "J_bn.weight.grad", "h_bn.weight.grad", "H_bn.weight.grad"):
        assert res[label][1].abs().max() > 1e-6, label


def test_measured_agreement() -> None:
    """Worst relative disagreement over all shapes and modes (print with ``pytest -s``)."""
    worst: dict[torch.dtype, float] = {torch.float64: 0.0, torch.float32: 0.0}
    for (shape, bits), dtype, train, values in itertools.product(
        SHAPES, (torch.float64, torch.float32), (True, False), ("mixed", "positive")
    ):
        for label, (ours, theirs) in _run_both(shape, bits, dtype, train, values, seed=11).items():
            scale = theirs.abs().max().clamp_min(1.0)
            worst[dtype] = max(worst[dtype], float((ours - theirs).abs().max() / scale))
            assert label
    print(f"\nworst |ours - theirs| / max(1, |theirs|): float64 {worst[torch.float64]:.2e}, "
          f"float32 {worst[torch.float32]:.2e}")  # fmt: skip
    assert worst[torch.float64] < 1e-12 and worst[torch.float32] < F32_SCALED


# ---------------------------------------------------------------- the solver's spins
@pytest.mark.parametrize(("shape", "bits"), [((3, 2, 3, 4, 4), 2), ((2, 1, 4, 3, 3), 3), ((2, 3, 2, 4, 4), 2)])
def test_exact_backend_returns_a_ground_state_of_the_authors_qubo(
    shape: tuple[int, int, int, int, int], bits: int
) -> None:
    """With ``backend="exact"`` our spins minimise the authors' objective (enumerated here), item by item."""
    ours, theirs = _pair(shape[1], bits, torch.float64, seed=5)
    ours.num_reads = 1
    q, k, v = _inputs(shape, torch.float64, 5, "mixed")
    out = ours(q, k, v)
    x = ours.last_solution
    assert x is not None and x.dtype == torch.int8 and tuple(x.shape) == (*shape[:3], bits)
    ref = theirs(q, k, v, x.numpy())  # same spins through their forward: same output
    torch.testing.assert_close(out, ref, **TOL[torch.float64])
    assert theirs.last_J is not None and theirs.last_h is not None
    J, h = theirs.last_J.numpy(), theirs.last_h.numpy()
    n_var = shape[1] * shape[2] * bits
    states = ((np.arange(2**n_var)[:, None] >> np.arange(n_var)) & 1).reshape(-1, shape[1], shape[2], bits)
    for b in range(shape[0]):
        energies = np.array([theirs.objective(J[b], h[b], s) for s in states])
        ours_energy = theirs.objective(J[b], h[b], x[b].numpy())
        assert ours_energy == pytest.approx(energies.min(), abs=1e-9)
        assert ours.last_solver_energy is not None
        assert ours.last_solver_energy[b] == pytest.approx(ours_energy, abs=1e-9)  # the IR's energy is theirs


def test_single_head_runs_where_the_authors_code_divides_by_zero() -> None:
    """H = 1: no head pairs; their objective divides by zero, ours has no penalty term."""
    op = QAMA(1, bits=2, backend="exact", seed=0, num_reads=1)
    q, k, v = _inputs((2, 1, 4, 3, 3), torch.float32, 1, "mixed")
    out = op(q, k, v)
    out.sum().backward()
    assert out.shape == (2, 1, 4, 3) and torch.isfinite(out).all() and q.grad is not None
    assert op.last_solve_info["groups"][0]["variables"] == 4 * 2

"""Differentiable torch versions of the QAMA formulas (DESIGN.md section 2).

These mirror the numpy reference in :mod:`qama_compile.core.hamiltonian` (``tests/test_nn.py``
checks they agree to floating-point accuracy) but are written so that autograd gives
finite gradients for every finite input:

* :func:`js_coupling` - ``J_tij = JS(softmax(q_i) || softmax(k_j))`` in bits;
* :func:`value_entropy` - ``h_ti`` with the clamp ``p = clamp(v / (sum v + eps), eps, 1)``;
* :func:`token_weights` - solver bits ``x [B, V]`` -> soft selection ``w [B, H, N]``;
* :func:`token_energies` - ``H_ti = -alpha sum_j J_tij w_ti w_tj - beta h_ti w_ti``;
* :func:`energy_attention` - the attention weights the operator builds from the energy.

The solver's ``x`` (hence ``w``) is a constant: gradients reach ``q``, ``k`` and ``v``
only through ``J`` and ``h`` ("energy-based backpropagation").

>>> import torch
>>> q = torch.tensor([[0.0, 0.0], [5.0, -5.0]], dtype=torch.float64)
>>> J = js_coupling(q, q)
>>> bool(torch.allclose(torch.diagonal(J), torch.zeros(2, dtype=torch.float64))), bool(J[0, 1] > 0)
(True, True)
>>> w = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)           # [B=1, H=1, N=2]
>>> token_energies(J[None, None], torch.ones(1, 1, 2, dtype=torch.float64), w).tolist()
[[[-1.0, -0.0]]]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..base.optional import optional_import
from ..core.hamiltonian import EPS
from ..errors import InvalidInputError

if TYPE_CHECKING:
    import torch
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")

_LN2 = math.log(2.0)

__all__ = [
    "bit_weights",
    "energy_attention",
    "js_coupling",
    "pair_energies",
    "qama_attention",
    "token_energies",
    "token_weights",
    "value_entropy",
]


def _xlog2x(x: torch.Tensor) -> torch.Tensor:
    """``x log2 x`` with ``0 log 0 = 0`` and a finite gradient at ``x = 0``."""
    return x * torch.log(torch.where(x > 0, x, torch.ones_like(x))) / _LN2


def js_coupling(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``J_ij = JS(softmax(q_i) || softmax(k_j))`` (base 2) for ``q, k [..., N, d]`` -> ``[..., N, N]``.

    Same formula as :func:`qama_compile.core.hamiltonian.js_coupling`:
    ``JS = H(M) - (H(P) + H(R)) / 2`` with ``M = (P + R) / 2``, clamped to [0, 1].

    >>> import torch
    >>> q = torch.zeros(3, 4)
    >>> js_coupling(q, q).abs().max().item()
    0.0
    """
    if q.shape[-1] != k.shape[-1] or q.shape[:-2] != k.shape[:-2]:
        raise InvalidInputError(
            f"q and k must agree in leading axes and head_dim, got {tuple(q.shape)} and {tuple(k.shape)}",
            fix="project queries and keys to the same head dimension",
        )
    p = torch.softmax(q, dim=-1)
    r = torch.softmax(k, dim=-1)
    hp = -_xlog2x(p).sum(dim=-1)  # [..., N]
    hr = -_xlog2x(r).sum(dim=-1)  # [..., M]
    mix = 0.5 * (p.unsqueeze(-2) + r.unsqueeze(-3))  # [..., N, M, d]
    hm = -_xlog2x(mix).sum(dim=-1)
    js = hm - 0.5 * (hp.unsqueeze(-1) + hr.unsqueeze(-2))
    return js.clamp(0.0, 1.0)


def value_entropy(v: torch.Tensor, *, eps: float = EPS) -> torch.Tensor:
    """``h_i = -sum_k p_ik log2 p_ik``, ``p_i = clamp(v_i / (sum_k v_ik + eps), eps, 1)``; ``[..., N, d] -> [..., N]``.

    Matches :func:`qama_compile.core.hamiltonian.value_entropy` wherever that is finite. Clamped
    entries get zero gradient (as ``clamp`` does) and the division is guarded so that the
    backward pass has no ``0 * inf``: a row whose denominator is exactly 0 is divided by 1.

    >>> import torch
    >>> value_entropy(torch.ones(1, 4)).tolist()        # uniform row: 2 bits
    [2.0]
    >>> value_entropy(torch.zeros(1, 4)).item() >= 0    # zero row: finite
    True
    """
    den = v.sum(dim=-1, keepdim=True) + eps
    den = torch.where(den == 0, torch.ones_like(den), den)
    with torch.no_grad():
        ratio = v / den
        inside = (ratio > eps) & (ratio < 1.0)
        clamped = ratio.clamp(eps, 1.0)
    # Only in-range entries carry the division (and its gradient); the others are constants.
    p_in = torch.where(inside, v, torch.zeros_like(v)) / den
    p = torch.where(inside, p_in, clamped)
    return -(p * torch.log(p)).sum(dim=-1) / _LN2


def bit_weights(bits: int, *, dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.Tensor:
    """``c_r = 2^r / (2^q - 1)``, ``r = 0..q-1`` (as :func:`qama_compile.core.hamiltonian.bit_weights`).

    >>> bit_weights(2).tolist()
    [0.3333333333333333, 0.6666666666666666]
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise InvalidInputError(f"bits must be an integer in 1..8, got {bits!r}", fix="use bits between 1 and 8")
    c = 2.0 ** torch.arange(bits, dtype=torch.float64) / (2.0**bits - 1.0)
    return c.to(dtype=dtype or torch.float64, device=device)


def token_weights(x: torch.Tensor, *, heads: int, tokens: int, bits: int) -> torch.Tensor:
    """Soft selection ``w [B, H, N]`` from binary solver bits ``x [B, H*N*bits]`` (index ``(t*N + i)*bits + r``).

    >>> import torch
    >>> token_weights(torch.tensor([[1, 1, 0, 1]]), heads=1, tokens=2, bits=2).tolist()
    [[[1.0, 0.6666666666666666]]]
    """
    b = x.shape[0]
    if x.ndim != 2 or x.shape[1] != heads * tokens * bits:
        raise InvalidInputError(
            f"x must be [B, {heads * tokens * bits}] (heads*tokens*bits), got {tuple(x.shape)}",
            fix="pass one binary solution per batch item",
        )
    c = bit_weights(bits, dtype=torch.float64, device=x.device)
    return x.to(torch.float64).reshape(b, heads, tokens, bits) @ c


def pair_energies(
    couplings: torch.Tensor, fields: torch.Tensor, w: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0
) -> torch.Tensor:
    """``e_tij = -alpha J_tij w_ti w_tj - beta h_tj w_tj``: the energy the pair (i, j) and key j contribute.

    ``couplings [..., N, N]``, ``fields [..., N]``, ``w [..., N]`` -> ``[..., N, N]``.
    """
    w = w.to(couplings.dtype)
    return -alpha * couplings * (w.unsqueeze(-1) * w.unsqueeze(-2)) - beta * (fields * w).unsqueeze(-2)


def token_energies(
    couplings: torch.Tensor, fields: torch.Tensor, w: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0
) -> torch.Tensor:
    """Per-token energies ``H_ti = -alpha sum_j J_tij w_ti w_tj - beta h_ti w_ti`` (``[..., N]``).

    ``sum_{t,i} H_ti`` plus the head penalty is the QUBO energy ``E(x)`` of DESIGN.md.
    """
    w = w.to(couplings.dtype)
    return -alpha * w * (couplings @ w.unsqueeze(-1)).squeeze(-1) - beta * fields * w


def energy_attention(
    couplings: torch.Tensor, fields: torch.Tensor, w: torch.Tensor, *, alpha: float = 1.0, beta: float = 1.0
) -> torch.Tensor:
    """Attention weights ``A [..., N, N]`` (rows sum to 1) from the energy at the solver's ``w``.

    ``A_tij = w_tj exp(-e_tij) / sum_l w_tl exp(-e_til)`` with ``e`` from :func:`pair_energies`:
    a Boltzmann distribution (temperature 1) over the keys the solver selected, each
    weighted by its soft selection ``w_tj``. Keys with ``w_tj = 0`` get exactly 0. A head
    that selected no key at all falls back to uniform weights (all its energies are 0).

    >>> import torch
    >>> J = torch.zeros(1, 3, 3)
    >>> A = energy_attention(J, torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))
    >>> A[0, 0].tolist()
    [0.5, 0.0, 0.5]
    """
    w = w.to(couplings.dtype)
    energy = pair_energies(couplings, fields, w, alpha=alpha, beta=beta)
    selected = (w > 0).unsqueeze(-2).expand_as(energy)
    logw = torch.log(torch.where(w > 0, w, torch.ones_like(w))).unsqueeze(-2)
    logits = torch.where(selected, -energy + logw, torch.full_like(energy, -math.inf))
    any_selected = selected.any(dim=-1, keepdim=True)
    logits = torch.where(any_selected, logits, -energy)  # nothing selected: plain Boltzmann weights
    return torch.softmax(logits, dim=-1)


def qama_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    eps: float = EPS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The operator's core for a fixed solution ``w`` (no normalisation, no projections).

    ``q, k, v [..., N, d]`` and token weights ``w [..., N]`` -> ``(out [..., N, d_v],
    A [..., N, N], H [..., N])``. The gradient tests use it with a fixed ``w``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> q, k, v = torch.randn(3, 2, 4, 8, generator=g, dtype=torch.float64)
    >>> out, A, H = qama_attention(q, k, v, torch.ones(2, 4, dtype=torch.float64))
    >>> out.shape, bool(torch.allclose(A.sum(-1), torch.ones(2, 4, dtype=torch.float64)))
    (torch.Size([2, 4, 8]), True)
    """
    couplings = js_coupling(q, k)
    fields = value_entropy(v, eps=eps)
    attn = energy_attention(couplings, fields, w, alpha=alpha, beta=beta)
    energies = token_energies(couplings, fields, w, alpha=alpha, beta=beta)
    return attn @ v, attn, energies

"""The QAMA operator's mathematics in plain torch (no solver, no modules, no numpy).

Every function here is differentiable and has finite gradients for finite inputs. The
formulas are those of the authors' layer (QAMA, arXiv 2504.11083; their public code,
``QAMA/QAMultiheadAttention.py`` and ``QAMA/backend_kaiwu_sa/solver.py``); docs/operator.md
ties each one to their code and to the test that checks it.

* :func:`value_entropy_terms` - ``p = clamp(v / (sum v + eps), eps, 1)``, ``hi = -p log2 p``, ``h = sum hi``;
* :func:`js_coupling` - ``J_ij = JS(softmax(q_i) || softmax(k_j))`` with the authors' ``eps``;
* :func:`soft_weights` - solver bits ``x [..., bits]`` -> soft selection ``w`` in [0, 1];
* :func:`token_energies` - ``H_ti = -alpha sum_j J_tij w_ti w_tj - beta h_ti w_ti``;
* :func:`paper_combination` - ``-(H_ti hi_tid / h_ti)`` (before the output batch norm);
* :func:`energy_softmax` - our masked-softmax variant (attention weights from the energy).

>>> import torch
>>> q = torch.tensor([[0.0, 0.0], [5.0, -5.0]], dtype=torch.float64)
>>> J = js_coupling(q, q)
>>> round(J[0, 1].item(), 4), bool(J[0, 0].abs() < 1e-5)     # JS of (1/2, 1/2) and softmax(5, -5)
(0.311, True)
>>> w = soft_weights(torch.tensor([[1, 1], [0, 0]]))          # bits r = 0, 1 -> w = (1 + 2) / 3
>>> w.tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from ..base.optional import optional_import
from ..errors import InvalidInputError

if TYPE_CHECKING:
    import torch
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")

__all__ = [
    "EPS",
    "VALUE_TRANSFORMS",
    "ValueTransform",
    "bit_weights",
    "coupling_energies",
    "energy_softmax",
    "js_coupling",
    "pair_energies",
    "paper_combination",
    "soft_weights",
    "token_energies",
    "value_distribution",
    "value_entropy_terms",
]

#: The authors' ``EPS`` (their layer uses one constant for the value clamp and the JS divergence).
EPS = 1e-6

ValueTransform = Literal["clamp", "softmax", "abs"]
VALUE_TRANSFORMS: tuple[str, ...] = ("clamp", "softmax", "abs")

_LN2 = math.log(2.0)


def _xlog2x(p: torch.Tensor) -> torch.Tensor:
    """``p log2 p`` with ``0 log 0 = 0`` and a finite gradient at 0."""
    return p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))


def _clamped_ratio(v: torch.Tensor, eps: float) -> torch.Tensor:
    """``clamp(v / (sum v + eps), eps, 1)`` with the gradient of ``torch.clamp`` and no ``0 * inf``.

    Entries inside ``[eps, 1]`` carry ``v / den`` (gradient through ``v`` and the row sum, as
    in the authors' code); clamped entries are constants. A row whose denominator is exactly
    0 (the authors' code gives inf/NaN there) is divided by 1 instead.
    """
    den = v.sum(dim=-1, keepdim=True) + eps
    den = torch.where(den == 0, torch.ones_like(den), den)
    with torch.no_grad():
        ratio = v / den
        inside = (ratio >= eps) & (ratio <= 1.0)
        clamped = ratio.clamp(eps, 1.0)
    carried = torch.where(inside, v, torch.zeros_like(v)) / den
    return torch.where(inside, carried, clamped)


def value_distribution(v: torch.Tensor, *, eps: float = EPS, transform: ValueTransform = "clamp") -> torch.Tensor:
    """The per-token value "distribution" ``p [..., N, d]`` whose entropy is the local field.

    * ``"clamp"`` (the paper's): ``p = clamp(v / (sum_k v_k + eps), eps, 1)``. For value rows
      of mixed sign ``p`` is not a distribution (entries are cut at 1 and raised to ``eps``),
      and the entropy can exceed ``log2 d``; see docs/operator.md.
    * ``"softmax"`` (ours): ``p = softmax(v)``, a distribution for every ``v``: ``0 <= h <= log2 d``.
    * ``"abs"`` (ours): ``p = clamp(|v| / (sum_k |v_k| + eps), eps, 1)``, the magnitudes' shares.

    >>> import torch
    >>> value_distribution(torch.tensor([[1.0, 3.0]]), eps=1e-6).tolist()
    [[0.24999994039535522, 0.7499998211860657]]
    """
    if transform == "clamp":
        return _clamped_ratio(v, eps)
    if transform == "softmax":
        return torch.softmax(v, dim=-1)
    if transform == "abs":
        return _clamped_ratio(v.abs(), eps)
    raise InvalidInputError(
        f"unknown value_transform {transform!r}",
        fix=f"use one of {', '.join(VALUE_TRANSFORMS)} ('clamp' is the paper's)",
    )


def value_entropy_terms(
    v: torch.Tensor, *, eps: float = EPS, transform: ValueTransform = "clamp"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hi [..., N, d], h [..., N])``: ``hi_ik = -p_ik log2 p_ik`` and the entropy ``h_i = sum_k hi_ik``.

    >>> import torch
    >>> hi, h = value_entropy_terms(torch.ones(1, 4))        # uniform row: 2 bits
    >>> [round(x, 5) for x in h.tolist()]
    [2.0]
    """
    p = value_distribution(v, eps=eps, transform=transform)
    hi = -_xlog2x(p) if transform == "softmax" else -p * torch.log2(p)  # clamped p >= eps > 0
    return hi, hi.sum(dim=-1)


#: Elements of one ``[rows, Lk, d]`` block of the JS workspace (8 MiB in float32).
_JS_BLOCK = 1 << 21


def _row_block(p: torch.Tensor, r: torch.Tensor) -> int:
    """Query rows per block so that a ``[..., rows, Lk, d]`` temporary has about ``_JS_BLOCK`` elements."""
    per_row = max(math.prod(p.shape[:-2]) * r.shape[-2] * p.shape[-1], 1)
    return max(1, min(p.shape[-2], _JS_BLOCK // per_row))


class _JSCoupling(torch.autograd.Function):
    """The authors' JS coupling of two probability tensors, in row blocks, with an analytic backward.

    Same operations as their code in the forward (bit-identical); the backward recomputes the
    block instead of keeping autograd's ``[..., Lq, Lk, d]`` intermediates. With
    ``F(x) = x log2(x / D + eps)``, ``D = (a + b) / 2 + eps``, ``r = x / D``, ``u = r + eps``:
    ``dF/dx = log2 u + r / (u ln 2)`` and ``dF/dD = -r^2 / (u ln 2)``, ``dD/da = dD/db = 1/2``.
    """

    @staticmethod
    def forward(ctx: Any, p: torch.Tensor, r: torch.Tensor, eps: float) -> torch.Tensor:
        step = _row_block(p, r)
        b = r.unsqueeze(-3)
        blocks = []
        for start in range(0, p.shape[-2], step):  # blocks of query rows, not single tokens
            a = p[..., start : start + step, :].unsqueeze(-2)
            den = (0.5 * (a + b)).add_(eps)
            kl_a = (a / den).add_(eps).log2_().mul_(a).sum(dim=-1)
            kl_b = (b / den).add_(eps).log2_().mul_(b).sum(dim=-1)
            blocks.append(0.5 * kl_a + 0.5 * kl_b)
        ctx.save_for_backward(p, r)
        ctx.eps = eps
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=-2)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        p, r = ctx.saved_tensors
        eps = ctx.eps
        step = _row_block(p, r)
        b = r.unsqueeze(-3)
        grad_p, grad_r = [], torch.zeros_like(r)
        for start in range(0, p.shape[-2], step):
            a = p[..., start : start + step, :].unsqueeze(-2)
            g = grad[..., start : start + step, :].unsqueeze(-1)
            den = 0.5 * (a + b) + eps
            ra, rb = a / den, b / den
            ua, ub = ra + eps, rb + eps
            through_den = (ra * ra / ua + rb * rb / ub) * (-0.5 / _LN2)
            d_a = torch.log2(ua) + ra / ua / _LN2 + through_den
            d_b = torch.log2(ub) + rb / ub / _LN2 + through_den
            grad_p.append(0.5 * (g * d_a).sum(dim=-2))
            grad_r = grad_r + 0.5 * (g * d_b).sum(dim=-3)
        return (grad_p[0] if len(grad_p) == 1 else torch.cat(grad_p, dim=-2)), grad_r, None


def js_coupling(q: torch.Tensor, k: torch.Tensor, *, eps: float = EPS) -> torch.Tensor:
    """``J_ij = (KL(P_i || M_ij) + KL(R_j || M_ij)) / 2`` in bits, ``P = softmax(q)``, ``R = softmax(k)``.

    ``q [..., Lq, d]``, ``k [..., Lk, d]`` -> ``[..., Lq, Lk]``. The authors' regularised form:
    ``KL(P || M) = sum P log2(P / (M + eps) + eps)`` (it differs from the exact divergence by
    ``O(d eps)``; the ``eps`` also keeps every gradient finite). Computed in blocks of query
    rows (about 2M elements of ``[rows, Lk, d]`` at a time) with an analytic backward, so the
    ``[..., Lq, Lk, d]`` workspace is never held whole.

    >>> import torch
    >>> js_coupling(torch.zeros(3, 4), torch.zeros(2, 4)).shape
    torch.Size([3, 2])
    """
    if q.shape[-1] != k.shape[-1] or q.shape[:-2] != k.shape[:-2]:
        raise InvalidInputError(
            f"q and k must agree in leading axes and head_dim, got {tuple(q.shape)} and {tuple(k.shape)}",
            fix="project queries and keys to the same head dimension",
        )
    out: torch.Tensor = _JSCoupling.apply(torch.softmax(q, dim=-1), torch.softmax(k, dim=-1), float(eps))
    return out


def bit_weights(bits: int) -> list[float]:
    """``2^r`` for ``r = 0..bits-1``: bit ``r`` of a token's ``bits`` variables counts ``2^r``.

    >>> bit_weights(3)
    [1.0, 2.0, 4.0]
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise InvalidInputError(f"bits must be an integer in 1..8, got {bits!r}", fix="use bits between 1 and 8")
    return [float(2**r) for r in range(bits)]


def soft_weights(x: torch.Tensor, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Soft selection ``w = sum_r 2^r x_r / (2^q - 1)`` from binary ``x [..., q]`` -> ``[...]``.

    Computed in float64 (like the authors' numpy) and cast to ``dtype`` (default float64).

    >>> import torch
    >>> soft_weights(torch.tensor([[1, 0, 1], [0, 0, 0]])).tolist()
    [0.7142857142857142, 0.0]
    """
    q = x.shape[-1]
    scale = torch.tensor(bit_weights(q), dtype=torch.float64, device=x.device)
    w = (x.to(torch.float64) * scale).sum(dim=-1) * (1.0 / (2.0**q - 1.0))
    return w.to(dtype or torch.float64)


def coupling_energies(
    couplings: torch.Tensor,
    w_query: torch.Tensor,
    w_key: torch.Tensor,
    *,
    alpha: float = 1.0,
    pair_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``-alpha sum_j J_ij D_ij u_i w_j`` per query ``i``: ``J [..., Lq, Lk]``, ``u [..., Lq]``, ``w [..., Lk]``.

    ``pair_weights`` ``D`` (default 1) rescales single pairs (attention dropout).
    """
    pair = couplings * w_query.unsqueeze(-1) * w_key.unsqueeze(-2)
    if pair_weights is not None:
        pair = pair * pair_weights
    return -alpha * torch.sum(pair, dim=-1)


def token_energies(
    couplings: torch.Tensor,
    fields: torch.Tensor,
    w: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    pair_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The authors' per-token energy ``H_ti = -alpha sum_j J_tij w_ti w_tj - beta h_ti w_ti``.

    ``J [..., N, N]``, ``h [..., N]``, ``w [..., N]`` (a constant: the solver's) -> ``[..., N]``.
    ``sum_{t,i} H_ti`` plus the head penalty is the QUBO energy the solver minimised.

    >>> import torch
    >>> J = torch.ones(1, 2, 2); h = torch.ones(1, 2); w = torch.tensor([[1.0, 0.0]])
    >>> token_energies(J, h, w).tolist()
    [[-2.0, -0.0]]
    """
    return coupling_energies(couplings, w, w, alpha=alpha, pair_weights=pair_weights) - beta * fields * w


def paper_combination(energies: torch.Tensor, entropy_terms: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """The authors' output before its batch norm: ``-(H_ti * hi_tid / h_ti)`` -> ``[..., N, d]``.

    ``h`` is the batch-normalised entropy. Where ``h_ti`` is exactly 0 the authors' code
    divides by zero (inf or NaN); there the row is 0 (and so is its gradient).

    >>> import torch
    >>> paper_combination(torch.tensor([[2.0, 1.0]]), torch.ones(1, 2, 3), torch.tensor([[4.0, 0.0]])).tolist()
    [[[-0.5, -0.5, -0.5], [-0.0, -0.0, -0.0]]]
    """
    zero = fields == 0
    safe = torch.where(zero, torch.ones_like(fields), fields)
    out = energies.unsqueeze(-1) * entropy_terms / safe.unsqueeze(-1)
    return -torch.where(zero.unsqueeze(-1), torch.zeros_like(out), out)


def pair_energies(
    couplings: torch.Tensor,
    key_fields: torch.Tensor,
    w_query: torch.Tensor,
    w_key: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> torch.Tensor:
    """``e_ij = -alpha J_ij u_i w_j - beta h_j w_j``: the energy of the pair (i, j) and of key j. ``[..., Lq, Lk]``."""
    return -alpha * couplings * (w_query.unsqueeze(-1) * w_key.unsqueeze(-2)) - beta * (key_fields * w_key).unsqueeze(
        -2
    )


def energy_softmax(
    couplings: torch.Tensor,
    key_fields: torch.Tensor,
    w_query: torch.Tensor,
    w_key: torch.Tensor,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Our masked-softmax variant: attention ``A [..., Lq, Lk]`` from the energy at the solver's weights.

    ``A_ij = w_j exp(-e_ij) / sum_l w_l exp(-e_il)`` over the allowed keys the solver selected
    (``e`` from :func:`pair_energies`); keys with ``w_j = 0`` or disallowed pairs get exactly 0.
    A row that selected no allowed key falls back to ``exp(-e_ij)`` over its allowed keys; a
    row with no allowed key at all is 0 (softmax attention would give NaN).

    >>> import torch
    >>> A = energy_softmax(torch.zeros(1, 3, 3), torch.zeros(1, 3), torch.ones(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))
    >>> A[0, 0].tolist()
    [0.5, 0.0, 0.5]
    """
    energy = pair_energies(couplings, key_fields, w_query, w_key, alpha=alpha, beta=beta)
    ok = torch.ones_like(energy, dtype=torch.bool) if allowed is None else allowed.expand_as(energy)
    selected = ok & (w_key > 0).unsqueeze(-2)
    log_w = torch.log(torch.where(w_key > 0, w_key, torch.ones_like(w_key))).unsqueeze(-2)
    neg_inf = torch.full_like(energy, -math.inf)
    logits = torch.where(
        selected.any(dim=-1, keepdim=True),
        torch.where(selected, -energy + log_w, neg_inf),
        torch.where(ok, -energy, neg_inf),
    )
    any_ok = ok.any(dim=-1, keepdim=True)
    # A row with no allowed key would be softmax(-inf, ...) = NaN, also in the backward: use 0 logits.
    attn = torch.softmax(torch.where(any_ok, logits, torch.zeros_like(logits)), dim=-1)
    return torch.where(any_ok, attn, torch.zeros_like(attn))

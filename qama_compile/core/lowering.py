"""Lowering: attention tensors (Q, K, V) -> a batched QAMA problem over the canonical IR.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(3, 2, 4, 8))          # H=2 heads, N=4 tokens, d=8
>>> problem = lower_attention(q, k, v, bits=2)
>>> problem.shape, problem.ir.num_variables
((1, 2, 4, 2), 16)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.memory import check_memory, lowering_bytes, memory_limit, physical_memory
from ..errors import InvalidInputError
from .hamiltonian import EPS, Normalize, bit_weights, js_coupling, normalise, softmax, value_entropy
from .ir import QuadraticIR
from .problem import AttentionProblem


def _physical_memory() -> int:
    """Bytes of physical memory (kept for callers of the old name; see ``base.memory``)."""
    return physical_memory()


def as_array(x: Any, name: str) -> NDArray[np.float64]:
    """A finite float64 numpy copy of ``x`` (numpy array, nested list or torch tensor)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise InvalidInputError(
            f"tensor '{name}' is not a rectangular array ({exc})",
            fix="pass a numeric array whose rows all have the same length",
            tensor=name,
        ) from None
    if arr.dtype == object or arr.dtype.kind in "OSUVmM":
        raise InvalidInputError(
            f"tensor '{name}' has dtype {arr.dtype}; a numeric array is required",
            fix="pass a float array",
            tensor=name,
        )
    if arr.dtype.kind == "c":
        raise InvalidInputError(
            f"tensor '{name}' is complex; attention tensors must be real",
            fix="pass the real part (np.real) if that is what you mean",
            tensor=name,
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    out = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        kind = "NaN" if np.isnan(out).any() else "infinite values"
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidInputError(
            f"tensor '{name}' contains {kind} ({int(bad.sum())} entries, first at index {first})",
            fix="remove or impute non-finite values before lowering",
            tensor=name,
            index=first,
        )
    return out


def _as_batch(x: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    if x.ndim == 2:
        return x[None, None]
    if x.ndim == 3:
        return x[None]
    if x.ndim == 4:
        return x
    raise InvalidInputError(
        f"tensor '{name}' has rank {x.ndim} (shape {x.shape}); expected [N, d], [H, N, d] or [B, H, N, d]",
        fix="reshape to [batch, heads, tokens, head_dim]",
        tensor=name,
        shape=x.shape,
    )


def estimate_lowering_bytes(batch: int, heads: int, tokens: int, dim: int, bits: int) -> int:
    """Peak bytes :func:`lower_attention` needs (see :func:`qama_compile.base.memory.lowering_bytes`)."""
    return lowering_bytes(batch=int(batch), heads=int(heads), tokens=int(tokens), dim=int(dim), bits=int(bits))


def _peek_shape(x: Any) -> tuple[int, ...] | None:
    """The shape of an array or tensor without copying it (``None`` for anything else)."""
    shape = getattr(x, "shape", None)
    if shape is not None and (isinstance(x, np.ndarray) or hasattr(x, "detach")):
        return tuple(int(n) for n in shape)
    return None


def _check_memory(b: int, h: int, n_tok: int, d: int, bits: int, max_bytes: int | None) -> None:
    need = estimate_lowering_bytes(b, h, n_tok, d, bits)
    limit = max_bytes if max_bytes is not None else memory_limit()
    if need > limit:
        check_memory(
            need,
            what=f"lowering B={b}, H={h}, N={n_tok}, bits={bits}",
            fix="lower fewer problems at a time, fewer tokens, or a smaller bit width",
            limit=limit,
        )


def lower_attention(
    q: Any,
    k: Any,
    v: Any,
    *,
    bits: int = 4,
    alpha: float = 1.0,
    beta: float = 1.0,
    penalty: float = 2.0,
    normalize: Normalize | None = None,
    eps: float = EPS,
    max_bytes: int | None = None,
) -> AttentionProblem:
    """Lower attention tensors to the QAMA QUBO of DESIGN.md section 2.

    Args:
        q, k, v: ``[N, d]`` (one head), ``[H, N, d]`` or ``[B, H, N, d]``; numpy arrays,
            nested lists or torch tensors. ``q`` and ``k`` must have equal shapes; ``v`` the
            same leading axes and tokens (its last axis may differ).
        bits: binary variables per (head, token), 1..8.
        alpha, beta, penalty: weights of the coupling, field and head-penalty terms.
        normalize: ``None``/``"none"``, ``"standardise"`` or ``"minmax"`` for J's
            off-diagonal and h.
        max_bytes: refuse (before allocating) if the estimate exceeds this; default half
            the physical memory.

    Returns:
        An :class:`AttentionProblem` with ``B`` problems of ``H*N*bits`` binary variables.
    """
    c = bit_weights(bits)
    bits = int(bits)  # a numpy integer would overflow in size arithmetic
    for name, value in (("alpha", alpha), ("beta", beta), ("penalty", penalty), ("eps", eps)):
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            raise InvalidInputError(
                f"{name} must be a real number, got {value!r}", fix=f"pass a finite float {name}", parameter=name
            )
        try:
            finite = math.isfinite(float(value))
        except OverflowError:  # an int beyond float64, e.g. 10**400
            finite = False
        if not finite:
            shown = (
                str(value)
                if not isinstance(value, int) or abs(value) < 10**30
                else f"an integer of {len(str(abs(value)))} digits"
            )
            raise InvalidInputError(f"{name} must be finite, got {shown}", fix=f"pass a finite {name}", parameter=name)
    if eps <= 0:
        raise InvalidInputError(f"eps must be positive, got {eps}", fix="use a small positive eps like 1e-8")
    alpha, beta, penalty, eps = float(alpha), float(beta), float(penalty), float(eps)
    peek = [_peek_shape(x) for x in (q, k, v)]
    if all(p is not None and 2 <= len(p) <= 4 for p in peek) and len({len(p) for p in peek if p}) == 1:
        qs, vs = peek[0], peek[2]
        assert qs is not None and vs is not None
        full = (1,) * (4 - len(qs)) + qs
        _check_memory(full[0], full[1], full[2], max(full[3], vs[-1]), bits, max_bytes)  # before the copies
    qa, ka, va = (_as_batch(as_array(x, n), n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    if qa.shape != ka.shape:
        raise InvalidInputError(
            f"q and k must have the same shape, got q {qa.shape} and k {ka.shape}",
            fix="pass queries and keys of the same batch, heads, tokens and head_dim",
        )
    if va.shape[:3] != qa.shape[:3]:
        raise InvalidInputError(
            f"v must match q in batch, heads and tokens: q {qa.shape[:3]} vs v {va.shape[:3]}",
            fix="pass values for the same batch, heads and tokens",
        )
    b, h, n_tok, d = qa.shape
    for axis, size in (("batch", b), ("heads", h), ("tokens", n_tok), ("head_dim", d), ("value_dim", va.shape[3])):
        if size == 0:
            raise InvalidInputError(
                f"{axis} size is 0 (q shape {qa.shape}, v shape {va.shape}); nothing to lower",
                fix=f"pass at least one element along {axis}",
                axis=axis,
            )
    _check_memory(b, h, n_tok, max(d, va.shape[3]), bits, max_bytes)

    couplings, fields = normalise(js_coupling(qa, ka), value_entropy(va, eps=eps), normalize)
    attention = softmax(np.einsum("bhid,bhjd->bhij", qa, ka) / np.sqrt(d))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected and reported just below
        ir = build_qama_ir(couplings, fields, bits=bits, alpha=alpha, beta=beta, penalty=penalty, c=c)
    if not all(np.isfinite(a).all() for a in (ir.linear, ir.blocks, ir.data)):
        raise InvalidInputError(
            f"the QUBO coefficients overflow float64 (alpha={alpha:g}, beta={beta:g}, penalty={penalty:g})",
            fix="use smaller alpha, beta and penalty (the ground state does not change under a common scale)",
        )
    return AttentionProblem(
        ir=ir,
        couplings=couplings,
        fields=fields,
        attention=attention,
        bits=bits,
        alpha=float(alpha),
        beta=float(beta),
        penalty=float(penalty),
        normalize=normalize or "none",
    )


def build_qama_ir(
    couplings: NDArray[np.float64],
    fields: NDArray[np.float64],
    *,
    bits: int,
    alpha: float,
    beta: float,
    penalty: float,
    c: NDArray[np.float64] | None = None,
) -> QuadraticIR:
    """The QUBO IR from ``J [B, H, N, N]`` and ``h [B, H, N]`` (no loops over variables).

    Variable ``(t, i, r)`` has index ``(t * N + i) * bits + r``; block ``t`` holds head t.
    """
    c = bit_weights(bits) if c is None else c
    for name, arr in (("couplings", couplings), ("fields", fields)):
        if not np.isfinite(arr).all():  # e.g. from a NaN in the tensors of a PyTorch layer
            raise InvalidInputError(
                f"{name} (J or h) contain NaN or infinity; the QUBO cannot be built",
                fix="check the attention tensors for NaN or infinity before lowering",
                tensor=name,
            )
    b, h, n_tok, _ = couplings.shape
    n = n_tok * bits
    cc = np.outer(c, c)  # [q, q]
    # M[(i,r),(j,s)] = -alpha J_ij c_r c_s; the QUBO keeps M + M^T strictly above the diagonal:
    # token pairs i < j get -alpha (J_ij + J_ji) c_r c_s, and bit pairs r < s of one token get
    # -alpha 2 J_ii c_r c_s. Built in one pass over the [B, H, Nq, Nq] blocks.
    sym_upper = np.triu(couplings + np.swapaxes(couplings, -1, -2), k=1)
    blocks6 = np.multiply(
        sym_upper[:, :, :, None, :, None], (-alpha) * cc[None, None, None, :, None, :]
    )  # [B, H, N, q, N, q]
    tok = np.arange(n_tok)
    self_pairs = (-2.0 * alpha) * np.einsum("bhii->ibh", couplings)[..., None, None] * np.triu(cc, k=1)
    blocks6[:, :, tok, :, tok, :] = self_pairs  # advanced indices first: [N, B, H, q, q]
    blocks = blocks6.reshape(b, h, n, n)
    diag_self = (-alpha) * np.einsum("bhii->bhi", couplings)[..., None] * (c * c)  # x^2 = x
    linear = (-beta) * fields[..., None] * c + diag_self  # [B, H, N, q]
    rows, cols, data = head_penalty_couplings(h, n, penalty)
    labels = np.stack(np.meshgrid(np.arange(h), np.arange(n_tok), np.arange(bits), indexing="ij"), axis=-1).reshape(
        -1, 3
    )
    return QuadraticIR._owned(
        vartype="BINARY",
        linear=linear.reshape(b, h * n),
        offset=np.zeros(b),
        blocks=blocks,
        rows=rows,
        cols=cols,
        data=np.broadcast_to(data, (b, data.size)),
        labels=labels,
        label_fields=("head", "token", "bit"),
        meta={"kind": "qama", "heads": h, "tokens": n_tok, "bits": bits},
    )


def head_penalty_couplings(
    heads: int, block: int, penalty: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """COO couplings ``lam / P`` between ``(t, i, r)`` and ``(t', i, r)`` for ``t < t'``."""
    pairs = heads * (heads - 1) // 2
    if pairs == 0 or penalty == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    t1, t2 = np.triu_indices(heads, k=1)
    m = np.arange(block)
    rows = (t1[:, None] * block + m[None, :]).reshape(-1)
    cols = (t2[:, None] * block + m[None, :]).reshape(-1)
    return rows, cols, np.full(rows.size, penalty / pairs)

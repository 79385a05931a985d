"""Lowering: attention tensors (Q, K, V) -> a batched QAMA problem over the canonical IR.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> q, k, v = rng.normal(size=(3, 2, 4, 8))          # H=2 heads, N=4 tokens, d=8
>>> problem = lower_attention(q, k, v, bits=2)
>>> problem.shape, problem.ir.num_variables
((1, 2, 4, 2), 16)

How it runs: every output array is allocated once, then each (problem, head) is one task
on a small thread pool (:mod:`.parallel`): its couplings ``J`` (:class:`.hamiltonian.JSKernel`),
fields ``h``, normalisation and softmax attention are computed in cache-sized pieces and its
dense QUBO block is written straight into its final place in ``ir.blocks``. Nothing of the
output's size is copied, and validation never re-reads the output: the inputs are checked
once, and overflow is decided from each head's largest coupling before its block is written.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.memory import check_memory, memory_limit
from ..errors import InvalidInputError
from .hamiltonian import (
    EPS,
    JSKernel,
    Normalize,
    Precision,
    bit_weights,
    check_normalize,
    check_precision,
    normalise_inplace,
    plan_tasks,
    value_entropy,
)
from .ir import QuadraticIR
from .parallel import MAX_WORKERS, resolve_workers, run_tasks
from .problem import AttentionProblem


def _as_numeric(x: Any, name: str) -> NDArray[Any]:
    """``x`` (numpy array, nested list or torch tensor) as a finite real float array.

    Float arrays of up to 64 bits are used as they are (never copied, never written to);
    integers and booleans become float64.
    """
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
    if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
        arr = arr.astype(np.float64)
    _check_finite(arr, name)
    return arr


def _check_finite(arr: NDArray[Any], name: str) -> None:
    # One reduction: any NaN or infinity makes the sum non-finite. Only then (or when finite
    # values overflow the sum) is the array scanned entry by entry to name the culprit.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(arr, axis=None)):
            return
    bad = ~np.isfinite(arr)
    if bad.any():
        kind = "NaN" if np.isnan(arr).any() else "infinite values"
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidInputError(
            f"tensor '{name}' contains {kind} ({int(bad.sum())} entries, first at index {first})",
            fix="remove or impute non-finite values before lowering",
            tensor=name,
            index=first,
        )


def _as_batch(x: NDArray[Any], name: str) -> NDArray[Any]:
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
    """Peak bytes :func:`lower_attention` needs, an upper bound.

    The output (IR blocks, linear terms and head penalty; couplings, fields and attention),
    float64 copies of the three inputs (made only for non-float inputs) and the per-thread
    buffers of up to 8 threads. For float inputs the measured peak is the output plus a few MB.
    """
    n = tokens * bits
    per_problem = heads * n * n + 2 * heads * tokens * tokens + heads * tokens + heads * n + 1
    penalty_pairs = heads * (heads - 1) // 2 * n
    output = 8 * batch * (per_problem + penalty_pairs) + 16 * penalty_pairs + 24 * heads * n
    inputs = 3 * 8 * batch * heads * tokens * dim
    group = plan_tasks(batch * heads, tokens * tokens * max(dim, bits), 1)[1]
    per_thread = JSKernel.workspace_bytes(tokens, tokens, dim, heads=group) + _QuboWriter.workspace_bytes(
        tokens, bits, group
    )
    return output + inputs + MAX_WORKERS * per_thread


def _check_memory(b: int, h: int, n_tok: int, d: int, bits: int, max_bytes: int | None) -> None:
    """Refuse (before allocating) a lowering whose estimate exceeds ``max_bytes`` or the memory limit."""
    limit = max_bytes if max_bytes is not None else memory_limit()
    check_memory(
        estimate_lowering_bytes(b, h, n_tok, d, bits),
        what=f"lowering B={b}, H={h}, N={n_tok}, bits={bits}",
        fix="lower fewer problems at a time, fewer tokens, or a smaller bit width",
        limit=limit,
    )


def _peek_shapes(*tensors: Any) -> list[tuple[int, ...] | None]:
    """Shapes of arrays or tensors without copying them (``None`` for anything else)."""
    out: list[tuple[int, ...] | None] = []
    for x in tensors:
        shape = getattr(x, "shape", None)
        if shape is None or not (isinstance(x, np.ndarray) or hasattr(x, "detach")):
            out.append(None)
        else:
            out.append(tuple(int(n) for n in shape))
    return out


def _check_memory_of(shapes: list[tuple[int, ...] | None], bits: int, max_bytes: int | None) -> None:
    """The memory check on the tensors' shapes alone, when they are arrays of one valid rank."""
    qs, _, vs = shapes
    if any(s is None or not 2 <= len(s) <= 4 for s in shapes) or len({len(s) for s in shapes if s}) != 1:
        return  # the full validation below reports what is wrong
    assert qs is not None and vs is not None
    full = (1,) * (4 - len(qs)) + qs
    if min(full) > 0:
        _check_memory(full[0], full[1], full[2], max(full[3], vs[-1]), bits, max_bytes)


def _check_scalars(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            raise InvalidInputError(
                f"{name} must be a real number, got {value!r}", fix=f"pass a finite float {name}", parameter=name
            )
        try:
            finite = math.isfinite(float(value))
        except OverflowError:  # an int beyond float64, e.g. 10**400
            finite = False
        if not finite:
            big = isinstance(value, int) and abs(value) >= 10**30
            shown = f"an integer of {len(str(abs(value)))} digits" if big else str(value)
            raise InvalidInputError(f"{name} must be finite, got {shown}", fix=f"pass a finite {name}", parameter=name)


class _Overflow(ArithmeticError):
    """A head's QUBO coefficients do not fit in float64 (raised inside a worker)."""


def _overflow_error(alpha: float, beta: float, penalty: float) -> InvalidInputError:
    return InvalidInputError(
        f"the QUBO coefficients overflow float64 (alpha={alpha:g}, beta={beta:g}, penalty={penalty:g})",
        fix="use smaller alpha, beta and penalty (the ground state does not change under a common scale)",
    )


class _GroupState:
    """Per-thread buffers for up to ``heads`` heads: the JS kernel and the QUBO writer's scratch arrays."""

    def __init__(self, heads: int, tokens: int, dim: int, bits: int, dtype: np.dtype[Any] | None) -> None:
        self.kernel = JSKernel(tokens, tokens, dim, dtype, heads=heads) if dtype is not None else None
        self.sym = np.empty((heads, tokens, tokens))
        self.spread = np.empty((heads, tokens, tokens * bits))
        self.upper = np.triu(np.ones((tokens, tokens)), k=1)


class _QuboWriter:
    """Writes the dense blocks and linear terms of a run of heads straight into the batch's arrays.

    Variable ``(t, i, r)`` has index ``(t * N + i) * bits + r``. With ``M[(i,r),(j,s)] =
    -alpha J_ij c_r c_s`` the block keeps ``M + M^T`` strictly above the diagonal: token
    pairs ``i < j`` get ``-alpha (J_ij + J_ji) c_r c_s``, bit pairs ``r < s`` of one token
    get ``-2 alpha J_ii c_r c_s``, and ``-alpha J_ii c_r^2`` joins the linear term (x^2 = x).
    Heads are numbered ``b * H + t`` (problem ``b``, head ``t``).
    """

    def __init__(self, batch: int, heads: int, tokens: int, bits: int, alpha: float, beta: float) -> None:
        self.tokens, self.bits, self.size = tokens, bits, tokens * bits
        self.c = bit_weights(bits)
        self.alpha_c = -alpha * self.c  # [q]
        self.alpha_cc = -alpha * self.c * self.c  # [q]
        self.beta_c = -beta * self.c  # [q]
        with np.errstate(over="ignore", invalid="ignore"):  # a huge alpha is reported by write()
            self.self_pairs = (-2.0 * alpha) * np.triu(np.outer(self.c, self.c), k=1)  # [q, q]
        self.largest_alpha_c = float(np.abs(self.alpha_c).max())
        self.token = np.arange(tokens)
        self.blocks = np.empty((batch, heads, self.size, self.size))
        self.linear = np.empty((batch, heads * self.size))
        self._blocks = self.blocks.reshape(batch * heads, self.size, self.size)
        self._linear = self.linear.reshape(batch * heads, self.size)

    @staticmethod
    def workspace_bytes(tokens: int, bits: int, heads: int = 1) -> int:
        return 8 * heads * (2 * tokens * tokens + tokens * tokens * bits + 3 * tokens * bits * bits)

    def write(self, heads: slice, j: NDArray[np.float64], h: NDArray[np.float64], state: _GroupState) -> None:
        """Heads ``heads`` from their couplings ``j [G, N, N]`` and fields ``h [G, N]``."""
        g = j.shape[0]
        n_tok, q, n = self.tokens, self.bits, self.size
        sym = state.sym[:g]
        np.add(j, j.swapaxes(1, 2), out=sym)
        np.multiply(sym, state.upper, out=sym)  # token pairs i < j only
        # Every block entry is fl(fl(sym_ij * alpha_c_s) * c_r) with 0 < c_r <= 1, and rounding
        # is monotone, so a block overflows exactly when its largest |sym| times max |alpha c| does.
        largest = max(float(sym.max()), -float(sym.min())) * self.largest_alpha_c
        diag = np.diagonal(j, axis1=1, axis2=2)  # [G, N]
        own = diag[:, :, None, None] * self.self_pairs  # [G, N, q, q]
        lin = np.multiply(h[:, :, None], self.beta_c)  # [G, N, q]
        lin += diag[:, :, None] * self.alpha_cc
        if not (np.isfinite(largest) and np.isfinite(own).all() and np.isfinite(lin).all()):
            raise _Overflow
        spread = state.spread[:g].reshape(g, n_tok, n_tok, q)
        for s in range(q):  # spread[., i, j, s] = -alpha sym_ij c_s, the row pattern of every bit r
            np.multiply(sym, self.alpha_c[s], out=spread[:, :, :, s])
        blocks = self._blocks[heads]
        # Rows (i, r) of a block are c_r * spread[i]: one pass over the blocks, N*q-long inner loops.
        np.multiply(state.spread[:g, :, None, :], self.c[None, None, :, None], out=blocks.reshape(g, n_tok, q, n))
        # advanced indices apart put their axis first: [N, G, q, q]
        blocks.reshape(g, n_tok, q, n_tok, q)[:, self.token, :, self.token, :] = own.swapaxes(0, 1)
        self._linear[heads] = lin.reshape(g, n)

    def ir(self, heads: int, penalty: float) -> QuadraticIR:
        batch, n = self.blocks.shape[0], self.size
        rows, cols, data = head_penalty_couplings(heads, n, penalty)
        labels = np.stack(
            np.meshgrid(np.arange(heads), np.arange(self.tokens), np.arange(self.bits), indexing="ij"), axis=-1
        ).reshape(-1, 3)
        return QuadraticIR._owned(
            vartype="BINARY",
            linear=self.linear,
            offset=np.zeros(batch),
            blocks=self.blocks,
            rows=rows,
            cols=cols,
            data=np.repeat(data[None, :], batch, axis=0),
            labels=labels,
            label_fields=("head", "token", "bit"),
            meta={"kind": "qama", "heads": heads, "tokens": self.tokens, "bits": self.bits},
        )


#: OpenBLAS runs a product with m*n*k at most 4 * 65536 on the calling thread; larger ones
#: start its own threads, which fight with the lowering's workers (10-100x slower on 2 cores).
_BLAS_SINGLE_THREAD_WORK = 4 * 65536


def _attention_into(q: NDArray[np.float64], k: NDArray[np.float64], out: NDArray[np.float64]) -> None:
    """``out [G, N, N] = softmax(q k^T / sqrt(d))`` row-wise for ``q, k [G, N, d]``, in place."""
    n, d = q.shape[1:]
    kt = k.swapaxes(1, 2)
    if n * n * d <= _BLAS_SINGLE_THREAD_WORK:
        np.matmul(q, kt, out=out)
    else:
        rows = max(1, _BLAS_SINGLE_THREAD_WORK // (n * d))
        for head in range(q.shape[0]):
            for start in range(0, n, rows):
                np.matmul(q[head, start : start + rows], kt[head], out=out[head, start : start + rows])
    out -= out.max(axis=2, keepdims=True)
    out *= 1.0 / np.sqrt(d)
    np.exp(out, out=out)
    out /= out.sum(axis=2, keepdims=True)


def lower_attention(
    q: Any,
    k: Any,
    v: Any,
    *,
    bits: int = 4,
    alpha: float = 1.0,
    beta: float = 1.0,
    penalty: float = 2.0,
    normalize: Normalize | None = "standardise",
    eps: float = EPS,
    precision: Precision = "float32",
    workers: int | None = None,
    max_bytes: int | None = None,
) -> AttentionProblem:
    """Lower attention tensors to the QAMA QUBO of docs/hamiltonian.md (section 6).

    Args:
        q, k, v: ``[N, d]`` (one head), ``[H, N, d]`` or ``[B, H, N, d]``; numpy arrays,
            nested lists or torch tensors (contiguous float16/32/64 arrays are read in
            place, never copied or written). ``q`` and ``k`` must have equal shapes; ``v``
            the same leading axes and tokens (its last axis may differ).
        bits: binary variables per (head, token), 1..8.
        alpha, beta, penalty: weights of the coupling, field and head-penalty terms.
        normalize: ``"standardise"`` (default: the paper's batch norm, per problem and head:
            J's ``N(N-1)`` off-diagonal entries and the ``N`` fields each become
            ``(x - mean) / sqrt(var + 1e-5)``, population variance; see
            :func:`~qama_compile.core.hamiltonian.normalise`), ``"minmax"``, or
            ``"none"``/``None`` (raw values: every within-head coupling is ferromagnetic).
        precision: arithmetic of the ``B*H*N*N*d`` Jensen-Shannon work. ``"float32"``
            (default, about 2.5x faster there): each raw ``J`` is within
            :data:`~qama_compile.core.hamiltonian.FLOAT32_JS_TOLERANCE` (4e-6 bits) of the
            float64 value, and a head whose couplings have a standard deviation below
            :data:`~qama_compile.core.hamiltonian.FLOAT32_MIN_SPREAD` (4e-3; near-uniform
            softmaxes) is recomputed in float64, so normalisation never magnifies the
            error beyond 1e-3 of that spread. Softmaxes, entropies, fields, normalisation
            and every output array are float64 either way. ``"float64"``: exact to
            rounding. The IR energy then differs from the float64 one by at most
            ``alpha * max|dJ| * sum_t (sum_i w_ti)^2``.
        workers: threads (default: every CPU this process may use, at most 8).
        max_bytes: refuse (before allocating) if the estimate exceeds this; default half
            the physical memory.

    Returns:
        An :class:`AttentionProblem` with ``B`` problems of ``H*N*bits`` binary variables.
    """
    _check_scalars(alpha=alpha, beta=beta, penalty=penalty, eps=eps)
    if eps <= 0:
        raise InvalidInputError(f"eps must be positive, got {eps}", fix="use a small positive eps like 1e-8")
    bit_weights(bits)
    bits = int(bits)  # a numpy integer would overflow in size arithmetic
    alpha, beta, penalty, eps = float(alpha), float(beta), float(penalty), float(eps)
    dtype = check_precision(precision)
    check_normalize(normalize)
    _check_memory_of(_peek_shapes(q, k, v), bits, max_bytes)  # before the inputs are copied
    qa, ka, va = (_as_batch(_as_numeric(x, n), n) for x, n in ((q, "q"), (k, "k"), (v, "v")))
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
    n_workers, group = plan_tasks(b * h, n_tok * n_tok * max(d, bits), resolve_workers(workers, b * h))

    writer = _QuboWriter(b, h, n_tok, bits, alpha, beta)
    couplings = np.empty((b, h, n_tok, n_tok))
    fields = np.empty((b, h, n_tok))
    attention = np.empty((b, h, n_tok, n_tok))
    # heads b * H + t; reshaping the inputs is a view unless they are not contiguous
    q3, k3 = qa.reshape(b * h, n_tok, d), ka.reshape(b * h, n_tok, d)
    v3 = va.reshape(b * h, n_tok, va.shape[3])
    j3, h2, a3 = (
        couplings.reshape(b * h, n_tok, n_tok),
        fields.reshape(b * h, n_tok),
        attention.reshape(-1, n_tok, n_tok),
    )

    def task(index: int, state: _GroupState) -> None:
        heads = slice(index * group, min(b * h, (index + 1) * group))
        q64 = np.asarray(q3[heads], dtype=np.float64)
        k64 = np.asarray(k3[heads], dtype=np.float64)
        assert state.kernel is not None
        state.kernel(q64, k64, j3[heads])
        h2[heads] = value_entropy(v3[heads], eps=eps)
        normalise_inplace(j3[heads], h2[heads], normalize)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected and reported by write
            writer.write(heads, j3[heads], h2[heads], state)
        _attention_into(q64, k64, a3[heads])

    try:
        run_tasks(
            -(-(b * h) // group),
            task,
            workers=n_workers,
            state=lambda: _GroupState(group, n_tok, d, bits, dtype),
        )
    except _Overflow:
        raise _overflow_error(alpha, beta, penalty) from None
    return AttentionProblem(
        ir=writer.ir(h, penalty),
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
    workers: int | None = None,
) -> QuadraticIR:
    """The QUBO IR from ``J [B, H, N, N]`` and ``h [B, H, N]`` (no loops over variables).

    Variable ``(t, i, r)`` has index ``(t * N + i) * bits + r``; block ``t`` holds head t.
    ``c`` is accepted for compatibility and must equal ``bit_weights(bits)``.
    """
    if c is not None and not np.array_equal(np.asarray(c), bit_weights(bits)):
        raise InvalidInputError("c must be bit_weights(bits)", fix="omit c")
    _check_scalars(alpha=alpha, beta=beta, penalty=penalty)
    j = np.asarray(couplings, dtype=np.float64)
    hv = np.asarray(fields, dtype=np.float64)
    for name, arr in (("couplings", j), ("fields", hv)):
        if not np.isfinite(arr).all():  # e.g. from a NaN in the tensors of a PyTorch layer
            raise InvalidInputError(
                f"{name} (J or h) contain NaN or infinity; the QUBO cannot be built",
                fix="check the attention tensors for NaN or infinity before lowering",
                tensor=name,
            )
    b, h, n_tok, _ = j.shape
    writer = _QuboWriter(b, h, n_tok, bits, alpha, beta)
    n_workers, group = plan_tasks(b * h, n_tok * n_tok * bits, resolve_workers(workers, b * h))
    j3, h2 = j.reshape(b * h, n_tok, n_tok), hv.reshape(b * h, n_tok)

    def task(index: int, state: _GroupState) -> None:
        heads = slice(index * group, min(b * h, (index + 1) * group))
        with np.errstate(over="ignore", invalid="ignore"):
            writer.write(heads, j3[heads], h2[heads], state)

    try:
        run_tasks(-(-(b * h) // group), task, workers=n_workers, state=lambda: _GroupState(group, n_tok, 0, bits, None))
    except _Overflow:
        raise _overflow_error(alpha, beta, penalty) from None
    return writer.ir(h, penalty)


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

"""The QAMA Hamiltonian's ingredients (docs/hamiltonian.md, sections 2-4), vectorised over leading axes.

* :func:`value_entropy` - local fields ``h_ti`` from the value rows;
* :func:`js_coupling` - couplings ``J_tij = JS(softmax(q_i) || softmax(k_j))``, base 2;
* :func:`bit_weights` - the soft-selection weights ``c_r = 2^r / (2^q - 1)``;
* :func:`normalise` - the none / standardise (default, the paper's batch norm) / min-max
  normalisation.

>>> import numpy as np
>>> q = np.array([[0.0, 0.0], [5.0, -5.0]])
>>> J = js_coupling(q, q)
>>> bool(np.allclose(np.diag(J), 0.0)), bool(J[0, 1] > 0)
(True, True)
>>> bit_weights(2).tolist()
[0.3333333333333333, 0.6666666666666666]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidInputError
from .parallel import resolve_workers, run_tasks

EPS = 1e-8
#: Added to the variance by ``standardise``: the ``eps`` of ``torch.nn.BatchNorm1d`` (its default).
BATCHNORM_EPS = 1e-5
Normalize = Literal["none", "standardise", "minmax"]
Precision = Literal["float32", "float64"]
PRECISIONS: tuple[str, ...] = ("float32", "float64")
#: Largest ``|J(float32) - J(float64)|`` the float32 path may leave, in bits (3x the largest
#: seen on random, sharp, near-uniform and mixed softmaxes with head_dim up to 1024; tested).
FLOAT32_JS_TOLERANCE = 4e-6
#: Heads whose couplings have a smaller standard deviation are recomputed in float64, so the
#: float32 error stays below 1e-3 of the spread that normalisation divides by.
FLOAT32_MIN_SPREAD = 1e3 * FLOAT32_JS_TOLERANCE
_WORKSPACE_BYTES = 1 << 18  # one JS buffer: two of them stay in a 1 MiB L2 with room to spare
_GROUP_ELEMENTS = 1 << 20  # N*M*d elements per task: ~0.5 ms of float32 work, amortising Python
_MAX_TILE = 16
_vecdot = getattr(np, "vecdot", None)  # numpy >= 2: a fused multiply-sum over the last axis
# The JS kernel may take logs in any base (the result is rescaled to bits). numpy's SIMD
# log10 is ~10 % faster than log2 in float32, its natural log ~5 % faster in float64 (AVX-512).
_KERNEL_LOG: dict[str, tuple[Any, float]] = {
    "float32": (np.log10, float(np.log10(2.0))),
    "float64": (np.log, float(np.log(2.0))),
}


def softmax(x: NDArray[np.floating[Any]], axis: int = -1) -> NDArray[np.float64]:
    z = np.asarray(x, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def value_entropy(v: NDArray[np.floating[Any]], *, eps: float = EPS) -> NDArray[np.float64]:
    """``h_i = -sum_k p_ik log2 p_ik`` with ``p_i = clamp(v_i / (sum_k v_ik + eps), eps, 1)``.

    ``v`` is ``[..., N, d]``; returns ``[..., N]`` (float64 whatever the input precision).
    """
    v = np.asarray(v, dtype=np.float64)
    p = v / (v.sum(axis=-1, keepdims=True) + eps)
    np.clip(p, eps, 1.0, out=p)
    logs = np.log2(p)
    out: NDArray[np.float64] = -np.einsum("...k,...k->...", p, logs)
    return out


def softmax_entropy(x: NDArray[np.floating[Any]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``softmax(x)`` over the last axis and its entropy in bits, without a log per element.

    With ``z = x - max x`` and ``Z = sum_k e^z_k``, ``log p_k = z_k - log Z``, so
    ``H = (log Z - sum_k p_k z_k) / ln 2``; terms with ``p_k`` underflowed to 0 add 0.

    >>> p, h = softmax_entropy(np.zeros((1, 4)))
    >>> p.tolist(), h.tolist()
    ([[0.25, 0.25, 0.25, 0.25]], [2.0])
    """
    z = np.asarray(x, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    total = p.sum(axis=-1, keepdims=True)
    p /= total
    h: NDArray[np.float64] = (np.log(total[..., 0]) - np.einsum("...k,...k->...", p, z)) / np.log(2.0)
    return p, h


def check_precision(precision: str) -> np.dtype[Any]:
    """The numpy dtype of ``precision`` ("float32" or "float64"); anything else is refused."""
    if precision not in PRECISIONS:
        raise InvalidInputError(
            f"precision must be 'float32' or 'float64', got {precision!r}",
            fix="use precision='float32' (fast, J within 4e-6) or 'float64' (exact to rounding)",
            parameter="precision",
        )
    return np.dtype(precision)


def plan_tasks(heads: int, per_head: int, workers: int) -> tuple[int, int]:
    """``(workers, heads per task)`` for ``heads`` heads of ``per_head`` elements of work each.

    A task holds enough heads that numpy's per-call overhead vanishes against their work, yet
    there are at least 4 tasks per worker when there are that many heads; small problems run
    on fewer threads (a thread is worth about a quarter million elements of work).
    """
    workers = max(1, min(workers, heads * per_head // _GROUP_ELEMENTS * 4))
    by_work = max(1, _GROUP_ELEMENTS // max(1, per_head))
    by_balance = max(1, -(-heads // (4 * workers)))
    return workers, min(by_work, by_balance, heads)


class JSKernel:
    """Reusable buffers for the couplings of up to ``heads`` heads at a time.

    Computes ``J [G, N, M]`` from ``q [G, N, d]``, ``k [G, M, d]``. With ``S = P + R = 2M``,
    ``H(M) = 1 - (1/2) sum_k S_k log2 S_k``, so ``JS = 1 - (1/2) sum_k S_k log2 S_k -
    (H(P) + H(R)) / 2``. The ``[G, N, M, d]`` workspace is walked in blocks (whole small
    heads, or query rows and key columns of a large one) whose two buffers stay in a core's
    L2 cache: add, log and a fused multiply-sum per block. The softmaxes and entropies are
    computed in float64; only the ``G * N * M * d`` block work runs in ``dtype``. One
    instance per thread.
    """

    def __init__(self, n: int, m: int, d: int, dtype: np.dtype[Any] | type = np.float64, *, heads: int = 1) -> None:
        self.n, self.m, self.d, self.heads, self.dtype = n, m, d, heads, np.dtype(dtype)
        budget = max(d, _WORKSPACE_BYTES // self.dtype.itemsize)
        per_head = n * m * d
        if per_head <= budget:
            self.group, self.rows, self.cols = max(1, min(heads, budget // per_head)), n, m
        elif m * d <= budget:
            self.group, self.rows, self.cols = 1, max(1, min(n, budget // (m * d))), m
        else:
            self.group, self.rows, self.cols = 1, 1, max(1, budget // d)
        # Repeat each query row `tile` times so the broadcast add runs over tile * d
        # contiguous elements per inner loop instead of d (numpy's per-loop overhead); the
        # repeated rows take no more room than one block buffer.
        common = int(np.gcd(m, self.cols))
        self.tile = max(1, min(_MAX_TILE, common & -common, budget // max(1, heads * n * d)))
        self.tile = 1 << (self.tile.bit_length() - 1)  # a power of two, so it divides common
        size = self.group * self.rows * self.cols * d
        self.total = np.empty(size, dtype=self.dtype)
        self.logs = np.empty(size, dtype=self.dtype)
        self.tiled = np.empty((heads, n, self.tile * d), dtype=self.dtype)
        self.keys = np.empty((heads, m, d), dtype=self.dtype)
        self.sums = np.empty((heads, n, m), dtype=self.dtype)
        self.tiny = self.dtype.type(np.finfo(self.dtype).tiny)
        self._exact: JSKernel | None = None
        self._log, self._log_of_2 = _KERNEL_LOG[self.dtype.name]
        self._plans: dict[int, list[tuple[NDArray[Any], ...]]] = {}

    @staticmethod
    def workspace_bytes(n: int, m: int, d: int, itemsize: int = 8, heads: int = 1) -> int:
        """Bytes one kernel and its float64 temporaries hold, an upper bound (for memory estimates)."""
        block = min(heads * n * m * d, max(d, _WORKSPACE_BYTES // itemsize))
        own = 2 * block + heads * (n * _MAX_TILE * d + m * d + n * m)
        return itemsize * own + 8 * heads * (2 * n * m + 6 * (n + m) * d)

    def _plan(self, heads: int) -> list[tuple[NDArray[Any], ...]]:
        """Every block's views for ``heads`` heads, built once: per call only three ufunc calls per block."""
        plan = self._plans.get(heads)
        if plan is not None:
            return plan
        n, m, d, t = self.n, self.m, self.d, self.tile
        plan = []
        for g0 in range(0, heads, self.group):
            count = min(heads, g0 + self.group) - g0
            for j0 in range(0, m, self.cols):
                width = min(m, j0 + self.cols) - j0
                keys = self.keys[g0 : g0 + count, j0 : j0 + width].reshape(count, 1, width // t, t * d)
                for i0 in range(0, n, self.rows):
                    height = min(n, i0 + self.rows) - i0
                    size = count * height * width * d
                    total = self.total[:size].reshape(count, height, width // t, t * d)
                    logs = self.logs[:size].reshape(count, height, width // t, t * d)
                    plan.append(
                        (
                            self.tiled[g0 : g0 + count, i0 : i0 + height, None, :],
                            keys,
                            total,
                            logs,
                            total.reshape(count, height, width, d),
                            logs.reshape(count, height, width, d),
                            self.sums[g0 : g0 + count, i0 : i0 + height, j0 : j0 + width],
                        )
                    )
        self._plans[heads] = plan
        return plan

    def __call__(self, q: NDArray[Any], k: NDArray[Any], out: NDArray[np.float64]) -> None:
        """Write ``J`` of ``q [G, N, d]``, ``k [G, M, d]`` (any real dtype, ``G <= heads``) into ``out [G, N, M]``.

        A float32 kernel recomputes in float64 every head whose couplings are too alike for
        float32 (standard deviation below :data:`FLOAT32_MIN_SPREAD`), see :func:`js_coupling`.
        """
        p, hp = softmax_entropy(q)
        r, hr = softmax_entropy(k)
        self._assemble(p, r, hp, hr, out)
        if self.dtype != np.float64:
            redo = np.flatnonzero(_spread_below(out, FLOAT32_MIN_SPREAD))
            if redo.size:
                if self._exact is None:
                    self._exact = JSKernel(self.n, self.m, self.d, np.float64, heads=self.heads)
                exact = np.empty((redo.size, self.n, self.m))
                self._exact._assemble(p[redo], r[redo], hp[redo], hr[redo], exact)
                out[redo] = exact

    def _assemble(
        self,
        p: NDArray[np.float64],
        r: NDArray[np.float64],
        hp: NDArray[np.float64],
        hr: NDArray[np.float64],
        out: NDArray[np.float64],
    ) -> None:
        heads = p.shape[0]
        # Centre the logs: S log2 S = (S u) log2(S u) / u - S log2 u for any u > 0. With
        # u = 2^(H - 1), H a head's mean entropy, S u is about 1 for typical entries, so the
        # float32 terms and their rounding shrink with J on near-uniform heads.
        u = np.exp2(np.maximum(0.0, 0.5 * (hp.mean(axis=1) + hr.mean(axis=1)) - 1.0))[:, None, None]
        tiled = self.tiled[:heads].reshape(heads, self.n, self.tile, self.d)
        keys = self.keys[:heads]
        # Floor at the smallest normal float so S > 0 and the log needs no guard: this moves
        # only entries that underflowed, whose S log S terms are below 1e-36 (float32) / 1e-305.
        np.multiply(p, u, out=tiled[:, :, 0, :], casting="same_kind")
        np.maximum(tiled[:, :, 0, :], self.tiny, out=tiled[:, :, 0, :])
        tiled[:, :, 1:, :] = tiled[:, :, :1, :]
        np.multiply(r, u, out=keys, casting="same_kind")
        np.maximum(keys, self.tiny, out=keys)
        sums = self.sums[:heads]
        for rows, key_block, total, logs, s4, l4, dest in self._plan(heads):
            np.add(rows, key_block, out=total)
            self._log(total, out=logs)
            if _vecdot is not None:
                _vecdot(s4, l4, out=dest)
            else:  # pragma: no cover - numpy 1.26
                np.einsum("gijk,gijk->gij", s4, l4, out=dest)
        # J = 1 - (sum S log2 S) / 2 - (hp_i + hr_j) / 2, assembled in float64
        log_u = np.log2(u[:, :, 0])  # [G, 1]
        np.multiply(sums, -0.5 / (u * self._log_of_2), out=out)
        out += (1.0 - 0.5 * hr + 0.5 * log_u * r.sum(axis=2))[:, None, :]
        out -= (0.5 * hp - 0.5 * log_u * p.sum(axis=2))[:, :, None]
        np.clip(out, 0.0, 1.0, out=out)  # rounding can leave -1e-17


def _spread_below(j: NDArray[np.float64], limit: float) -> NDArray[np.bool_]:
    """Per head of ``j [G, N, M]``: is the standard deviation (off-diagonal if square) below ``limit``?"""
    g, n, m = j.shape
    flat = j.reshape(g, n * m)
    # einsum, not np.dot: BLAS would start its own threads inside our worker threads
    total, square, count = flat.sum(axis=1), np.einsum("gi,gi->g", flat, flat), n * m
    if n == m:
        diag = flat[:, :: n + 1]
        total, square, count = total - diag.sum(axis=1), square - np.einsum("gi,gi->g", diag, diag), count - n
    if count == 0:
        return np.ones(g, dtype=bool)
    mean = total / count
    below: NDArray[np.bool_] = square / count - mean * mean < limit * limit
    return below


def js_coupling(
    q: NDArray[np.floating[Any]],
    k: NDArray[np.floating[Any]],
    *,
    precision: Precision = "float64",
    workers: int | None = None,
) -> NDArray[np.float64]:
    """``J_ij = JS(softmax(q_i) || softmax(k_j))`` in bits, for all ``i, j``.

    ``q`` and ``k`` are ``[..., N, d]`` and ``[..., M, d]``; returns ``[..., N, M]`` (float64)
    with values in [0, 1]. ``precision="float32"`` runs the ``N * M * d`` log2 work in
    float32 (about 2.5x faster than float64); each ``J`` then differs from the float64 value
    by at most :data:`FLOAT32_JS_TOLERANCE` (4e-6 bits), and a head whose couplings have a
    standard deviation below :data:`FLOAT32_MIN_SPREAD` (4e-3, near-uniform softmaxes) is
    recomputed in float64, so the error is also at most 1e-3 of that spread. ``workers``
    threads share the heads (default: every CPU this process may use, at most 8).
    See :class:`JSKernel`.

    >>> import numpy as np
    >>> q = np.random.default_rng(0).normal(size=(2, 3, 4))
    >>> bool(np.abs(js_coupling(q, q, precision="float32") - js_coupling(q, q)).max() < FLOAT32_JS_TOLERANCE)
    True
    """
    dtype = check_precision(precision)
    q = np.asarray(q)
    k = np.asarray(k)
    lead = q.shape[:-2]
    n, d = q.shape[-2:]
    m = k.shape[-2]
    q2 = q.reshape(-1, n, d)
    k2 = k.reshape(-1, m, d)
    heads = q2.shape[0]
    out = np.empty((heads, n, m))
    n_workers, group = plan_tasks(heads, n * m * d, resolve_workers(workers, heads))

    def task(t: int, kernel: JSKernel) -> None:
        sl = slice(t * group, min(heads, (t + 1) * group))
        kernel(q2[sl], k2[sl], out[sl])

    run_tasks(
        -(-heads // group),
        task,
        workers=n_workers,
        state=lambda: JSKernel(n, m, d, dtype, heads=group),
    )
    return out.reshape((*lead, n, m))


def bit_weights(bits: int) -> NDArray[np.float64]:
    """``c_r = 2^r / (2^q - 1)`` for ``r = 0..q-1``, so ``w = sum_r c_r x_r`` spans [0, 1]."""
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise InvalidInputError(
            f"bits must be an integer in 1..8, got {bits!r}",
            fix="use --bits between 1 and 8 (paper default 4)",
            bits=bits,
        )
    out: NDArray[np.float64] = np.exp2(np.arange(bits, dtype=np.float64)) / (2.0**bits - 1.0)
    return out


def check_normalize(mode: str | None) -> None:
    if mode not in (None, "none", "standardise", "minmax"):
        raise InvalidInputError(
            f"unknown normalisation {mode!r}", fix="use one of: none, standardise, minmax", normalize=mode
        )


def normalise(
    j: NDArray[np.float64], h: NDArray[np.float64], mode: Normalize | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normalise the off-diagonal of ``J [..., N, N]`` and ``h [..., N]`` per problem and head.

    * ``"standardise"`` (the default of :func:`~qama_compile.core.lowering.lower_attention`)
      is what the paper's layer does with ``nn.BatchNorm1d(num_heads)`` on ``J[:, :, off]``
      and on ``h``, computed per problem: for each (batch item, head) the ``N(N-1)``
      off-diagonal entries of ``J`` become ``(x - mean) / sqrt(var + 1e-5)`` and so do the
      ``N`` fields. ``var`` is the population variance (``ddof=0``): batch norm normalises
      with the biased batch variance (the unbiased one only feeds its running average), and
      the statistics are those of the one problem being solved, i.e. batch norm's
      training-mode statistics for a batch of one problem, with its initial affine
      parameters (``gamma = 1``, ``beta = 0``). ``1e-5`` is ``BatchNorm1d``'s default ``eps``
      (:data:`BATCHNORM_EPS`); a constant input maps to 0. The diagonal ``J_ii`` is left as
      it is, as in the paper. (A trained layer in ``eval()`` mode would use running
      averages over training batches instead; the per-problem statistics are what those
      averages estimate.)
    * ``"minmax"`` maps each of the two sets to ``[0, 1]`` (constant inputs to 0).
    * ``"none"`` (or ``None``) returns the inputs unchanged: raw JS couplings are all
      non-negative, so every within-head coupling is ferromagnetic and the ground state
      usually selects every token.

    >>> import numpy as np
    >>> j, h = normalise(np.array([[0.0, 0.2], [0.6, 0.0]]), np.array([1.0, 3.0]), "standardise")
    >>> j.round(4).tolist(), h.round(4).tolist()
    ([[0.0, -0.9999], [0.9999, 0.0]], [-1.0, 1.0])
    """
    check_normalize(mode)
    if mode in (None, "none"):
        return j, h
    j_out = np.array(j, dtype=np.float64, copy=True)
    h_out = np.array(h, dtype=np.float64, copy=True)
    normalise_inplace(j_out, h_out, mode)
    return j_out, h_out


def normalise_inplace(j: NDArray[np.float64], h: NDArray[np.float64], mode: Normalize | None) -> None:
    """:func:`normalise` in place: ``j [..., N, N]`` and ``h [..., N]`` (C-contiguous) are overwritten.

    Statistics of the off-diagonal come from whole-matrix reductions minus the diagonal's
    share, so no masked copy of ``j`` is made.
    """
    if mode in (None, "none"):
        return
    n = j.shape[-1]
    flat = j.view()
    flat.shape = (*j.shape[:-2], n * n)  # raises instead of silently reshaping a copy
    diag = flat[..., :: n + 1].copy()
    if n > 1:
        _scale(flat, diag, n * (n - 1), mode)
        flat[..., :: n + 1] = diag
    _scale(h, None, h.shape[-1], mode)


def _scale(x: NDArray[np.float64], skip: NDArray[np.float64] | None, count: int, mode: str) -> None:
    """Scale ``x [..., L]`` in place by statistics of its entries minus those in ``skip``."""
    if count == 0:
        return
    mag = np.maximum(x.max(axis=-1, keepdims=True), -x.min(axis=-1, keepdims=True))  # max |x|, no temporary
    if mode == "standardise":
        total = x.sum(axis=-1, keepdims=True) - (0.0 if skip is None else skip.sum(axis=-1, keepdims=True))
        mean = total / count
        x -= mean
        square = np.einsum("...k,...k->...", x, x)[..., None]
        if skip is not None:
            centred = skip - mean
            square -= np.einsum("...k,...k->...", centred, centred)[..., None]
        spread = np.sqrt(np.maximum(square, 0.0) / count)
        divisor = np.sqrt(spread * spread + BATCHNORM_EPS)  # batch norm's sqrt(var + eps)
    else:
        if skip is not None:  # min/max over the off-diagonal: hide the diagonal behind an existing entry
            n = skip.shape[-1]
            x[..., :: n + 1] = x[..., 1:2]
        lo = x.min(axis=-1, keepdims=True)
        spread = x.max(axis=-1, keepdims=True) - lo
        x -= lo
        divisor = spread
    flat_spread = spread <= 8 * np.finfo(np.float64).eps * mag  # constant up to rounding: no direction to scale
    np.divide(x, np.where(flat_spread, 1.0, divisor), out=x)
    if flat_spread.any():
        x *= ~flat_spread

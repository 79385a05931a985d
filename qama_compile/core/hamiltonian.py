"""The QAMA Hamiltonian's ingredients (DESIGN.md section 2), vectorised over leading axes.

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

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidInputError

EPS = 1e-8
#: Added to the variance by ``standardise``: the ``eps`` of ``torch.nn.BatchNorm1d`` (its default).
BATCHNORM_EPS = 1e-5
Normalize = Literal["none", "standardise", "minmax"]
_TINY = float(np.finfo(np.float64).tiny)
_CHUNK_ELEMENTS = 1 << 17  # elements of one JS workspace block (1 MiB: stays in cache)


def softmax(x: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float64] = e / e.sum(axis=axis, keepdims=True)
    return out


def value_entropy(v: NDArray[np.float64], *, eps: float = EPS) -> NDArray[np.float64]:
    """``h_i = -sum_k p_ik log2 p_ik`` with ``p_i = clamp(v_i / (sum_k v_ik + eps), eps, 1)``.

    ``v`` is ``[..., N, d]``; returns ``[..., N]``.
    """
    p = np.clip(v / (v.sum(axis=-1, keepdims=True) + eps), eps, 1.0)
    out: NDArray[np.float64] = -(p * np.log2(p)).sum(axis=-1)
    return out


def _entropy_bits(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``-sum_k x_k log2 x_k`` over the last axis, with ``0 log 0 = 0``.

    Softmax outputs can underflow to exactly 0: the log's argument is floored at the
    smallest normal float, so those terms are ``0 * finite = 0`` and all others are exact.
    """
    logs = np.maximum(x, _TINY)
    np.log2(logs, out=logs)  # numpy's SIMD log2, about 3x faster than scipy.special.xlogy
    out: NDArray[np.float64] = -np.einsum("...k,...k->...", x, logs)
    return out


def js_coupling(q: NDArray[np.float64], k: NDArray[np.float64]) -> NDArray[np.float64]:
    """``J_ij = JS(softmax(q_i) || softmax(k_j))`` in bits, for all ``i, j``.

    ``q`` and ``k`` are ``[..., N, d]``; returns ``[..., N, N]`` with values in [0, 1].

    With ``S = P + R = 2M``, ``H(M) = 1 - (1/2) sum_k S_k log2 S_k``, so
    ``JS = 1 - (1/2) sum_k S_k log2 S_k - (H(P) + H(R)) / 2``. The ``[N, N, d]`` workspace
    is processed in cache-sized blocks of query rows (reused buffers, three passes each),
    split over a thread pool; numpy releases the GIL inside its loops.
    """
    p = softmax(q)
    r = softmax(k)
    lead = p.shape[:-2]
    n, d = p.shape[-2:]
    m_tok = r.shape[-2]
    p2 = p.reshape(-1, n, d)
    r2 = r.reshape(-1, m_tok, d)
    hp = _entropy_bits(p2)  # [L, N]
    hr = _entropy_bits(r2)  # [L, M]
    # Floor at the smallest normal float so S > 0 and log2 needs no guard: this moves only
    # entries that underflowed to (sub)normal zero, whose S log S terms are below 1e-305.
    p2 = np.maximum(p2, _TINY)
    r2 = np.maximum(r2, _TINY)
    out = np.empty((p2.shape[0], n, m_tok))
    rows = max(1, _CHUNK_ELEMENTS // max(1, m_tok * d))
    tasks = [(item, start) for item in range(p2.shape[0]) for start in range(0, n, rows)]

    def work(share: list[tuple[int, int]]) -> None:
        total = np.empty((rows, m_tok, d))
        logs = np.empty((rows, m_tok, d))
        for item, start in share:
            stop = min(n, start + rows)
            s_view, l_view = total[: stop - start], logs[: stop - start]
            np.add(p2[item, start:stop, None, :], r2[item, None, :, :], out=s_view)
            np.log2(s_view, out=l_view)
            out[item, start:stop] = np.einsum("ijk,ijk->ij", s_view, l_view)

    workers = max(1, min(len(tasks), os.cpu_count() or 1, 8))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, [tasks[w::workers] for w in range(workers)]))
    else:
        work(tasks)
    out *= -0.5
    out += 1.0
    out -= 0.5 * (hp[:, :, None] + hr[:, None, :])
    np.clip(out, 0.0, 1.0, out=out)  # rounding can leave -1e-17
    return out.reshape((*lead, n, m_tok))


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
    if mode in (None, "none"):
        return j, h
    if mode not in ("standardise", "minmax"):
        raise InvalidInputError(
            f"unknown normalisation {mode!r}", fix="use one of: none, standardise, minmax", normalize=mode
        )
    n = j.shape[-1]
    off = ~np.eye(n, dtype=bool)
    jo = j[..., off]  # [..., N(N-1)]
    jn = _scale(jo, mode) if jo.shape[-1] else jo
    j_out = j.copy()
    j_out[..., off] = jn
    return j_out, _scale(h, mode)


def _scale(x: NDArray[np.float64], mode: str) -> NDArray[np.float64]:
    if mode == "standardise":
        centred = x - x.mean(axis=-1, keepdims=True)
        out: NDArray[np.float64] = centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + BATCHNORM_EPS)
        return out
    lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    span = hi - lo
    out = np.divide(x - lo, span, out=np.zeros_like(x), where=span > 0)
    return out

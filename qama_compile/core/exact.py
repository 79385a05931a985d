"""Exact lowest-energy states of small problems by vectorised enumeration.

Used wherever the toolkit needs certainty: the ``exact`` backend, the quantization pass's
ground-state check and the decomposition solver's small blocks. Two strategies, both
without Python loops over states:

* up to :data:`BATCH_ENUMERATE_MAX` variables, all ``2^V`` states of the whole batch are
  scored at once (``[B, 2^V]`` energies, chunked over problems), each problem's table built
  from its low and high halves of the variables with one batched GEMM;
* above, per problem, the variables are split into a low part (``2^L`` states, enumerated
  once) and a high part (chunks); each chunk's ``[2^L, chunk]`` energy table is one BLAS
  product ``E_low + E_high + X_low (U_lh X_high^T)``; a running partial sort keeps the
  ``k`` lowest.

Ties are broken by state index (variable 0 is the least significant bit), so results are
deterministic.

>>> from qama_compile.core.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -1.0]], rows=[0], cols=[1], data=[[-2.0]])
>>> x, e = lowest_states(ir, k=2)
>>> x.tolist(), e.tolist()
([[[1, 1], [0, 1]]], [[-2.0, -1.0]])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidInputError, ProblemTooLargeError
from .ir import QuadraticIR

__all__ = ["BATCH_ENUMERATE_MAX", "DEFAULT_MAX_VARIABLES", "lowest_states", "upper_dense"]

#: Largest problem enumerated (``2^V`` states); every extra variable doubles the time.
DEFAULT_MAX_VARIABLES = 30
#: Up to this many variables the whole batch is scored in one array operation.
BATCH_ENUMERATE_MAX = 16
_LOW_BITS = 16
_TABLE_ELEMENTS = 1 << 22  # energies per chunk (32 MiB of float64)


def _states(num: int, width: int, start: int = 0, spin: bool = False) -> NDArray[np.float64]:
    idx = np.arange(start, start + num, dtype=np.int64)
    bits = ((idx[:, None] >> np.arange(width, dtype=np.int64)) & 1).astype(np.float64)
    out: NDArray[np.float64] = 2 * bits - 1 if spin else bits
    return out


def upper_dense(ir: QuadraticIR) -> NDArray[np.float64]:
    """All couplings of every problem as strictly upper-triangular ``[B, V, V]`` matrices."""
    b, v = ir.batch_size, ir.num_variables
    q = np.zeros((b, v, v))
    g, n = ir.block_count, ir.block_size
    for k in range(g):  # G is the number of heads: small
        q[:, k * n : (k + 1) * n, k * n : (k + 1) * n] += ir.blocks[:, k]
    if ir.rows.size:
        np.add.at(q.transpose(1, 2, 0), (ir.rows, ir.cols), ir.data.T)
    return q


def _k_lowest(energy: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """Indices of the ``k`` lowest entries of each row, by energy then index."""
    s = energy.shape[1]
    if k == 1:
        return np.argmin(energy, axis=1)[:, None].astype(np.int64)  # the first minimum: the lowest index
    if k < s:
        part = np.argpartition(energy, k - 1, axis=1)[:, :k]
        # argpartition may cut a tie at the k-th energy arbitrarily: widen to every tied entry
        kth = np.take_along_axis(energy, part, axis=1).max(axis=1, keepdims=True)
        cand = energy <= kth
    else:
        cand = np.ones_like(energy, dtype=bool)
    rows = []
    for b in range(energy.shape[0]):  # B rows, each a small sort of candidates
        idx = np.flatnonzero(cand[b])
        order = np.lexsort((idx, energy[b, idx]))[:k]
        rows.append(idx[order])
    return np.stack(rows).astype(np.int64)


def _batch_enumerate(ir: QuadraticIR, k: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Score all ``2^V`` states of every problem, split into low and high halves of the variables.

    With ``L`` low and ``V - L`` high variables the energy table of a problem is
    ``E_low[s] + E_high[t] + x_low[s] U_lh x_high[t]``: two small enumerations and one batched
    GEMM (``B 2^V (V - L)`` multiply-adds, not the ``B 2^V V^2`` of scoring every state's
    quadratic form). The table is laid out high-major, so its flat index is the state index.
    """
    b, v = ir.batch_size, ir.num_variables
    spin = ir.vartype == "SPIN"
    low = (v + 1) // 2
    x_low, x_high = _states(2**low, low, spin=spin), _states(2 ** (v - low), v - low, spin=spin)
    q = upper_dense(ir)
    idx = np.empty((b, min(k, 2**v)), dtype=np.int64)
    energies = np.empty(idx.shape)
    rows_per_chunk = max(1, _TABLE_ELEMENTS // 2**v)
    for lo in range(0, b, rows_per_chunk):  # chunks of problems (memory), not states
        hi = min(b, lo + rows_per_chunk)
        qc, lin, rows = q[lo:hi], ir.linear[lo:hi], hi - lo
        e_low = ir.offset[lo:hi, None] + lin[:, :low] @ x_low.T
        e_low += np.einsum("bsj,sj->bs", x_low @ qc[:, :low, :low], x_low)  # [rows, 2^L]
        e_high = lin[:, low:] @ x_high.T + np.einsum("bsj,sj->bs", x_high @ qc[:, low:, low:], x_high)
        # x_high U_lh^T per problem, then one 2-D GEMM against the low states (a stacked matmul
        # with a broadcast operand is far slower in numpy)
        mixed = x_high @ qc[:, :low, low:].transpose(0, 2, 1)  # [rows, 2^(V-L), L]
        table = (mixed.reshape(-1, low) @ x_low.T).reshape(rows, 2 ** (v - low), 2**low)
        table += e_high[:, :, None]
        table += e_low[:, None, :]
        energy = table.reshape(hi - lo, 2**v)
        pick = _k_lowest(energy, idx.shape[1])
        idx[lo:hi] = pick
        energies[lo:hi] = np.take_along_axis(energy, pick, axis=1)
    return idx, energies


def _lowest_one(
    lin: NDArray[np.float64],
    u: NDArray[np.float64],
    offset: float,
    k: int,
    spin: bool,
    tick: Callable[[int], None] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    v = lin.size
    low = min(v, _LOW_BITS)
    high = v - low
    x_low = _states(2**low, low, spin=spin)
    e_low = offset + x_low @ lin[:low] + np.einsum("si,ij,sj->s", x_low, u[:low, :low], x_low, optimize=True)
    u_lh, u_hh = u[:low, low:], u[low:, low:]
    chunk = max(1, _TABLE_ELEMENTS // (2**low))
    best_idx = np.zeros(0, dtype=np.int64)
    best_e = np.zeros(0)
    for start in range(0, 2**high, chunk):  # chunks of high states, each one GEMM
        num = min(chunk, 2**high - start)
        x_high = _states(num, high, start=start, spin=spin)
        e_high = x_high @ lin[low:] + np.einsum("si,ij,sj->s", x_high, u_hh, x_high, optimize=True)
        table = e_low[:, None] + e_high[None, :] + x_low @ (u_lh @ x_high.T)  # [2^L, num]
        flat = table.ravel()
        take = min(k, flat.size)
        part = np.argpartition(flat, take - 1)[:take] if take < flat.size else np.arange(flat.size)
        li, hj = np.unravel_index(part, table.shape)
        idx = li.astype(np.int64) + ((hj.astype(np.int64) + start) << low)
        best_idx = np.concatenate([best_idx, idx])
        best_e = np.concatenate([best_e, flat[part]])
        keep = np.lexsort((best_idx, best_e))[:k]
        best_idx, best_e = best_idx[keep], best_e[keep]
        if tick is not None:
            tick(num << low)
    return best_idx, best_e


def lowest_states(
    ir: QuadraticIR,
    *,
    k: int = 1,
    max_variables: int = DEFAULT_MAX_VARIABLES,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """The ``k`` lowest-energy states of every problem: ``(samples [B, k', V], energies [B, k'])``.

    ``k' = min(k, 2^V)``; samples are in the IR's vartype; energies include the offset.
    ``progress(done, total)`` is called with states scanned so far over the batch (after
    each chunk above :data:`BATCH_ENUMERATE_MAX` variables, once at the end below).

    Raises:
        ProblemTooLargeError: ``V > max_variables`` (refused before allocating).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}", fix="pass k >= 1")
    b, v = ir.batch_size, ir.num_variables
    if v > max_variables:
        raise ProblemTooLargeError(
            f"exact enumeration scans 2^{v} states for {v} variables; the limit is {max_variables} variables",
            fix="use a heuristic backend (cim, sa), a smaller problem, or fewer tokens/bits",
            size=v,
            limit=max_variables,
            unit="variables",
        )
    spin = ir.vartype == "SPIN"
    if v == 0:
        return np.zeros((b, 1, 0), dtype=np.int8), ir.offset[:, None].copy()
    total, done = b * 2**v, [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    if v <= BATCH_ENUMERATE_MAX:
        idx, energies = _batch_enumerate(ir, int(k))
        tick(total)
    else:
        u = upper_dense(ir)
        parts = [_lowest_one(ir.linear[i], u[i], float(ir.offset[i]), int(k), spin, tick) for i in range(b)]
        idx = np.stack([p[0] for p in parts])
        energies = np.stack([p[1] for p in parts])
    bits = ((idx[..., None] >> np.arange(v, dtype=np.int64)) & 1).astype(np.int8)
    samples = (2 * bits - 1).astype(np.int8) if spin else bits
    return samples, energies

"""Greedy descent on many replicas at once: the CIM emulator's final polish.

The variables are split into groups (the dense blocks of a structured problem, else
consecutive runs of about 128). Each iteration, in every replica not yet at a local minimum,
takes the best single flip of every group (the flip that lowers ``E = h.s + s^T J s / 2`` the
most there) and makes all of them at once when that lowers the replica's energy; when the
simultaneous flips interact badly (the exact energy did not drop) it makes only the best one.
Local fields are updated with one row of ``J`` per flip (a block row plus a sparse row for
structured problems). Every accepted step lowers the energy, so the descent ends in a local
minimum of single flips; replicas that reach one drop out.

>>> import numpy as np
>>> from qama_backends.cim_couplings import Couplings
>>> J = np.zeros((1, 3, 3)); J[0, 0, 1] = J[0, 1, 0] = -1.0
>>> c = Couplings.from_dense(np.array([[0.0, 0.0, 0.5]]), J)
>>> out = greedy_descent(c, np.array([[[1.0, -1.0, 1.0]]]))
>>> out.spins.tolist(), out.flips.tolist(), out.energies.tolist()
([[[-1, -1, -1]]], [[2]], [[-1.5]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cim_couplings import CouplingOperator, Couplings

__all__ = ["Polished", "greedy_descent"]

_GROUP = 128  # variables per group when the problem has no blocks


@dataclass(frozen=True)
class Polished:
    """Local minima ``spins [B, R, V]`` (int8), their ``energies [B, R]`` (float64), flips per
    replica and the number of iterations."""

    spins: NDArray[np.int8]
    energies: NDArray[np.float64]
    flips: NDArray[np.int64]
    iterations: int


def _groups(c: Couplings) -> int:
    v = c.num_variables
    if c.blocks is not None and c.blocks.shape[1] > 1 and c.blocks.shape[1] * c.blocks.shape[2] == v:
        return int(c.blocks.shape[1])
    return max(1, math.ceil(v / _GROUP)) if v > 2 * _GROUP else 1


def greedy_descent(
    couplings: Couplings,
    spins: NDArray[Any],
    *,
    max_iterations: int | None = None,
    approx: tuple[CouplingOperator, NDArray[np.float64]] | None = None,
) -> Polished:
    """Greedy descent from ``spins [B, R, V]`` (+-1) until every replica is at a local minimum of
    single flips (or ``max_iterations``, default ``4 V + 10``). Energies never increase.

    ``approx = (operator, factor)``: the dynamics' float32 product with ``J_b = factor[b] *
    operator``; the initial fields and the block rows then come from it (one float32 product
    and contiguous rows instead of two float64 products and strided columns), the fields carry
    float32 rounding, so gains below ``1e-7`` of the largest field are ignored; the returned
    energies are always exact (float64, from the spins)."""
    s = np.array(spins, dtype=np.float64)
    b, r, v = s.shape
    block_rows = None
    if approx is not None:
        op, factor = approx
        s32 = s.astype(np.float32)
        field = op(s32, np.empty_like(s32)).astype(np.float64)
        field *= factor[:, None, None]
        if op.blocks is not None:
            block_rows = (op.blocks, factor)
    else:
        field = couplings.apply(s)  # J s
    field += couplings.h[:, None, :]
    flips = np.zeros((b, r), dtype=np.int64)
    limit = max_iterations if max_iterations is not None else 4 * v + 10
    it = 0
    if v and r:
        k = _groups(couplings)
        width = math.ceil(v / k)
        pad = k * width - v
        tol = (1e-7 if approx is not None else 1e-12) * (1.0 + float(np.abs(field).max()))
        s2, f2 = s.reshape(b * r, v), field.reshape(b * r, v)
        owner = np.repeat(np.arange(b), r)
        energy = np.einsum("kv,kv->k", s2, f2 + couplings.h[owner]) / 2
        flips2 = flips.reshape(-1)
        active = np.arange(b * r)
        while it < limit and active.size:
            cur_s, cur_f = s2[active], f2[active]
            gain = cur_s * cur_f  # flipping spin i changes E by -2 s_i f_i
            rows = np.arange(active.size)
            if k > 1:
                grouped = np.pad(gain, ((0, 0), (0, pad)), constant_values=-np.inf).reshape(-1, k, width)
                pick = np.argmax(grouped, axis=2)  # [A, k]
                best = np.take_along_axis(grouped, pick[..., None], axis=2)[..., 0]
                idx = pick + width * np.arange(k)[None, :]
            else:
                idx = np.argmax(gain, axis=1)[:, None]
                best = gain[rows, idx[:, 0]][:, None]
            moving = best > tol  # [A, k]
            alive = moving.any(axis=1)
            if not alive.all():
                active, cur_s, cur_f = active[alive], cur_s[alive], cur_f[alive]
                idx, best, moving, gain = idx[alive], best[alive], moving[alive], gain[alive]
                rows = np.arange(active.size)
                if not active.size:
                    break
            it += 1
            top = np.argmax(np.where(moving, best, -np.inf), axis=1)
            many = moving.sum(axis=1) > 1
            old_s, old_f = cur_s.copy(), cur_f.copy()
            # all candidate flips of the replicas with several (one group at a time: distinct rows)
            for g in range(idx.shape[1]):
                sel = moving[:, g] & (many | (top == g))
                if sel.any():
                    a, vi = rows[sel], idx[sel, g]
                    cur_s[a, vi] *= -1.0
                    couplings.add_rows(cur_f, a, owner[active[a]], vi, 2.0 * cur_s[a, vi], block_rows=block_rows)
            new_e = np.einsum("kv,kv->k", cur_s, cur_f + couplings.h[owner[active]]) / 2
            worse = many & (new_e >= energy[active] - tol)
            if worse.any():  # the simultaneous flips interacted: redo those replicas with the best flip only
                a = rows[worse]
                cur_s[a], cur_f[a] = old_s[a], old_f[a]
                vi = idx[a, top[a]]
                cur_s[a, vi] *= -1.0
                couplings.add_rows(cur_f, a, owner[active[a]], vi, 2.0 * cur_s[a, vi], block_rows=block_rows)
                new_e[a] = np.einsum("kv,kv->k", cur_s[a], cur_f[a] + couplings.h[owner[active[a]]]) / 2
            counts = np.where(many & ~worse, moving.sum(axis=1), 1)
            flips2[active] += counts
            energy[active] = new_e
            s2[active], f2[active] = cur_s, cur_f
        s, field = s2.reshape(b, r, v), f2.reshape(b, r, v)
    if approx is not None:
        energies = couplings.energies(s)
    else:
        energies = np.einsum("brv,brv->br", s, field + couplings.h[:, None, :]) / 2  # s.(h + J s / 2)
    return Polished(spins=s.astype(np.int8), energies=energies, flips=flips, iterations=it)

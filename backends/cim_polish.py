"""Greedy single-flip descent on many replicas at once: the CIM emulator's final polish.

Each iteration flips, in every replica that is not yet at a local minimum, the spin whose
flip lowers ``E = h.s + s^T J s / 2`` the most, and updates that replica's local fields with
one row of ``J`` (a block row plus a sparse row for structured problems). Replicas that
reach a local minimum drop out, so late iterations cost only what the stragglers cost.

>>> import numpy as np
>>> from qama_backends.cim_couplings import Couplings
>>> J = np.zeros((1, 3, 3)); J[0, 0, 1] = J[0, 1, 0] = -1.0
>>> c = Couplings.from_dense(np.array([[0.0, 0.0, 0.5]]), J)
>>> out = greedy_descent(c, np.array([[[1.0, -1.0, 1.0]]]))
>>> out.spins.tolist(), out.flips.tolist(), out.energies.tolist()
([[[-1, -1, -1]]], [[2]], [[-1.5]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cim_couplings import Couplings

__all__ = ["Polished", "greedy_descent"]


@dataclass(frozen=True)
class Polished:
    """Local minima ``spins [B, R, V]`` (int8), their ``energies [B, R]`` (float64), flips per
    replica and the number of iterations."""

    spins: NDArray[np.int8]
    energies: NDArray[np.float64]
    flips: NDArray[np.int64]
    iterations: int


def greedy_descent(couplings: Couplings, spins: NDArray[Any], *, max_iterations: int | None = None) -> Polished:
    """Steepest single-flip descent from ``spins [B, R, V]`` (+-1) until every replica is at a
    local minimum (or ``max_iterations``, default ``4 V + 10``). Energies never increase."""
    s = np.array(spins, dtype=np.float64)
    b, r, v = s.shape
    field = couplings.apply(s)  # J s
    field += couplings.h[:, None, :]
    flips = np.zeros((b, r), dtype=np.int64)
    limit = max_iterations if max_iterations is not None else 4 * v + 10
    it = 0
    if v and r:
        tol = 1e-12 * (1.0 + float(np.abs(field).max()))
        s2, f2 = s.reshape(b * r, v), field.reshape(b * r, v)
        owner = np.repeat(np.arange(b), r)
        active = np.arange(b * r)
        cur_s, cur_f = s2, f2
        while it < limit and active.size:
            delta = cur_s * cur_f  # the flip changes E by -2 s_i f_i: the largest s_i f_i wins
            idx = np.argmax(delta, axis=1)
            gain = delta[np.arange(active.size), idx]
            moving = gain > tol
            if not moving.all():
                # write back the replicas that settled, keep the rest
                done = ~moving
                s2[active[done]] = cur_s[done]
                f2[active[done]] = cur_f[done]
                active, idx = active[moving], idx[moving]
                cur_s, cur_f = cur_s[moving], cur_f[moving]
                if not active.size:
                    break
            it += 1
            k = np.arange(active.size)
            cur_s[k, idx] *= -1.0
            couplings.add_rows(cur_f, k, owner[active], idx, 2.0 * cur_s[k, idx])
            flips.reshape(-1)[active] += 1
        if active.size:  # iteration limit reached
            s2[active] = cur_s
            f2[active] = cur_f
        s, field = s2.reshape(b, r, v), f2.reshape(b, r, v)
    energies = np.einsum("brv,brv->br", s, field + couplings.h[:, None, :]) / 2  # s.(h + J s / 2)
    return Polished(spins=s.astype(np.int8), energies=energies, flips=flips, iterations=it)

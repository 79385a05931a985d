"""Exact ground states by vectorised enumeration (a ``dimod.Sampler``).

The variables are split into a low part (enumerated once, ``2^L`` states) and a high part
(enumerated in chunks). For every chunk the ``[2^L, chunk]`` energy table is
``E_low + E_high + X_low @ (U_lh @ X_high^T)``: one BLAS matrix product per chunk. The
``num_reads`` lowest states are kept with a running partial sort.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): -2.0}, 0.0, "BINARY")
>>> ss = ExactSampler().sample(bqm, num_reads=2)
>>> [({k: int(x) for k, x in s.items()}, float(e)) for s, e in ss.data(["sample", "energy"])]
[({'a': 1, 'b': 1}, -2.0), ({'a': 0, 'b': 1}, -1.0)]
"""

from __future__ import annotations

import time
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile.errors import InvalidInputError, ProblemTooLargeError

DEFAULT_MAX_VARIABLES = 30
_LOW_BITS = 16
_TABLE_ELEMENTS = 1 << 22  # energies per chunk (32 MiB of float64)


def _states(num: int, width: int, start: int = 0, spin: bool = False) -> NDArray[np.float64]:
    idx = np.arange(start, start + num, dtype=np.int64)
    bits = ((idx[:, None] >> np.arange(width, dtype=np.int64)) & 1).astype(np.float64)
    return 2 * bits - 1 if spin else bits


class ExactSampler(dimod.Sampler):  # type: ignore[misc]
    """Enumerates every state; returns the ``num_reads`` lowest (ties by state index).

    Args:
        max_variables: refuse larger problems (before allocating); ``2^V`` states are
            scanned, so 26 variables take seconds and every extra variable doubles it.
    """

    def __init__(self, *, max_variables: int = DEFAULT_MAX_VARIABLES) -> None:
        self.max_variables = int(max_variables)

    @property
    def parameters(self) -> dict[str, list[Any]]:
        return {"num_reads": []}

    @property
    def properties(self) -> dict[str, Any]:
        return {
            "max_variables": self.max_variables,
            "native_graph": None,
            "description": "exact enumeration (vectorised, chunked)",
        }

    def sample(self, bqm: dimod.BinaryQuadraticModel, *, num_reads: int = 1, **kwargs: Any) -> dimod.SampleSet:
        if kwargs:
            raise InvalidInputError(
                f"unknown option(s) for the exact backend: {', '.join(sorted(kwargs))}",
                fix="the exact backend takes only num_reads",
            )
        if not isinstance(num_reads, (int, np.integer)) or num_reads < 1:
            raise InvalidInputError(
                f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1"
            )
        v = bqm.num_variables
        if v > self.max_variables:
            raise ProblemTooLargeError(
                f"the exact backend enumerates 2^{v} states for {v} variables; its limit is "
                f"{self.max_variables} variables",
                fix="use a heuristic backend (cim, sa), a smaller problem, or --bits/tokens that fit",
                size=v,
                limit=self.max_variables,
                unit="variables",
            )
        t0 = time.perf_counter()
        order = list(bqm.variables)
        spin = bqm.vartype is dimod.SPIN
        lin, (r, c, d), offset = bqm.to_numpy_vectors(variable_order=order)[:3]
        u = np.zeros((v, v))
        lo_idx, hi_idx = np.minimum(r, c), np.maximum(r, c)
        np.add.at(u, (lo_idx, hi_idx), d)
        states, energies = self._lowest(np.asarray(lin, dtype=np.float64), u, float(offset), int(num_reads), spin)
        samples = ((states[:, None] >> np.arange(v)) & 1).astype(np.int8)
        if spin:
            samples = 2 * samples - 1
        ss = dimod.SampleSet.from_samples(
            (samples.astype(np.int8), order),
            vartype=bqm.vartype,
            energy=energies,
            info={"backend": "exact", "wall_time_s": time.perf_counter() - t0, "states_scanned": 2**v},
        )
        return ss

    @staticmethod
    def _lowest(
        lin: NDArray[np.float64], u: NDArray[np.float64], offset: float, k: int, spin: bool
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        v = lin.size
        if v == 0:
            return np.zeros(1, dtype=np.int64), np.array([offset])
        low = min(v, _LOW_BITS)
        high = v - low
        x_low = _states(2**low, low, spin=spin)
        u_ll = u[:low, :low]
        e_low = offset + x_low @ lin[:low] + np.einsum("si,ij,sj->s", x_low, u_ll, x_low, optimize=True)
        u_lh = u[:low, low:]
        u_hh = u[low:, low:]
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
        return best_idx, best_e

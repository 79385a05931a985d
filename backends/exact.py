"""Exact ground states by vectorised enumeration: a ``dimod.Sampler`` with a batched path.

The enumeration itself is :func:`qama_compile.core.exact.lowest_states` (shared with the
quantization pass's ground-state check and the decomposition solver); this module adapts
it to dimod (:meth:`ExactSampler.sample`) and to whole IR batches (:meth:`ExactSampler.sample_ir`,
the optional ``BatchSampler`` protocol of :mod:`qama_compile.runtime.sampling`).

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): -2.0}, 0.0, "BINARY")
>>> ss = ExactSampler().sample(bqm, num_reads=2)
>>> [({k: int(x) for k, x in s.items()}, float(e)) for s, e in ss.data(["sample", "energy"])]
[({'a': 1, 'b': 1}, -2.0), ({'a': 0, 'b': 1}, -1.0)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile.core.exact import DEFAULT_MAX_VARIABLES, lowest_states
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError

from . import cost

__all__ = ["DEFAULT_MAX_VARIABLES", "ExactSampler"]


def _check_reads(num_reads: Any) -> int:
    if isinstance(num_reads, bool) or not isinstance(num_reads, (int, np.integer)) or num_reads < 1:
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
    return int(num_reads)


def _no_options(options: Mapping[str, Any]) -> None:
    if options:
        raise InvalidInputError(
            f"unknown option(s) for the exact backend: {', '.join(sorted(options))}",
            fix="the exact backend takes only num_reads (and progress)",
        )


_FIT: list[tuple[float, float]] = []


def _enumeration_cost() -> tuple[float, float]:
    """``(a, c)``: a problem above 16 variables takes ``a + c * 2^V`` seconds (dense, 17 and 20 variables)."""
    if not _FIT:
        small, large = cost.random_ir(17), cost.random_ir(20)
        lowest_states(small, k=1)  # warm up (imports, BLAS threads)
        t17 = min(cost.timed(lambda: lowest_states(small, k=1)) for _ in range(2))
        t20 = cost.timed(lambda: lowest_states(large, k=1))
        per_state = max((t20 - t17) / (2**20 - 2**17), 1e-12)
        _FIT.append((max(t17 - per_state * 2**17, 0.0), per_state))
    return _FIT[0]


class ExactSampler(dimod.Sampler):  # type: ignore[misc]
    """Enumerates every state; returns the ``num_reads`` lowest (ties by state index).

    Args:
        max_variables: refuse larger problems (before allocating); ``2^V`` states are
            scanned, so 26 variables take seconds and every extra variable doubles it.
    """

    #: Reads per problem when none are asked for: the ground state (reads are the k lowest states).
    default_num_reads = 1

    def __init__(self, *, max_variables: int = DEFAULT_MAX_VARIABLES) -> None:
        self.max_variables = int(max_variables)

    @property
    def parameters(self) -> dict[str, list[Any]]:
        return {"num_reads": [], "progress": []}

    def estimate_time_s(self, ir: QuadraticIR, *, num_reads: int = 1, **options: Any) -> float:
        """``B * (a + c * 2^V)`` seconds (``a`` above 12 variables; :mod:`qama_backends.cost`); ``inf`` above
        ``max_variables``."""
        b, v, _ = cost.work(ir)
        if v > self.max_variables:
            return float("inf")
        fixed = cost.calibrated("exact-fixed", lambda: _enumeration_cost()[0] + 1e-12)
        per_state = cost.calibrated("exact-state", lambda: _enumeration_cost()[1])
        return b * ((fixed if v > 12 else 0.0) + per_state * 2.0**v)

    @property
    def properties(self) -> dict[str, Any]:
        return {
            "max_variables": self.max_variables,
            "native_graph": None,
            "description": "exact enumeration (vectorised, chunked)",
        }

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        num_reads: int = 1,
        progress: Callable[[int, int], None] | None = None,
        **kwargs: Any,
    ) -> dimod.SampleSet:
        """The ``num_reads`` lowest states of ``bqm``; ``progress(states_done, states_total)`` per chunk."""
        _no_options(kwargs)
        reads = _check_reads(num_reads)
        t0 = time.perf_counter()
        order = list(bqm.variables)
        lin, (r, c, d), offset = bqm.to_numpy_vectors(variable_order=order)[:3]
        ir = QuadraticIR.from_coo(
            linear=np.asarray(lin, dtype=np.float64)[None],
            rows=r,
            cols=c,
            data=np.asarray(d, dtype=np.float64)[None],
            offset=[float(offset)],
            vartype="SPIN" if bqm.vartype is dimod.SPIN else "BINARY",
        )
        samples, energies = lowest_states(ir, k=reads, max_variables=self.max_variables, progress=progress)
        return dimod.SampleSet.from_samples(
            (samples[0], order),
            vartype=bqm.vartype,
            energy=energies[0],
            info={"backend": "exact", "wall_time_s": time.perf_counter() - t0, "states_scanned": 2 ** len(order)},
        )

    def sample_ir(
        self,
        ir: QuadraticIR,
        *,
        num_reads: int = 1,
        seed: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        **options: Any,
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        """The ``num_reads`` lowest states of every problem of ``ir`` (``seed`` is unused: exact)."""
        _no_options(options)
        t0 = time.perf_counter()
        samples, energies = lowest_states(
            ir, k=_check_reads(num_reads), max_variables=self.max_variables, progress=progress
        )
        info = {"backend": "exact", "wall_time_s": time.perf_counter() - t0, "states_scanned": 2**ir.num_variables}
        return samples, energies, info

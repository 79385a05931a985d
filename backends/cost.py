"""Run-time estimates for the shipped backends: a documented cost model per backend, with its
constant measured by a small timed run on this machine (once per process, cached).

``qama compare`` asks every backend for ``estimate_time_s(ir, num_reads=..., **options)``
before it starts one, to skip what would exceed its time limit. The models count the work
each algorithm does; the calibration turns work into seconds on the current machine (so a
loaded machine gives larger estimates). They are estimates: within a small factor, which is
what a skip decision needs.

======== =====================================================================================
backend  model (seconds; ``V`` variables, ``E`` non-zero couplers, ``R`` reads, ``B`` problems)
======== =====================================================================================
exact    ``B * (a + c * 2^V)`` (enumeration of every state; ``a``, counted above 12 variables: the
         ``2^16``-state table); ``a`` and ``c`` from runs at 17 and 20 variables
sa       ``B * R * sweeps * (V + 2E) * c`` (Metropolis sweeps visit every coupler twice)
steepest ``B * R * (V + 2E) * sqrt(V) * c`` (descents of about ``sqrt(V)`` flips, measured)
tabu     ``B * R * timeout`` (dwave-samplers stops each read after ``timeout`` ms, default 100: an
         upper bound; small problems took a quarter of it)
cim      ``B * R * steps * (V^2 + 8V) * c`` (one dense product per round trip)
qaoa     ``B * maxiter * t(m) * 2^(n-m) * reps (2E + n) / (2E_m + m)``, ``m = min(n, 16)``: one
         statevector run per optimizer evaluation, ``t(m)`` measured at ``m`` qubits (an upper
         estimate above 16 qubits: Aer's gate fusion makes large circuits cheaper per gate)
======== =====================================================================================

>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, 0.0]], rows=[0], cols=[1], data=[[1.0]])
>>> work(ir)
(1, 2, 1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from qama_compile.core.ir import QuadraticIR

__all__ = ["calibrated", "random_bqm", "random_ir", "timed", "work"]

_CACHE: dict[str, float] = {}
_LOCK = threading.Lock()


def work(ir: QuadraticIR) -> tuple[int, int, int]:
    """``(B, V, E)``: problems, variables and the most non-zero couplers of any problem."""
    b = ir.batch_size
    nonzero = np.count_nonzero(ir.data, axis=1)
    if ir.block_count:
        nonzero = nonzero + np.count_nonzero(ir.blocks.reshape(b, -1), axis=1)
    return b, ir.num_variables, int(nonzero.max(initial=0))


def timed(run: Callable[[], object]) -> float:
    """Wall seconds of ``run()``."""
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def calibrated(key: str, measure: Callable[[], float]) -> float:
    """``measure()`` once per process and ``key`` (a per-unit cost in seconds), then cached."""
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    value = max(float(measure()), 1e-12)
    with _LOCK:
        _CACHE.setdefault(key, value)
        return _CACHE[key]


def random_ir(num_variables: int, *, seed: int = 0, vartype: str = "SPIN") -> QuadraticIR:
    """A dense random problem for calibration runs."""
    rng = np.random.default_rng(seed)
    rows, cols = np.triu_indices(num_variables, k=1)
    return QuadraticIR.from_coo(
        linear=rng.normal(size=(1, num_variables)),
        rows=rows,
        cols=cols,
        data=rng.normal(size=(1, rows.size)),
        vartype=vartype,  # type: ignore[arg-type]
    )


def random_bqm(num_variables: int, *, seed: int = 0) -> Any:
    """:func:`random_ir` as a SPIN ``dimod.BinaryQuadraticModel``."""
    import dimod

    ir = random_ir(num_variables, seed=seed)
    rows, cols, data = ir.coo(0)
    return dimod.BinaryQuadraticModel.from_numpy_vectors(ir.linear[0], (rows, cols, data), 0.0, dimod.SPIN)

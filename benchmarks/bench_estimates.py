"""How good are the backends' run-time estimates? Estimate vs measured wall time per backend.

``qama compare`` skips a backend whose estimate (``estimate_time_s``, the cost models of
``qama_backends.cost``) exceeds its time limit, so an estimate should be within a small
factor of the truth. This script builds QAMA problems from random Gaussian tensors (2 heads,
seed 0, standardised) at several sizes, asks each backend for its estimate, runs it
``--repeats`` times with each backend's default reads, and prints the estimate, the median
and spread of the measured times, and their ratio. Measurements only: nothing is asserted.

Run (about 3 minutes with --qaoa on 2 cores; the calibrations are part of it):

    PYTHONPATH=.pypath python benchmarks/bench_estimates.py [--qaoa] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from qama_compile import lower_attention
from qama_compile.runtime.registry import get_backend
from qama_compile.runtime.sampling import default_num_reads, estimate_time_s, sample_batch

SIZES = {  # backend -> (H, N, q) shapes measured
    "exact": [(2, 4, 2), (2, 5, 2), (2, 6, 2)],
    "cim": [(2, 6, 2), (2, 16, 2), (4, 32, 2)],
    "sa": [(2, 6, 2), (2, 16, 2), (4, 32, 2)],
    "steepest": [(2, 6, 2), (2, 16, 2), (4, 32, 2)],
    "tabu": [(2, 6, 2), (2, 16, 2)],
    "qaoa": [(2, 3, 1), (2, 4, 1), (2, 5, 1)],
}


def measure(name: str, shape: tuple[int, int, int], repeats: int) -> dict[str, Any]:
    h, n, q = shape
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, h, n, 16)), bits=q)
    options: dict[str, Any] = {"maxiter": 20} if name == "qaoa" else {}
    sampler = get_backend(name, **options)
    reads = default_num_reads(sampler)
    t0 = time.perf_counter()
    estimate = estimate_time_s(sampler, problem.ir, num_reads=reads)
    calibration = time.perf_counter() - t0
    sample_batch(problem.ir, sampler, num_reads=reads, seed=0)  # warm up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        sample_batch(problem.ir, sampler, num_reads=reads, seed=r)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return {
        "backend": name,
        "H,N,q": f"{h},{n},{q}",
        "variables": problem.ir.num_variables,
        "reads": reads,
        "estimate_s": estimate,
        "measured_median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "estimate/measured": None if estimate is None else estimate / median,
        "first_estimate_s": calibration,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--qaoa", action="store_true", help="also qaoa (maxiter=20, slower)")
    parser.add_argument("--backends", default=None, help="comma-separated subset")
    args = parser.parse_args()
    chosen = None if args.backends is None else set(args.backends.split(","))
    from qama_compile.tools.tables import format_table

    rows = []
    for name, shapes in SIZES.items():
        if (name == "qaoa" and not args.qaoa) or (chosen is not None and name not in chosen):
            continue
        for shape in shapes:
            rows.append(measure(name, shape, args.repeats))
            print(f"# {rows[-1]}", flush=True)
    print(format_table(rows, digits=3))


if __name__ == "__main__":
    main()

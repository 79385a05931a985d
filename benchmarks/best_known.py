"""Seed or lower the best-known energies of the benchmark instances with long runs (not timed).

    .venv-bench/bin/python benchmarks/best_known.py                  # every instance, ~60 s per solver each
    .venv-bench/bin/python benchmarks/best_known.py --instances sk-2000 --seconds 300

Runs dwave-samplers SA (16 reads, sweeps doubled until the time is used) and our ``cim``
(64 reads, steps doubled likewise) on each instance and lowers
``benchmarks/results/best_known.json`` where either found a lower energy. The benchmark
(``bench_solvers.py``) reads that file for its targets and lowers it too.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_solvers import load_best_known, save_best_known
from common import limit_threads
from instances import build_instances
from peers import all_solvers


def improve(solver: Any, inst: Any, seconds: float, reads: int, start: int) -> np.ndarray:
    """Best energy per problem from runs of doubling budget until ``seconds`` are used."""
    prep = solver.prepare(inst)
    best = np.full(inst.batch, np.inf)
    budget, t_start, k = start, time.perf_counter(), 0
    while time.perf_counter() - t_start < seconds:
        t0 = time.perf_counter()
        spins = solver.run(prep, budget, reads, 1000 + k)
        e = inst.energies(spins).min(axis=1)
        best = np.minimum(best, e)
        took = time.perf_counter() - t0
        print(
            f"  {inst.name:<18} {solver.name:<18} budget {budget:<6} {took:6.1f} s  sum {best.sum():.10g}", flush=True
        )
        k += 1
        if took * 2.2 < seconds - (time.perf_counter() - t_start):
            budget *= 2
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", default="")
    ap.add_argument("--seconds", type=float, default=60.0, help="per solver and instance")
    args = ap.parse_args(argv)
    limit_threads(1)
    only = [s.strip() for s in args.instances.split(",") if s.strip()]
    instances = build_instances(quick=False, only=only or None)
    store = load_best_known(instances)
    solvers = {s.name: s for s in all_solvers()}
    found: dict[str, Any] = {}
    for inst in instances:
        for name, reads, start in (("dwave-samplers SA", 16, 1000), ("cim (ours)", 64, 1000)):
            best = improve(solvers[name], inst, args.seconds, reads, start)
            prev = found.get(inst.name)
            if prev is None:
                found[inst.name] = {"energies": best, "by": f"{name} (best_known.py)"}
            elif np.any(best < prev["energies"]):
                found[inst.name] = {
                    "energies": np.minimum(best, prev["energies"]),
                    "by": f"{prev['by']}, {name} (best_known.py)",
                }
    improved = save_best_known(store, instances, found)
    print(f"lowered: {', '.join(improved) or 'nothing'}")


if __name__ == "__main__":
    main()

"""Per-forward solver cost at the experiments' problem size, measured before sizing the run.

One QAMA forward of a training batch (``B = 64`` items, ``H = 2`` heads, ``N = 8`` tokens,
``bits = 1``: 16 binary variables per item) on each arm's backend, as the arms configure
it (:mod:`experiments.arms`); median of ``repeats`` calls of wall and CPU time of the whole
forward and of the solver call alone (``last_solve_time_s``). One torch thread.

    .venv/bin/python -m experiments.solver_cost
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from .arms import QAMA_ARMS, SolverConfig, attention_layer


def measure(*, batch: int = 64, tokens: int = 8, dim: int = 32, heads: int = 2, repeats: int = 7) -> dict[str, Any]:
    """``{arm: {forward_wall_s, forward_cpu_s, solver_wall_s}}`` (medians) plus the softmax layer for scale."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(batch, tokens, dim)
    out: dict[str, Any] = {"batch": batch, "tokens": tokens, "heads": heads, "repeats": repeats}
    solver = SolverConfig()
    for arm in ("softmax", *QAMA_ARMS):
        layer = attention_layer(arm, dim=dim, heads=heads, seed=0, solver=solver, density=0.5)
        assert layer is not None
        layer.train()
        walls, cpus, solves = [], [], []
        for i in range(repeats + 1):
            t, c = time.perf_counter(), time.process_time()
            layer(x, x, x, need_weights=False)
            if i:  # the first call builds the sampler and warms caches
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                solves.append(getattr(layer, "last_solve_time_s", 0.0))
        out[arm] = {
            "forward_wall_s": float(np.median(walls)),
            "forward_cpu_s": float(np.median(cpus)),
            "solver_wall_s": float(np.median(solves)),
        }
    return out


def run_solver_cost(*, out: str) -> dict[str, Any]:
    from qama_compile.base.atomic import atomic_write

    from .protocol import load_average, provenance

    c0 = time.process_time()
    res = measure()
    res["load_average"] = load_average()
    res["provenance"] = provenance()
    with atomic_write(out, "w") as fh:
        json.dump(res, fh, indent=1)
    return {
        "cpu_s": time.process_time() - c0,
        "summary": ", ".join(f"{a} {1e3 * res[a]['forward_cpu_s']:.1f} ms" for a in ("softmax", *QAMA_ARMS)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.parse_args(argv)
    res = measure()
    print(f"one forward of B={res['batch']}, H={res['heads']}, N={res['tokens']}, bits=1 (median of {res['repeats']})")
    for arm in ("softmax", *QAMA_ARMS):
        r = res[arm]
        print(
            f"  {arm:13s} forward {1e3 * r['forward_wall_s']:7.1f} ms wall, {1e3 * r['forward_cpu_s']:7.1f} ms CPU; "
            f"solver {1e3 * r['solver_wall_s']:7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

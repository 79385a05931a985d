"""QAOA routed to a device (issue 14): depth, two-qubit gates and ground-state shots, all-to-all vs ``ibm-heron``.

Two small QAMA problems (1 head x 3 tokens x 2 bits = 6 qubits, 2 x 2 x 2 = 8 qubits, from
``numpy.random.default_rng(4)``) are solved with ``solve(..., backend="qaoa")``, p=2, COBYLA
30 iterations, 1024 shots, seed 0: on the ideal Aer sampler (all-to-all), and on the
``ibm-heron`` device (FakeFez with the ``ibm`` extra, else GenericBackendV2) with and without
its noise model. Prints the routed depth and two-qubit gates (``info``), the all-to-all
two-qubit gates of the same ansatz, the fraction of shots at the exact ground state (exact by
enumeration) and the wall time. Counts are deterministic; wall times depend on the machine.

Run: ``/work/main/.venv/bin/python benchmarks/bench_qaoa_devices.py`` (the ``ibm`` extra
changes the device to FakeFez).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, machine_info, table, write_json


def main() -> int:
    from qama_compile import lower_attention
    from qama_compile.runtime.solve import solve

    rows, records = [], []
    for label, shape in (("1x3x2 (6 qubits)", (3, 1, 3, 4)), ("2x2x2 (8 qubits)", (3, 2, 2, 4))):
        problem = lower_attention(*np.random.default_rng(4).normal(size=shape), bits=2)
        n = problem.ir.num_variables
        states = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.int8)
        ground = float(problem.ir.energies(states[None])[0].min())
        for where, extra in (
            ("Aer, all-to-all", {}),
            ("ibm-heron, noiseless", {"device": "ibm-heron", "noise": False}),
            ("ibm-heron, noise", {"device": "ibm-heron"}),
        ):
            t0 = time.perf_counter()
            options = {"reps": 2, "maxiter": 30, "shots": 1024, **extra}
            res = solve(problem, backend="qaoa", backend_options=options, seed=0)
            wall = time.perf_counter() - t0
            info = res.info.backend_info[0]
            e, c = res.read_energies[0], res.read_counts[0]
            p = float(c[np.isclose(e, ground, atol=1e-9)].sum() / c.sum())
            record = {
                "problem": label,
                "where": where,
                "device": info["device"],
                "depth": info["circuit_depth"],
                "two_qubit_gates": info["circuit_two_qubit_gates"],
                "two_qubit_gates_all_to_all": info["circuit_two_qubit_gates_all_to_all"],
                "p_ground": p,
                "p_uniform": 1 / 2**n,
                "wall_s": wall,
            }
            records.append(record)
            rows.append(
                [
                    label,
                    f"{where} ({info['device'] or 'aer'})",
                    info["circuit_depth"],
                    f"{info['circuit_two_qubit_gates']} ({info['circuit_two_qubit_gates_all_to_all']})",
                    f"{100 * p:.1f} %",
                    f"{wall:.1f} s",
                ]
            )
    print(table(["problem", "where", "depth", "2q gates (all-to-all)", "ground shots", "wall"], rows))
    out = RESULTS_DIR / "qaoa_devices.json"
    write_json(out, {"machine": machine_info(), "runs": records})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

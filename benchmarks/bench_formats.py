"""Write and read times of every logical file format on one mid-sized QAMA problem.

    python benchmarks/bench_formats.py              # H=8, N=64, d=32, q=4: 2048 variables
    python benchmarks/bench_formats.py --repeats 5

One problem (seeded N(0, 1) tensors), each format written and read ``--repeats`` times in this
process; prints the median with the min-max, the file size and the largest energy difference
between the file and the in-memory problem on 64 random assignments. Results go to
``benchmarks/results/formats.json``; docs/formats.md quotes them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, fmt_time, machine_info, table, write_json

from qama_compile import lower_attention
from qama_compile.formats import FORMATS, load, save

SUFFIX = {"bqm-json": ".json", "npz": ".npz", "coo": ".coo", "mtx": ".mtx", "lp": ".lp", "kaiwu": ".csv"}


def _timed(call, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="8,64,32", help="H,N,d of the problem (default 8,64,32)")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "formats.json")
    args = parser.parse_args(argv)
    h, n, d = (int(x) for x in args.shape.split(","))
    rng = np.random.default_rng(args.seed)
    problem = lower_attention(*rng.normal(size=(3, 1, h, n, d)), bits=args.bits, precision="float64")
    x = rng.integers(0, 2, size=(64, problem.ir.num_variables))
    want = problem.energies(x)[0]
    info = machine_info()
    print(
        f"{problem.ir.num_variables} variables, {problem.ir.num_couplers} structural couplers; "
        f"{args.repeats} repeats; load average {info.get('loadavg_at_start')}"
    )
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (f for f in SUFFIX if f in FORMATS and FORMATS[f].logical):
            path = Path(tmp) / f"p{SUFFIX[name]}"
            write = _timed(lambda path=path: save(problem, path), args.repeats)
            read = _timed(lambda path=path: load(path), args.repeats)
            back = load(path)
            ir = back.ir if hasattr(back, "ir") else back
            xs = 2 * x - 1 if ir.vartype == "SPIN" else x
            diff = float(np.abs(ir.energies(xs)[0] - want).max())
            size = path.stat().st_size
            results.append({"format": name, "write_s": write, "read_s": read, "bytes": size, "max_energy_diff": diff})
            rows.append(
                [
                    name,
                    f"{fmt_time(statistics.median(write))} [{fmt_time(min(write))}, {fmt_time(max(write))}]",
                    f"{fmt_time(statistics.median(read))} [{fmt_time(min(read))}, {fmt_time(max(read))}]",
                    f"{size / 1e6:.1f} MB",
                    f"{diff:.1e}",
                ]
            )
    print(table(["format", "write median [min, max]", "read median [min, max]", "size", "max energy diff"], rows))
    write_json(
        args.out,
        {
            "machine": info,
            "problem": {"H": h, "N": n, "d": d, "bits": args.bits, "seed": args.seed},
            "repeats": args.repeats,
            "results": results,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Lowering benchmark (issue 2): ``lower_attention`` vs building the same BQMs from Python dicts.

Lowers B=32 QAMA problems (H=8 heads, N=128 tokens, d=64, bits=4: 4096 binary variables
and 1,062,912 couplers each) from seeded random tensors with
:func:`qama_compile.lower_attention`, and in the same run builds the same problems the
way a user would without this tool: compute J and h with numpy (vectorised, from the
DESIGN.md formula), then loop in Python to fill ``linear`` / ``quadratic`` dicts and call
``dimod.BinaryQuadraticModel(linear, quadratic, offset, "BINARY")``. Prints both times and
their ratio, and checks both give the same energy on random assignments.

The dict build of one problem takes seconds, so by default it runs on a subset of the 32
problems and the total is scaled linearly (per-problem times are printed; they are
independent problems of one shape). ``--dict-problems 32`` times all of them.

Run: ``.venv-bench/bin/python benchmarks/bench_lower.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import os

# One thread for every BLAS / OpenMP pool, set before numpy or torch load their libraries.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, ROOT, fmt_time, limit_threads, machine_info, table, update_docs, write_json

import qama_compile
from qama_compile.core.hamiltonian import js_coupling, value_entropy
from qama_compile.core.lowering import build_qama_ir

BAR = 20.0  # issue 2: lowering must be at least 20x faster than the dict build


# --------------------------------------------------------------------------- the user's way
def user_softmax(x: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


def user_couplings_and_fields(
    q: NDArray[np.float64], k: NDArray[np.float64], v: NDArray[np.float64], eps: float = 1e-8
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """J [H, N, N] (Jensen-Shannon, base 2, as KL to the mixture) and h [H, N] for one problem.

    Written from the DESIGN.md formula, independently of qama_compile, vectorised with numpy
    over one head at a time (what a careful user would write).
    """
    heads, n, _ = q.shape
    j_out = np.empty((heads, n, n))
    for t in range(heads):
        p = user_softmax(q[t])[:, None, :]  # [N, 1, d]
        r = user_softmax(k[t])[None, :, :]  # [1, N, d]
        m = 0.5 * (p + r)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
            kl_r = np.where(r > 0, r * np.log2(r / m), 0.0).sum(axis=-1)
        j_out[t] = np.clip(0.5 * (kl_p + kl_r), 0.0, 1.0)
    pv = np.clip(v / (v.sum(axis=-1, keepdims=True) + eps), eps, 1.0)
    h_out = -(pv * np.log2(pv)).sum(axis=-1)
    return j_out, h_out


def user_dict_bqm(
    j: NDArray[np.float64], h: NDArray[np.float64], *, bits: int, alpha: float, beta: float, penalty: float
) -> dimod.BinaryQuadraticModel:
    """Fill linear/quadratic dicts in Python loops, then build the BQM (integer labels).

    Variable (t, i, r) is ``(t * N + i) * bits + r``: the same order as qama_compile's IR.
    Only pairs u < v are written (J symmetrised first), which halves the dict.
    """
    heads, n, _ = j.shape
    c = [2.0**r / (2.0**bits - 1.0) for r in range(bits)]
    cc = [[cr * cs for cs in c] for cr in c]
    linear: dict[int, float] = {}
    quadratic: dict[tuple[int, int], float] = {}
    for t in range(heads):
        jt = j[t].tolist()
        ht = h[t].tolist()
        base = t * n * bits
        for i in range(n):
            row_i = jt[i]
            for r in range(bits):
                u = base + i * bits + r
                linear[u] = -beta * ht[i] * c[r] - alpha * row_i[i] * cc[r][r]
                for jj in range(i, n):
                    coupling = -alpha * (row_i[jj] + jt[jj][i])
                    vbase = base + jj * bits
                    for s in range(bits):
                        v = vbase + s
                        if v > u:
                            quadratic[(u, v)] = coupling * cc[r][s]
    pairs = heads * (heads - 1) // 2
    if pairs:
        lam = penalty / pairs
        block = n * bits
        for t in range(heads):
            for t2 in range(t + 1, heads):
                for m in range(block):
                    quadratic[(t * block + m, t2 * block + m)] = lam
    return dimod.BinaryQuadraticModel(linear, quadratic, 0.0, "BINARY")


# --------------------------------------------------------------------------- the benchmark
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument(
        "--dict-problems",
        type=int,
        default=None,
        help="how many of the B problems to build with dicts (default 4; --quick 1)",
    )
    ap.add_argument("--repeats", type=int, default=None, help="lowering repeats, best kept (default 3; --quick 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke run: B=8, N=64, one dict problem")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.tokens = min(args.batch, 8), min(args.tokens, 64)
    if args.out is None:
        args.out = RESULTS_DIR / ("lower_quick.json" if args.quick else "lower.json")
    dict_problems = min(args.batch, args.dict_problems or (1 if args.quick else 4))
    repeats = args.repeats or (1 if args.quick else 3)
    limit_threads(1)

    b, hh, n, d, q = args.batch, args.heads, args.tokens, args.dim, args.bits
    rng = np.random.default_rng(args.seed)
    qt, kt, vt = (rng.normal(size=(b, hh, n, d)) for _ in range(3))
    workers = min(hh * b, os.cpu_count() or 1, 8)  # js_coupling's own thread pool (not BLAS/OpenMP)
    threads_note = (
        f"BLAS/OpenMP pinned to 1 thread; qama_compile.js_coupling runs its own pool of {workers} worker threads, "
        "the user's numpy code runs on 1"
    )
    print(f"lowering benchmark: B={b}, H={hh}, N={n}, d={d}, bits={q}, seed={args.seed}; {threads_note}")

    # ---- qama_compile: the whole batch in one call (includes J, h, and the IR)
    lower_times = []
    problem = None
    for _ in range(repeats):
        problem = None
        gc.collect()
        t0 = time.perf_counter()
        problem = qama_compile.lower_attention(qt, kt, vt, bits=q)
        lower_times.append(time.perf_counter() - t0)
    assert problem is not None
    t_lower = min(lower_times)
    t_lower_median = float(np.median(lower_times))
    ir = problem.ir
    print(
        f"  variables per problem: {ir.num_variables} (H*N*q = {hh}*{n}*{q}); couplers per problem: "
        f"{ir.num_couplers:,} ({hh} heads x {ir.num_block_couplers // hh:,} dense + "
        f"{ir.num_sparse_couplers:,} head-penalty)"
    )

    # ---- the same lowering split in its two stages (J, h; then the IR from J, h)
    split_times: list[tuple[float, float]] = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        couplings = js_coupling(qt, kt)
        fields = value_entropy(vt)
        t1 = time.perf_counter()
        build_qama_ir(couplings, fields, bits=q, alpha=1.0, beta=1.0, penalty=2.0)
        split_times.append((t1 - t0, time.perf_counter() - t1))
    t_lib_jh = min(s[0] for s in split_times)
    t_lib_build = min(s[1] for s in split_times)
    del couplings, fields

    # ---- qama_compile, then to_bqm for every problem (what a user who needs BQMs pays)
    t0 = time.perf_counter()
    bqm_first = problem.to_bqm(0)
    t_to_bqm_one = time.perf_counter() - t0
    t_lower_bqm = t_lower + t_to_bqm_one * b  # to_bqm is per problem; scaled like the dict build

    # ---- the user's way: J/h with numpy per problem, dict loops, BQM constructor
    per_problem: list[dict[str, float]] = []
    bqm_dict_first = None
    for index in range(dict_problems):
        gc.collect()
        t0 = time.perf_counter()
        j_u, h_u = user_couplings_and_fields(qt[index], kt[index], vt[index])
        t1 = time.perf_counter()
        bqm = user_dict_bqm(j_u, h_u, bits=q, alpha=1.0, beta=1.0, penalty=2.0)
        t2 = time.perf_counter()
        per_problem.append({"j_h_s": t1 - t0, "dicts_and_bqm_s": t2 - t1, "total_s": t2 - t0})
        if index == 0:
            bqm_dict_first = bqm
        del bqm
    assert bqm_dict_first is not None
    t_dict_one = float(np.mean([p["total_s"] for p in per_problem]))
    t_dict_all = t_dict_one * b
    scaled = dict_problems < b

    # ---- same energies on random assignments (problem 0): IR, dict BQM, to_bqm
    samples = rng.integers(0, 2, size=(64, ir.num_variables)).astype(np.int8)
    e_ir = ir.select([0]).energies(samples)[0]
    e_dict = bqm_dict_first.energies((samples, list(range(ir.num_variables))))
    e_to_bqm = bqm_first.energies((samples, ir.label_tuples()))
    e_ref = problem.select([0]).reference_energy(samples)[0]
    scale = max(1.0, float(np.abs(e_ref).max()))
    err = {
        "ir_vs_dict": float(np.abs(e_ir - e_dict).max()) / scale,
        "ir_vs_formula": float(np.abs(e_ir - e_ref).max()) / scale,
        "to_bqm_vs_dict": float(np.abs(e_to_bqm - e_dict).max()) / scale,
    }
    energies_agree = all(v < 1e-9 for v in err.values())

    ratio = t_dict_all / t_lower
    ratio_median = t_dict_all / t_lower_median
    ratio_bqm = t_dict_all / t_lower_bqm
    user_jh = float(np.mean([p["j_h_s"] for p in per_problem]))
    user_build = float(np.mean([p["dicts_and_bqm_s"] for p in per_problem]))
    ratio_build = user_build * b / t_lib_build
    ratio_jh = user_jh * b / t_lib_jh
    note = f" (scaled from {dict_problems} of {b})" if scaled else ""
    rows = [
        ["qama_compile.lower_attention (all B, one call)", fmt_time(t_lower), fmt_time(t_lower / b), "1.0x"],
        ["  stage 1: js_coupling + value_entropy (J, h)", fmt_time(t_lib_jh), fmt_time(t_lib_jh / b), ""],
        ["  stage 2: build_qama_ir (the IR from J, h)", fmt_time(t_lib_build), fmt_time(t_lib_build / b), ""],
        [
            "  then problem.to_bqm(i) for every problem (scaled from 1)",
            fmt_time(t_lower_bqm),
            fmt_time(t_lower_bqm / b),
            f"{t_lower_bqm / t_lower:.1f}x",
        ],
        [
            "user: numpy J, h + Python dicts + dimod BQM" + note,
            fmt_time(t_dict_all),
            fmt_time(t_dict_one),
            f"{ratio:.1f}x",
        ],
        ["  stage 1: numpy J, h (per head)", fmt_time(user_jh * b), fmt_time(user_jh), ""],
        ["  stage 2: dict loops + BinaryQuadraticModel", fmt_time(user_build * b), fmt_time(user_build), ""],
    ]
    print()
    main_table = table(["method", f"time for B={b}", "per problem", "time / lower"], rows)
    print(main_table)
    print()
    print(
        f"end-to-end speed-up of lower_attention over the dict build: {ratio:.1f}x (bar >= {BAR:.0f}x: "
        f"{'met' if ratio >= BAR else 'NOT met'}); with the median lowering time instead of the best "
        f"{ratio_median:.1f}x; with to_bqm for every problem: {ratio_bqm:.1f}x"
    )
    print(f"by stage: J, h {ratio_jh:.2f}x (library vs user numpy); IR build vs dict loops + BQM {ratio_build:.1f}x")
    print(
        f"lowering repeats: {', '.join(fmt_time(t) for t in lower_times)} (best kept); dict build per problem: "
        + ", ".join(fmt_time(p["total_s"]) for p in per_problem)
    )
    print(
        f"energies on 64 random assignments of problem 0: max relative difference IR vs dict BQM "
        f"{err['ir_vs_dict']:.1e}, IR vs DESIGN.md formula {err['ir_vs_formula']:.1e}, to_bqm vs dict BQM "
        f"{err['to_bqm_vs_dict']:.1e} -> {'agree' if energies_agree else 'DISAGREE'}"
    )

    payload = {
        "benchmark": "lower",
        "machine": machine_info(),
        "config": {
            "batch": b,
            "heads": hh,
            "tokens": n,
            "dim": d,
            "bits": q,
            "seed": args.seed,
            "dict_problems": dict_problems,
            "repeats": repeats,
            "quick": args.quick,
            "blas_threads": 1,
            "js_coupling_workers": workers,
        },
        "variables_per_problem": ir.num_variables,
        "couplers_per_problem": ir.num_couplers,
        "lower_s": t_lower,
        "lower_repeats_s": lower_times,
        "lib_j_h_s": t_lib_jh,
        "lib_build_ir_s": t_lib_build,
        "ratio_j_h_stage": ratio_jh,
        "ratio_build_stage": ratio_build,
        "to_bqm_one_s": t_to_bqm_one,
        "lower_plus_to_bqm_s_scaled": t_lower_bqm,
        "dict_per_problem": per_problem,
        "dict_all_s": t_dict_all,
        "dict_scaled": scaled,
        "ratio": ratio,
        "ratio_median_lowering": ratio_median,
        "ratio_including_to_bqm": ratio_bqm,
        "bar": BAR,
        "bar_met": ratio >= BAR,
        "energy_max_relative_error": err,
        "energies_agree": energies_agree,
    }
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    if not args.quick and not args.no_docs:
        m = payload["machine"]
        summary_lines = [
            f"Generated by `{m['command']}` on {m['utc']}; {m['cpu'].get('Model name', '?')}, "
            f"{m['cpu'].get('CPU(s)', '?')} CPUs, load average at start "
            f"{', '.join(f'{x:.1f}' for x in m['loadavg_at_start'])}; {threads_note}; "
            f"Python {m['versions']['python']}, "
            f"numpy {m['versions']['numpy']}, dimod {m['versions'].get('dimod', '?')}.",
            "",
            f"B={b}, H={hh}, N={n}, d={d}, bits={q}: {ir.num_variables} variables and {ir.num_couplers:,} couplers "
            f"per problem; seed {args.seed}.",
            "",
            main_table,
            "",
            f"- end-to-end speed-up: **{ratio:.1f}x** (bar >= {BAR:.0f}x: {'met' if ratio >= BAR else 'NOT met'}); "
            f"with the median of the {repeats} lowering repeats instead of the best: {ratio_median:.1f}x; "
            f"with `to_bqm` for every problem: {ratio_bqm:.1f}x",
            f"- by stage: J, h {ratio_jh:.2f}x (library vs user numpy); "
            f"IR build vs dict loops + BQM {ratio_build:.1f}x",
            f"- energies on 64 random assignments agree: IR vs dict BQM {err['ir_vs_dict']:.1e}, "
            f"IR vs DESIGN.md formula {err['ir_vs_formula']:.1e} (max relative difference)",
        ]
        update_docs(ROOT / "docs" / "benchmarks.md", "bench_lower", "\n".join(summary_lines))
        print("updated docs/benchmarks.md")
    if not energies_agree:
        raise SystemExit("energies disagree between the IR and the dict-built BQM")
    return payload


if __name__ == "__main__":
    main()

"""Solver benchmark (issues 6 and 15): our ``cim`` against dwave-samplers SA and the other peers, one run.

Instances (``instances.py``): standardised and raw QAMA problems of 1-4k variables, batches of
64 small QAMA problems, a G1-like sparse max-cut graph, a 50 x 50 toroidal grid, dense SK
n = 512 and 2000. Targets: the best known energy of every problem (``results/best_known.json``,
lowered whenever a run finds better) and 0.1 % above it.

Protocol (the same for every solver; docs/benchmarks.md): a sweep over ``budget`` (sweeps or
steps) x ``reads`` per problem; every configuration is run ``--repeats`` times (default 5)
with different seeds. A repeat *reaches* a target when every problem of the batch is within
the gap; a configuration reaches it when its median repeat does (3 of 5). Time to target =
the median wall time of the fastest configuration that reaches it. Configurations are run
cheapest first; one is skipped when it cannot be faster than a time to best known already
measured (a configuration with no larger budget and reads took longer), or when it is
predicted to exceed ``--cap`` seconds per call. Every sample is re-scored with dimod (and
once with the IR). Every solver runs single-threaded.

Run: ``.venv-bench/bin/python benchmarks/bench_solvers.py`` (``--quick``: a few minutes).
The report (docs/benchmarks.md and the README summary) is regenerated from the JSON by
``report_solvers.py``.
"""

from __future__ import annotations

import os

# One thread for every BLAS / OpenMP pool, set before numpy or torch load their libraries.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

import argparse
import hashlib
import json
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, fmt_time, limit_threads, machine_info, write_json
from instances import BENCH_SEED, Instance, build_instances
from peers import BUDGETS, QUICK_BUDGETS, QUICK_READS, READS, Solver, all_solvers

GAPS = (0.001, 0.0)  # within 0.1 % of the best known, and the best known itself
OURS = "cim (ours)"
BEST_KNOWN = RESULTS_DIR / "best_known.json"


def gap_key(gap: float) -> str:
    return "best" if gap == 0 else f"{gap * 100:g}%"


def cell_seed(seed: int, *parts: Any) -> int:
    return (seed * 1_000_003 + zlib.crc32("|".join(map(str, parts)).encode())) % (2**31 - 1)


def fingerprint(inst: Instance) -> str:
    """A hash of the instance's arrays: best-known energies only apply to the same problems."""
    h = hashlib.sha256()
    for a in (inst.ir.linear, inst.ir.offset, inst.ir.blocks, inst.ir.rows, inst.ir.cols, inst.ir.data):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def load_best_known(instances: list[Instance]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BEST_KNOWN.read_text()) if BEST_KNOWN.exists() else {}
    for inst in instances:
        entry = data.get(inst.name)
        if entry and entry.get("fingerprint") == fingerprint(inst):
            inst.best_known = np.asarray(entry["energies"], dtype=np.float64)
    return data


def save_best_known(data: dict[str, Any], instances: list[Instance], found: dict[str, Any]) -> list[str]:
    """Lower the stored best-known energies where this run found better; the names improved."""
    improved = []
    for inst in instances:
        best = found.get(inst.name)
        if best is None:
            continue
        fp = fingerprint(inst)
        entry = data.get(inst.name)
        old = np.asarray(entry["energies"]) if entry and entry.get("fingerprint") == fp else None
        new = best["energies"] if old is None else np.minimum(old, best["energies"])
        if old is None or np.any(new < old - 1e-9 * np.maximum(1, np.abs(old))):
            improved.append(inst.name)
            data[inst.name] = {
                "fingerprint": fp,
                "energies": [float(x) for x in new],
                "found_by": best["by"],
                "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
    if improved:
        write_json(BEST_KNOWN, data)
    return improved


def within(best: np.ndarray, target: np.ndarray, gap: float) -> np.ndarray:
    """Per problem: is ``best`` within ``gap`` (relative) of ``target``?"""
    tol = gap * np.abs(target) + 1e-9 * np.maximum(1.0, np.abs(target))
    return best <= target + tol


# --------------------------------------------------------------------------- one (solver, instance)
def sweep(
    solver: Solver,
    inst: Instance,
    *,
    budgets: tuple[int, ...],
    reads: tuple[int, ...],
    repeats: int,
    cap: float,
    pair_budget: float,
    seed: int,
    target: np.ndarray | None,
) -> dict[str, Any]:
    """Run the configurations of one solver on one instance (see the module docstring)."""
    t_pair = time.perf_counter()
    t0 = time.perf_counter()
    prep = solver.prepare(inst)
    prepare_s = time.perf_counter() - t0
    solver.run(prep, budgets[0], 1, cell_seed(seed, "warmup"))  # imports, allocators, JIT
    configs = sorted(((b, r) for b in budgets for r in reads), key=lambda c: (c[0] * c[1], c[0]))
    cells: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    best_found = np.full(inst.batch, np.inf)
    checked = False
    for b, r in configs:
        dominated = [c for c in cells if c["budget"] <= b and c["reads"] <= r]
        lower = max((c["median_s"] for c in dominated), default=0.0)
        if dominated:
            base = max(dominated, key=lambda c: c["budget"] * c["reads"])
            predicted = base["median_s"] * (b * r) / (base["budget"] * base["reads"])
        else:
            predicted = 0.0
        ttt = ttt_of(cells, target, 0.0) if target is not None else None
        reason = ""
        if ttt is not None and lower > ttt["median_s"]:
            reason = "cannot beat the time to best known already measured"
        elif predicted > cap:
            reason = f"predicted {predicted:.2g} s per call > cap {cap:g} s"
        elif time.perf_counter() - t_pair > pair_budget:
            reason = f"pair time budget {pair_budget:g} s used"
        if reason:
            skipped.append({"budget": b, "reads": r, "why": reason})
            continue
        walls, bests = [], []
        for k in range(repeats):
            s = cell_seed(seed, solver.name, inst.name, b, r, k)
            t0 = time.perf_counter()
            spins = solver.run(prep, b, r, s)
            walls.append(time.perf_counter() - t0)
            if spins.shape != (inst.batch, r, inst.n):
                raise RuntimeError(f"{solver.name} returned {spins.shape}, expected {(inst.batch, r, inst.n)}")
            e = inst.energies(spins)  # dimod: the only energy we trust
            if not checked:
                if not np.allclose(e, inst.energies_ir(spins), rtol=1e-9, atol=1e-6):
                    raise RuntimeError(f"dimod and IR energies disagree on {inst.name}")
                checked = True
            bests.append(e.min(axis=1))
            best_found = np.minimum(best_found, e.min(axis=1))
        cells.append(
            {
                "budget": b,
                "reads": r,
                "walls_s": walls,
                "median_s": statistics.median(walls),
                "best": [x.tolist() for x in bests],  # [repeats][B]
            }
        )
        print(
            f"  {inst.name:<18} {solver.name:<26} {solver.knob}={b:<5} reads={r:<3} "
            f"median {fmt_time(statistics.median(walls)):>9}  best {float(np.min(bests)):.8g}",
            flush=True,
        )
    return {
        "solver": solver.name,
        "instance": inst.name,
        "knob": solver.knob,
        "prepare_s": prepare_s,
        "cells": cells,
        "skipped": skipped,
        "best_found": best_found.tolist(),
        "elapsed_s": time.perf_counter() - t_pair,
    }


def ttt_of(cells: list[dict[str, Any]], target: np.ndarray | None, gap: float) -> dict[str, Any] | None:
    """The fastest configuration whose median repeat reaches the target (``None``: none does)."""
    if target is None:
        return None
    best = None
    for c in cells:
        hits = [bool(within(np.asarray(bk), target, gap).all()) for bk in c["best"]]
        if sum(hits) * 2 > len(hits) and (best is None or c["median_s"] < best["median_s"]):
            best = {
                "median_s": c["median_s"],
                "budget": c["budget"],
                "reads": c["reads"],
                "hits": sum(hits),
                "repeats": len(hits),
            }
    return best


def size_factor(inst: Instance) -> float:
    """Larger instances get a longer per-call cap and time budget: batches and n >= 2000 x 2,
    dense SK n >= 2000 x 3 (its best known energy needs long calls)."""
    if inst.family == "sk" and inst.n >= 2000:
        return 3.0
    return 2.0 if inst.family == "qama-batch" or inst.n >= 2000 else 1.0


# --------------------------------------------------------------------------- context measurements
def call_overhead(repeats: int = 200) -> dict[str, Any]:
    """Per-call cost on a 64-variable QAMA problem: cim with 1 step, no polish (what is not
    dynamics), cim's dimod ``sample``, and SA with 1 sweep (beta_range given)."""
    from dwave.samplers import SimulatedAnnealingSampler
    from instances import qama_ir
    from qama_backends.cim import CIMSampler, sample_ir

    ir = qama_ir(1, 2, 8, BENCH_SEED + 100, normalize="standardise")
    inst = Instance("overhead-64", "qama", ir, "")
    bqm = inst.bqms[0]
    sa = SimulatedAnnealingSampler()
    br = sa.sample(bqm, num_reads=1, num_sweeps=1, seed=0).info["beta_range"]
    cim = CIMSampler()
    calls = {
        "cim sample_ir (1 step, no polish)": lambda k: sample_ir(ir, num_reads=1, seed=k, num_steps=1, polish=False),
        "cim sample_ir (1 step, polish)": lambda k: sample_ir(ir, num_reads=1, seed=k, num_steps=1),
        "cim CIMSampler.sample(bqm) (1 step, no polish)": lambda k: cim.sample(
            bqm, num_reads=1, seed=k, num_steps=1, polish=False
        ),
        "dwave-samplers SA sample(bqm) (1 sweep)": lambda k: sa.sample(
            bqm, num_reads=1, num_sweeps=1, seed=k, beta_range=br
        ),
    }
    out = {}
    for name, fn in calls.items():
        for k in range(5):
            fn(k)
        times = []
        for k in range(repeats):
            t0 = time.perf_counter()
            fn(k)
            times.append(time.perf_counter() - t0)
        out[name] = {
            "median_s": statistics.median(times),
            "p10_s": float(np.percentile(times, 10)),
            "p90_s": float(np.percentile(times, 90)),
        }
        print(f"  overhead  {name:<48} median {fmt_time(out[name]['median_s'])}", flush=True)
    return {"variables": ir.num_variables, "repeats": repeats, "calls": out}


def roof_duality_context(instances: list[Instance]) -> dict[str, Any]:
    """Share of variables strict roof duality fixes (dwave-preprocessing), per QAMA instance."""
    try:
        from dwave.preprocessing import roof_duality
    except ImportError:
        return {}
    out = {}
    for inst in instances:
        if not inst.family.startswith("qama"):
            continue
        fixed, t0 = [], time.perf_counter()
        for bqm in inst.bqms:
            _, fixes = roof_duality(bqm, strict=True)
            fixed.append(len(fixes) / max(inst.n, 1))
        out[inst.name] = {"fixed_fraction_mean": float(np.mean(fixed)), "seconds": time.perf_counter() - t0}
        print(f"  roof duality {inst.name:<18} fixes {100 * np.mean(fixed):.1f} % of variables", flush=True)
    return out


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="four small instances, a coarse grid (a few minutes)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the solvers' runs (instances: fixed seeds)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per configuration (default 5; quick 3)")
    ap.add_argument("--cap", type=float, default=None, help="skip configurations predicted slower per call")
    ap.add_argument("--pair-budget", type=float, default=None, help="seconds per (solver, instance) sweep")
    ap.add_argument("--solvers", default="", help="comma-separated substrings: only these solvers")
    ap.add_argument("--instances", default="", help="comma-separated substrings: only these instances")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-docs", action="store_true", help="do not regenerate docs/benchmarks.md and README")
    args = ap.parse_args(argv)

    quick = args.quick
    repeats = args.repeats or (3 if quick else 5)
    cap = args.cap if args.cap is not None else (1.0 if quick else 4.0)
    pair_budget = args.pair_budget if args.pair_budget is not None else (20.0 if quick else 60.0)
    budgets, reads = (QUICK_BUDGETS, QUICK_READS) if quick else (BUDGETS, READS)
    out_path = args.out or RESULTS_DIR / ("solvers_quick.json" if quick else "solvers.json")
    limit_threads(1)
    t_start = time.perf_counter()
    machine = machine_info()

    only = [s.strip() for s in args.instances.split(",") if s.strip()]
    instances = build_instances(quick=quick, only=only or None)
    store = load_best_known(instances)
    solvers = all_solvers()
    if args.solvers:
        keep = [s.strip() for s in args.solvers.split(",") if s.strip()]
        solvers = [s for s in solvers if any(k in s.name for k in keep)]
    print(
        f"solver benchmark: {len(instances)} instances, single thread, {repeats} repeats per configuration, "
        f"budgets {budgets} x reads {reads}, cap {cap:g} s per call, {pair_budget:g} s per (solver, instance)"
    )
    for inst in instances:
        bk = "unknown" if inst.best_known is None else f"{float(inst.best_known.sum()):.10g}"
        print(f"  {inst.name:<18} B={inst.batch:<3} n={inst.n:<5} best known {bk}: {inst.description}")
    for s in solvers:
        state = "ok" if s.available else f"UNAVAILABLE ({s.why_unavailable})"
        print(f"  solver {s.name:<28} knob={s.knob:<11} {state}; {s.note}")

    overhead = call_overhead(50 if quick else 200)
    roof = roof_duality_context(instances)
    runs: list[dict[str, Any]] = []
    found: dict[str, Any] = {}
    for inst in instances:
        for solver in solvers:
            if not solver.available or not solver.applies(inst):
                continue
            target = inst.best_known
            if inst.name in found:
                target = (
                    found[inst.name]["energies"] if target is None else np.minimum(target, found[inst.name]["energies"])
                )
            try:
                res = sweep(
                    solver,
                    inst,
                    budgets=budgets,
                    reads=reads,
                    repeats=repeats,
                    cap=cap * size_factor(inst),
                    pair_budget=pair_budget * solver.time_share * size_factor(inst),
                    seed=args.seed,
                    target=target,
                )
            except Exception as exc:  # a peer failing on an instance is a result, not a crash
                print(f"  {solver.name} failed on {inst.name}: {type(exc).__name__}: {exc}", flush=True)
                runs.append({"solver": solver.name, "instance": inst.name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            runs.append(res)
            bf = np.asarray(res["best_found"])
            prev = found.get(inst.name)
            if prev is None or np.any(bf < prev["energies"]):
                merged = bf if prev is None else np.minimum(prev["energies"], bf)
                by = (
                    solver.name
                    if prev is None
                    else prev["by"] + ("" if np.all(bf >= prev["energies"]) else f", {solver.name}")
                )
                found[inst.name] = {"energies": merged, "by": by}

    # ---- final targets: best known (file) lowered by anything found in this run
    targets: dict[str, np.ndarray] = {}
    for inst in instances:
        t = inst.best_known
        if inst.name in found:
            t = found[inst.name]["energies"] if t is None else np.minimum(t, found[inst.name]["energies"])
        if t is not None:
            targets[inst.name] = t
    improved = [] if quick else save_best_known(store, instances, found)
    summary: dict[str, dict[str, Any]] = {}
    for res in runs:
        if "cells" not in res:
            continue
        tgt = targets.get(res["instance"])
        entry = summary.setdefault(res["instance"], {})
        entry[res["solver"]] = {gap_key(g): ttt_of(res["cells"], tgt, g) for g in GAPS}
    elapsed = time.perf_counter() - t_start
    payload = {
        "benchmark": "solvers",
        "machine": machine,
        "config": {
            "quick": quick,
            "seed": args.seed,
            "repeats": repeats,
            "budgets": list(budgets),
            "reads": list(reads),
            "cap_s": cap,
            "pair_budget_s": pair_budget,
            "threads": 1,
            "gaps": list(GAPS),
        },
        "instances": [
            {
                "name": i.name,
                "family": i.family,
                "batch": i.batch,
                "n": i.n,
                "couplers": i.ir.num_couplers,
                "description": i.description,
                "fingerprint": fingerprint(i),
                "target": targets[i.name].tolist() if i.name in targets else None,
                "target_sum": float(targets[i.name].sum()) if i.name in targets else None,
                "best_known_before_run": None if i.best_known is None else float(i.best_known.sum()),
                **i.meta,
            }
            for i in instances
        ],
        "solvers": [
            {
                "name": s.name,
                "library": s.library,
                "knob": s.knob,
                "available": s.available,
                "why_unavailable": s.why_unavailable,
                "note": s.note,
            }
            for s in solvers
        ],
        "runs": runs,
        "summary": summary,
        "overhead": overhead,
        "roof_duality": roof,
        "best_known_improved": improved,
        "elapsed_s": elapsed,
    }
    write_json(out_path, payload, indent=None)  # compact: per-repeat energies of every problem
    print(f"wrote {out_path} ({elapsed:.0f} s)")
    from report_solvers import render, update_outputs

    print(render(payload))
    if not args.no_docs and not quick:
        update_outputs(payload)
        print("updated docs/benchmarks.md and the README summary")
    return payload


if __name__ == "__main__":
    main()

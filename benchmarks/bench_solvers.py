"""Solver benchmark (issue 6): our ``cim`` against the public peers, side by side, in one run.

Instances (``instances.py``): dense SK spin glasses (n = 64, 256, 1024, seeded) and QAMA
problems lowered from the real MiniLM-L6 tensors (several layers and heads, bits 2-4).
Targets: the exact ground energy where enumerable, otherwise the best energy any solver
found in this run.

Solvers (``peers.py``): ours (``qama_backends.cim``), cim-optimizer (CAC, AHC, extAHC),
simulated-bifurcation (ballistic and discrete), dwave-samplers SA, OpenJij SA. Every
solver runs single-threaded (BLAS, OpenMP and torch pinned to one thread) on the same
instances, with seeded, repeated reads at several budgets. Every returned sample is
re-scored with dimod; energies a peer reports are checked against that.

Metrics per (solver, instance, budget): wall time per read, best and mean energy, success
probability p at 0 % and 0.5 % of the target, TTS99 = t_read * ln(0.01) / ln(1 - p). Per
(solver, instance): the best TTS99 over the budgets. Peak memory (RSS) per solver is probed
in a fresh subprocess. Where ``cim`` misses a bar, a cProfile of it is printed.

Run: ``.venv-bench/bin/python benchmarks/bench_solvers.py`` (``--quick``: < 3 minutes).
"""

from __future__ import annotations

import os

# One thread for every BLAS / OpenMP pool, set before numpy or torch load their libraries.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

import argparse
import contextlib
import cProfile
import io
import json
import math
import pstats
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FIGURES_DIR,
    RESULTS_DIR,
    ROOT,
    fmt_time,
    limit_threads,
    machine_info,
    table,
    update_docs,
    write_json,
)
from instances import Instance, build_instances, instance_by_name
from peers import FACTORIES, Solver, all_solvers, solver_by_name

from qama_compile.tools.plotting import save_png

GAPS = (0.005, 0.0)  # time to reach within 0.5 % and 0 % of the target
CONFIDENCE = 0.99
BAR_CIMOPT = 10.0  # cim must reach the target >= 10x faster than cim-optimizer
OURS = "cim (ours)"


# --------------------------------------------------------------------------- statistics
def tts(t_read: float, p: float, reads: int) -> tuple[float, float]:
    """(TTS99, lower bound when p == 0 by the rule of three: p < 3 / reads at 95 %)."""
    if p >= CONFIDENCE:
        return t_read, t_read
    if p > 0:
        value = t_read * math.log(1 - CONFIDENCE) / math.log(1 - p)
        return value, value
    p_hi = min(3.0 / max(reads, 1), 0.99)
    return math.inf, t_read * math.log(1 - CONFIDENCE) / math.log(1 - p_hi)


def reached(energies: np.ndarray, target: float, gap: float) -> np.ndarray:
    tol = gap * abs(target) + 1e-9 * max(1.0, abs(target))
    return energies <= target + tol


def cell_seed(seed: int, *parts: Any) -> int:
    return (seed * 1_000_003 + zlib.crc32("|".join(map(str, parts)).encode())) % (2**31 - 1)


# --------------------------------------------------------------------------- measurement
def measure_cell(
    solver: Solver, prep: Any, inst: Instance, budget: int, *, cap: float, min_reads: int, max_reads: int, seed: int
) -> dict[str, Any]:
    """Run reads in seeded chunks until ``max_reads`` or (``cap`` seconds and ``min_reads``)."""
    energies: list[np.ndarray] = []
    reported_err = 0.0
    t_total = 0.0
    cpu_total = 0.0
    reads = 0
    chunk = min(min_reads, max_reads)
    calls = 0
    while reads < max_reads:
        s = cell_seed(seed, solver.name, inst.name, budget, calls)
        c0 = time.process_time()
        t0 = time.perf_counter()
        spins, reported = solver.run(prep, budget, chunk, s)
        dt = time.perf_counter() - t0
        cpu_total += time.process_time() - c0
        calls += 1
        if spins.shape != (chunk, inst.n):
            raise RuntimeError(f"{solver.name} returned spins {spins.shape}, expected {(chunk, inst.n)}")
        e = inst.energies(spins)  # dimod's recomputation: the only energy we trust
        if calls == 1:
            e_np = inst.energies_numpy(spins)
            if not np.allclose(e, e_np, rtol=1e-9, atol=1e-6):
                raise RuntimeError(f"dimod and numpy energies disagree on {inst.name}")
        if reported is not None:
            scale = np.maximum(1.0, np.abs(e))
            reported_err = max(reported_err, float(np.max(np.abs(reported - e) / scale)))
        energies.append(e)
        t_total += dt
        reads += chunk
        if t_total >= cap and reads >= min_reads:
            break
        per_read = t_total / reads
        remaining = cap - t_total
        want = max(min_reads - reads, int(remaining / per_read) if per_read > 0 else max_reads)
        chunk = int(min(max(want, 1), max_reads - reads, 64))
        if chunk <= 0:
            break
    all_e = np.concatenate(energies)
    return {
        "solver": solver.name,
        "instance": inst.name,
        "budget": budget,
        "knob": solver.knob,
        "reads": reads,
        "calls": calls,
        "wall_s": t_total,
        "t_read_s": t_total / reads,
        "cpu_read_s": cpu_total / reads,
        "energies": all_e,
        "best": float(all_e.min()),
        "mean": float(all_e.mean()),
        "reported_energy_max_rel_err": reported_err,
    }


def finish_cells(cells: list[dict[str, Any]], inst: Instance) -> None:
    """Success probabilities and TTS99 against the (now known) target."""
    assert inst.target is not None
    for c in cells:
        e = c["energies"]
        for gap in GAPS:
            key = f"{gap * 100:g}%"
            ok = reached(e, inst.target, gap)
            p = float(ok.mean())
            value, bound = tts(c["t_read_s"], p, c["reads"])
            c[f"p_{key}"] = p
            c[f"tts_{key}"] = value
            c[f"tts_bound_{key}"] = bound
        c["gap_best_pct"] = 100 * (c["best"] - inst.target) / abs(inst.target)
        c["gap_mean_pct"] = 100 * (c["mean"] - inst.target) / abs(inst.target)


def best_tts(cells: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The budget with the smallest TTS (or, if none reached, the smallest lower bound)."""
    finite = [c for c in cells if math.isfinite(c[f"tts_{key}"])]
    if finite:
        c = min(finite, key=lambda c: c[f"tts_{key}"])
        return {
            "tts": c[f"tts_{key}"],
            "bound": c[f"tts_{key}"],
            "budget": c["budget"],
            "p": c[f"p_{key}"],
            "reached": True,
        }
    c = min(cells, key=lambda c: c[f"tts_bound_{key}"])
    return {"tts": math.inf, "bound": c[f"tts_bound_{key}"], "budget": c["budget"], "p": 0.0, "reached": False}


def compare(mine: dict[str, Any], peer: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Ratio peer TTS / our TTS against ``threshold``, honest about bounds.

    Both reached: exact. Only ours reached: the ratio is at least the peer's bound / ours.
    Only the peer reached: at most the peer's / our bound. Neither: unknown.
    """
    if mine["reached"] and peer["reached"]:
        ratio = peer["tts"] / mine["tts"]
        return {"ratio": ratio, "relation": "=", "status": "met" if ratio >= threshold else "NOT met"}
    if mine["reached"]:
        ratio = peer["bound"] / mine["tts"]
        return {"ratio": ratio, "relation": ">=", "status": "met" if ratio >= threshold else "inconclusive"}
    if peer["reached"]:
        ratio = peer["tts"] / mine["bound"]
        return {"ratio": ratio, "relation": "<=", "status": "NOT met" if ratio < threshold else "inconclusive"}
    return {"ratio": math.nan, "relation": "?", "status": "inconclusive"}


def fmt_ratio(bar: dict[str, Any]) -> str:
    rel = {"=": "", ">=": ">= ", "<=": "<= ", "?": ""}[bar["relation"]]
    return "neither reached" if bar["relation"] == "?" else f"{rel}{bar['ratio']:.3g}x"


def fmt_tts(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    if entry["reached"]:
        return fmt_time(entry["tts"])
    return f"> {fmt_time(entry['bound'])}"


# --------------------------------------------------------------------------- memory probe
def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). ru_maxrss is not used: Linux carries it
    across fork + exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_probe(solver_name: str, instance_name: str, budget: int, reads: int, seed: int) -> dict[str, Any]:
    """In this (fresh) process: peak RSS before and after one run of ``reads`` reads."""
    limit_threads(1)
    inst = instance_by_name(instance_name, seed=seed)
    solver = solver_by_name(solver_name)
    prep = solver.prepare(inst)
    solver.run(prep, budget, 1, seed)  # warm-up: lazy imports (torch) belong to the baseline, not the run
    before = peak_rss_mib()
    t0 = time.perf_counter()
    solver.run(prep, budget, reads, seed)
    dt = time.perf_counter() - t0
    after = peak_rss_mib()
    return {
        "solver": solver_name,
        "instance": instance_name,
        "budget": budget,
        "reads": reads,
        "peak_rss_mib": after,
        "rss_before_run_mib": before,
        "run_increase_mib": after - before,
        "wall_s": dt,
    }


def run_memory_probe(solver: Solver, inst: Instance, budget: int, reads: int, seed: int) -> dict[str, Any] | None:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-probe",
        solver.name,
        inst.name,
        str(budget),
        str(reads),
        "--seed",
        str(seed),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  memory probe failed for {solver.name} on {inst.name}: {exc}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- profile
def profile_run(solver: Solver, inst: Instance, budget: int, reads: int, seed: int) -> str:
    prep = solver.prepare(inst)
    prof = cProfile.Profile()
    prof.enable()
    solver.run(prep, budget, reads, seed)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
    text = buf.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[:40])


# --------------------------------------------------------------------------- plots
def solver_style(name: str) -> dict[str, Any]:
    """The same colour for a solver in every plot; ours thick and black."""
    if name == OURS:
        return {"lw": 2.6, "color": "k", "zorder": 5}
    import matplotlib

    names = [n for n in FACTORIES if n != OURS]
    index = names.index(name) if name in names else len(names)
    return {"lw": 1.2, "color": matplotlib.colormaps["tab10"](index % 10)}


def _tidy_log_axes(ax: Any) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
        axis.set_major_locator(LogLocator(base=10, numticks=12))


def plot_tts_vs_n(summary: dict[str, Any], instances: list[Instance], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sk = [i for i in instances if i.family == "sk"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key in zip(axes, [f"{g * 100:g}%" for g in GAPS], strict=True):
        for solver_name, per_inst in summary.items():
            xs, ys, lx, ly = [], [], [], []
            for inst in sk:
                entry = per_inst.get(inst.name, {}).get(key)
                if entry is None:
                    continue
                if entry["reached"]:
                    xs.append(inst.n)
                    ys.append(entry["tts"])
                else:
                    lx.append(inst.n)
                    ly.append(entry["bound"])
            if not xs and not lx:
                continue
            style = solver_style(solver_name)
            (line,) = ax.plot(xs, ys, marker="o", label=solver_name, **style)
            if lx:
                ax.plot(lx, ly, marker="^", ls="none", mfc="none", color=line.get_color())
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("SK size n (spins)")
        ax.set_title(f"time to reach {'the target' if key == '0%' else 'within ' + key + ' of the target'} (99 %)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("TTS99 [s]")
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(
        "Dense SK: time to target vs n, single thread (target: best energy found in the run; "
        "open triangles: never reached, lower bound)"
    )
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def plot_energy_vs_budget(cells: list[dict[str, Any]], instances: list[Instance], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [i for i in instances if i.family == "sk"] + [i for i in instances if i.family == "qama"][-1:]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4), squeeze=False)
    for ax, inst in zip(axes[0], shown, strict=True):
        names = sorted({c["solver"] for c in cells if c["instance"] == inst.name}, key=lambda s: (s != OURS, s))
        for name in names:
            cs = sorted(
                (c for c in cells if c["instance"] == inst.name and c["solver"] == name), key=lambda c: c["t_read_s"]
            )
            x = [c["t_read_s"] for c in cs]
            style = solver_style(name)
            (line,) = ax.plot(x, [max(c["gap_mean_pct"], 1e-3) for c in cs], marker="o", label=name, **style)
            ax.plot(x, [max(c["gap_best_pct"], 1e-3) for c in cs], ls=":", marker=".", color=line.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("wall time per read [s]")
        _tidy_log_axes(ax)
        ax.set_title(f"{inst.name} (n={inst.n})", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("gap to target [%]")
    axes[0][-1].legend(fontsize=6, loc="best")
    fig.suptitle(
        "Energy vs budget, single thread: one point per budget (sweeps / steps); "
        "solid = mean, dotted = best read; a gap of 0 is drawn at 1e-3 %"
    )
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small instances, two budgets, short caps (< 3 min)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap", type=float, default=None, help="seconds of reads per (solver, instance, budget)")
    ap.add_argument("--min-reads", type=int, default=None)
    ap.add_argument("--max-reads", type=int, default=None)
    ap.add_argument("--solvers", default="", help="comma-separated substrings: only these solvers")
    ap.add_argument("--instances", default="", help="comma-separated substrings: only these instances")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/ (figures, benchmarks.md)")
    ap.add_argument("--memory-probe", nargs=4, metavar=("SOLVER", "INSTANCE", "BUDGET", "READS"))
    args = ap.parse_args(argv)

    if args.memory_probe:
        name, inst_name, budget, reads = args.memory_probe
        with contextlib.redirect_stdout(io.StringIO()):
            res = memory_probe(name, inst_name, int(budget), int(reads), args.seed)
        print(json.dumps(res))
        return res

    quick = args.quick
    cap = args.cap if args.cap is not None else (0.25 if quick else 2.0)
    min_reads = args.min_reads or (4 if quick else 8)
    max_reads = args.max_reads or (16 if quick else 64)
    out_path = args.out or RESULTS_DIR / ("solvers_quick.json" if quick else "solvers.json")
    limit_threads(1)
    t_start = time.perf_counter()

    instances = build_instances(quick=quick, seed=args.seed)
    if args.instances:
        keep = [s.strip() for s in args.instances.split(",") if s.strip()]
        instances = [i for i in instances if any(k in i.name for k in keep)]
    solvers = all_solvers()
    if args.solvers:
        keep = [s.strip() for s in args.solvers.split(",") if s.strip()]
        solvers = [s for s in solvers if any(k in s.name for k in keep)]
    print(
        f"solver benchmark: {len(instances)} instances, single thread, seed={args.seed}, "
        f"{'quick' if quick else 'full'} mode (cap {cap:g} s of reads per cell, x n/256 above 256 spins, "
        f"{min_reads}-{max_reads} reads)"
    )
    for inst in instances:
        tgt = f"{inst.target:.6g} ({inst.target_kind})" if inst.target is not None else "best found in the run"
        print(f"  {inst.name:<20} n={inst.n:<5} {inst.description}; target {tgt}")
    for s in solvers:
        state = "ok" if s.available else f"UNAVAILABLE ({s.why_unavailable})"
        print(f"  solver {s.name:<30} knob={s.knob:<22} {state}" + (f"; {s.note}" if s.note else ""))

    cells: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for inst in instances:
        for solver in solvers:
            if not solver.available or not solver.applies(inst):
                continue
            prep = solver.prepare(inst)
            budgets = solver.budgets(inst, quick)
            with contextlib.suppress(Exception):  # warm-up (imports, JIT, allocator); errors surface below
                solver.run(prep, budgets[0], 2, cell_seed(args.seed, "warmup"))
            per_read_prev: tuple[int, float] | None = None
            cell_cap = cap * max(1.0, inst.n / 256)  # big instances get longer cells
            for budget in budgets:
                if per_read_prev is not None:
                    b0, t0 = per_read_prev
                    predicted = t0 * budget / b0 * min_reads
                    if predicted > 4 * cell_cap + 2:
                        skipped.append(
                            {"solver": solver.name, "instance": inst.name, "budget": budget, "predicted_s": predicted}
                        )
                        continue
                try:
                    cell = measure_cell(
                        solver,
                        prep,
                        inst,
                        budget,
                        cap=cell_cap,
                        min_reads=min_reads,
                        max_reads=max_reads,
                        seed=args.seed,
                    )
                except Exception as exc:  # a peer failing on an instance is a result, not a crash
                    print(
                        f"  {solver.name} failed on {inst.name} at {solver.knob}={budget}: {type(exc).__name__}: {exc}"
                    )
                    skipped.append(
                        {
                            "solver": solver.name,
                            "instance": inst.name,
                            "budget": budget,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    continue
                per_read_prev = (budget, cell["t_read_s"])
                cells.append(cell)
                print(
                    f"  {inst.name:<20} {solver.name:<30} {solver.knob}={budget:<6} reads={cell['reads']:<3} "
                    f"t/read={fmt_time(cell['t_read_s']):>9}  best={cell['best']:.6g}  mean={cell['mean']:.6g}",
                    flush=True,
                )
        got = [c for c in cells if c["instance"] == inst.name]
        if inst.target is None and got:
            inst.target = min(c["best"] for c in got)
        finish_cells(got, inst)

    # ---- energy checks: peers' reported energies vs dimod
    mismatches = [c for c in cells if c["reported_energy_max_rel_err"] > 1e-4]
    # ---- summary: best TTS per (solver, instance)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for c in cells:
        summary.setdefault(c["solver"], {}).setdefault(c["instance"], {})
    for solver_name, per_inst in summary.items():
        for inst_name in per_inst:
            cs = [c for c in cells if c["solver"] == solver_name and c["instance"] == inst_name]
            for gap in GAPS:
                key = f"{gap * 100:g}%"
                per_inst[inst_name][key] = best_tts(cs, key)
            per_inst[inst_name]["best"] = min(c["best"] for c in cs)
            per_inst[inst_name]["max_budget_mean"] = max(cs, key=lambda c: c["budget"])["mean"]

    # ---- bars
    bars: list[dict[str, Any]] = []
    ours = summary.get(OURS, {})
    for inst in instances:
        mine = ours.get(inst.name)
        if mine is None:
            continue
        for gap in GAPS:
            key = f"{gap * 100:g}%"
            cimopt = [
                summary[s][inst.name][key] for s in summary if s.startswith("cim-optimizer") and inst.name in summary[s]
            ]
            if cimopt:
                fastest = min(cimopt, key=lambda e: e["tts"] if e["reached"] else e["bound"])
                bars.append(
                    {
                        "bar": f"cim >= {BAR_CIMOPT:g}x faster than cim-optimizer",
                        "instance": inst.name,
                        "gap": key,
                        **compare(mine[key], fastest, BAR_CIMOPT),
                    }
                )
            sa = summary.get("dwave-samplers SA", {}).get(inst.name, {}).get(key)
            if sa is not None and inst.family == "sk" and inst.n >= 256:
                bars.append(
                    {
                        "bar": "cim no slower than SA (dense n >= 256)",
                        "instance": inst.name,
                        "gap": key,
                        **compare(mine[key], sa, 1.0),
                    }
                )

    # ---- memory (fresh subprocess per solver; largest SK and largest QAMA instance)
    memory: list[dict[str, Any]] = []
    if not args.no_memory:
        families = ("sk",) if quick else ("sk", "qama")
        probe_insts = [max((i for i in instances if i.family == f), key=lambda i: i.n, default=None) for f in families]
        for inst in [i for i in probe_insts if i is not None]:
            for solver in solvers:
                if not solver.available or not solver.applies(inst):
                    continue
                budget = solver.budgets(inst, quick)[0]
                probe = run_memory_probe(solver, inst, budget, 8, args.seed)
                if probe is not None:
                    memory.append(probe)

    # ---- profile of ours where a bar is missed: the first instance with a NOT met bar, else the largest SK
    profile_text = ""
    profile_where = ""
    if any(b["status"] != "met" for b in bars) and OURS in summary:
        failed = [b for b in bars if b["status"] == "NOT met"]
        by_name = {i.name: i for i in instances}
        target_inst = (
            by_name[failed[0]["instance"]]
            if failed
            else max((i for i in instances if i.family == "sk"), key=lambda i: i.n)
        )
        gap_key = failed[0]["gap"] if failed else "0.5%"
        entry = summary[OURS].get(target_inst.name, {}).get(gap_key)
        solver = next(s for s in solvers if s.name == OURS)
        if entry is not None:
            profile_where = f"{target_inst.name}, {solver.knob}={int(entry['budget'])}, 8 reads"
            profile_text = profile_run(solver, target_inst, int(entry["budget"]), 8, args.seed)

    # ---- tables
    solver_names = [s.name for s in solvers if s.name in summary]
    lines: list[str] = []
    for key in [f"{g * 100:g}%" for g in GAPS]:
        rows = []
        for inst in instances:
            row = [f"{inst.name} (n={inst.n})"]
            mine = summary.get(OURS, {}).get(inst.name, {}).get(key)
            for name in solver_names:
                e = summary[name].get(inst.name, {}).get(key)
                text = fmt_tts(e)
                if e is not None and mine is not None and name != OURS:
                    cmp = compare(mine, e, 1.0)
                    if cmp["relation"] != "?":
                        text += f" ({fmt_ratio(cmp)})"
                row.append(text)
            rows.append(row)
        lines.append(
            f"TTS99 to within {key} of the target (best budget; '> t': never reached, a lower bound; "
            "in brackets: the peer's time / ours)"
        )
        lines.append(table(["instance", *solver_names], rows))
        lines.append("")
    rows = []
    for inst in instances:
        for name in solver_names:
            cs = sorted(
                (c for c in cells if c["solver"] == name and c["instance"] == inst.name), key=lambda c: c["budget"]
            )
            for c in cs:
                rows.append(
                    [
                        inst.name,
                        name,
                        f"{c['knob']}={c['budget']}",
                        c["reads"],
                        fmt_time(c["t_read_s"]),
                        fmt_time(c["cpu_read_s"]),
                        f"{c['best']:.6g}",
                        f"{c['mean']:.6g}",
                        f"{c['gap_mean_pct']:.2f}",
                        f"{c['p_0.5%']:.2f}",
                        f"{c['p_0%']:.2f}",
                    ]
                )
    energy_table = table(
        [
            "instance",
            "solver",
            "budget",
            "reads",
            "wall/read",
            "cpu/read",
            "best E",
            "mean E",
            "mean gap %",
            "p(0.5%)",
            "p(0%)",
        ],
        rows,
    )
    target_rows = [
        [i.name, i.n, f"{i.target:.8g}" if i.target is not None else "-", i.target_kind, i.description]
        for i in instances
    ]
    target_table = table(["instance", "n", "target energy", "target", "what"], target_rows)
    bar_rows = [
        [
            b["bar"],
            b["instance"],
            b["gap"],
            fmt_ratio(b),
            b["status"],
        ]
        for b in bars
    ]
    bar_table = table(["bar", "instance", "gap", "ratio (peer / ours)", "status"], bar_rows) if bars else "(no bars)"
    mem_rows = [
        [
            m["instance"],
            m["solver"],
            m["budget"],
            m["reads"],
            f"{m['peak_rss_mib']:.0f}",
            f"{m['run_increase_mib']:.0f}",
        ]
        for m in memory
    ]
    mem_table = table(["instance", "solver", "budget", "reads", "peak RSS MiB", "run adds MiB"], mem_rows)
    elapsed = time.perf_counter() - t_start

    print()
    print("Targets")
    print(target_table)
    print()
    print("Energy at fixed budgets (every energy recomputed with dimod)")
    print(energy_table)
    print()
    print("Peak memory (fresh subprocess per solver, importing only it; 8 reads at its smallest budget; VmHWM)")
    print(mem_table if memory else "(skipped)")
    if skipped:
        print()
        print(
            "Skipped cells: "
            + "; ".join(
                f"{s['solver']} on {s['instance']} at {s['budget']} ("
                + (s["error"] if "error" in s else f"predicted {s['predicted_s']:.0f} s")
                + ")"
                for s in skipped
            )
        )
    if mismatches:
        print()
        print(
            "WARNING: reported energies disagree with dimod's: "
            + ", ".join(
                f"{c['solver']} on {c['instance']} ({c['reported_energy_max_rel_err']:.1e})" for c in mismatches
            )
        )
    else:
        print()
        print(
            "Reported energies (converted to dimod's convention) agree with dimod's recomputation "
            "for every peer that reports them (max rel. error "
            f"{max((c['reported_energy_max_rel_err'] for c in cells), default=0):.1e})."
        )
    if profile_text:
        print()
        print(f"Profile of cim (ours) where a bar is missed ({profile_where}; cProfile, tottime)")
        print(profile_text)
    print()
    print("\n".join(lines))
    print("Bars")
    print(bar_table)
    print(f"\ntotal benchmark time {elapsed:.0f} s")

    # ---- outputs
    machine = machine_info()
    payload = {
        "benchmark": "solvers",
        "machine": machine,
        "config": {
            "quick": quick,
            "seed": args.seed,
            "cap_s": cap,
            "min_reads": min_reads,
            "max_reads": max_reads,
            "threads": 1,
            "gaps": list(GAPS),
            "confidence": CONFIDENCE,
        },
        "instances": [
            {
                "name": i.name,
                "family": i.family,
                "n": i.n,
                "target": i.target,
                "target_kind": i.target_kind,
                "description": i.description,
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
        "cells": [
            {k: v for k, v in c.items() if k != "energies"} | {"energies": c["energies"].tolist()} for c in cells
        ],
        "skipped": skipped,
        "summary": summary,
        "bars": bars,
        "memory": memory,
        "profile_cim": profile_text,
        "profile_where": profile_where,
        "elapsed_s": elapsed,
    }
    write_json(out_path, payload)
    print(f"wrote {out_path}")
    if not args.no_docs:
        fig_dir = RESULTS_DIR if quick else FIGURES_DIR  # quick runs never overwrite the published figures
        tag = "_quick" if quick else ""
        f1 = fig_dir / f"bench_tts_vs_n{tag}.png"
        f2 = fig_dir / f"bench_energy_vs_budget{tag}.png"
        plot_tts_vs_n(summary, instances, f1)
        plot_energy_vs_budget(cells, instances, f2)
        print(f"wrote {f1.relative_to(ROOT)} and {f2.relative_to(ROOT)}")
        if not quick:
            m = machine
            generated = "\n".join(
                [
                    f"Generated by `{m['command']}` on {m['utc']} in {elapsed:.0f} s.",
                    "",
                    f"Machine: {m['cpu'].get('Model name', '?')}, {m['cpu'].get('CPU(s)', '?')} CPUs "
                    f"({m['cpu'].get('Hypervisor vendor', 'bare metal')} guest), {m['memory_gib']} GiB; "
                    f"{m['platform']}; load average at start {', '.join(f'{x:.1f}' for x in m['loadavg_at_start'])}.",
                    "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
                    "Every solver single-threaded (OMP/BLAS/torch threads = 1).",
                    "",
                    "### Targets",
                    "",
                    target_table,
                    "",
                    *[ln if not ln.startswith("TTS99") else f"### {ln}\n" for ln in lines],
                    "### Bars",
                    "",
                    bar_table,
                    "",
                    "### Energy at fixed budgets",
                    "",
                    energy_table,
                    "",
                    "### Peak memory",
                    "",
                    mem_table if memory else "(skipped)",
                    "",
                    f"![time to target vs n](figures/{f1.name})",
                    "",
                    f"![energy vs budget](figures/{f2.name})",
                    "",
                    *(
                        [
                            f"### Profile of cim (ours) where a bar is missed ({profile_where})",
                            "",
                            "```",
                            profile_text,
                            "```",
                            "",
                        ]
                        if profile_text
                        else []
                    ),
                ]
            )
            update_docs(ROOT / "docs" / "benchmarks.md", "bench_solvers", generated)
            print("updated docs/benchmarks.md")
    return payload


if __name__ == "__main__":
    main()

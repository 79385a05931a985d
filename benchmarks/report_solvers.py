"""Render the solver benchmark from its JSON: the generated part of docs/benchmarks.md and the README summary.

Nothing here is typed by hand: every figure comes from ``benchmarks/results/solvers.json``.

    .venv-bench/bin/python benchmarks/report_solvers.py                 # regenerate from the JSON
    .venv-bench/bin/python benchmarks/report_solvers.py --print-only    # print, write nothing
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, ROOT, fmt_time, table, update_docs

OURS = "cim (ours)"
SA = "dwave-samplers SA"
TIME_BUDGETS = (0.01, 0.1, 1.0, 10.0)


def _families(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in payload["instances"]}


def _ttt(payload: dict[str, Any], inst: str, solver: str, key: str) -> dict[str, Any] | None:
    return payload["summary"].get(inst, {}).get(solver, {}).get(key)


def _ran(payload: dict[str, Any], inst: str, solver: str) -> dict[str, Any] | None:
    for r in payload["runs"]:
        if r["instance"] == inst and r["solver"] == solver:
            return r
    return None


def _slowest(run: dict[str, Any] | None) -> float:
    """The longest median call of a sweep: the time a solver had to try."""
    if not run or not run.get("cells"):
        return math.nan
    return max(c["median_s"] for c in run["cells"])


def fmt_ttt(payload: dict[str, Any], inst: str, solver: str, key: str) -> str:
    run = _ran(payload, inst, solver)
    if run is None:
        return "-"
    if "error" in run:
        return "failed"
    entry = _ttt(payload, inst, solver, key)
    if entry is None:
        return f"not reached (calls up to {fmt_time(_slowest(run))})"
    return f"{fmt_time(entry['median_s'])} ({entry['budget']}x{entry['reads']})"


def ratio(payload: dict[str, Any], inst: str, key: str, peer: str = SA) -> tuple[str, float | None, str]:
    """``(text, value, relation)``: the peer's time to target over ours."""
    mine, theirs = _ttt(payload, inst, OURS, key), _ttt(payload, inst, peer, key)
    if _ran(payload, inst, peer) is None or _ran(payload, inst, OURS) is None:
        return "-", None, "?"
    if mine and theirs:
        v = theirs["median_s"] / mine["median_s"]
        return f"{v:.3g}x", v, "="
    if mine and not theirs:
        v = _slowest(_ran(payload, inst, peer)) / mine["median_s"]
        return f"> {v:.3g}x (SA never)", v, ">"
    if theirs and not mine:
        v = theirs["median_s"] / _slowest(_ran(payload, inst, OURS))
        return f"< {v:.3g}x (cim never)", v, "<"
    return "neither reached", None, "?"


def bars(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The done criteria of issue 15, evaluated on this run."""
    fam = _families(payload)
    out = []
    for name, inst in fam.items():
        if name.startswith("qama-std") or inst["family"] == "qama-batch":
            need, what = 3.0, "cim reaches the best known >= 3x faster than SA"
        elif inst["family"] == "sparse" or name == "sk-2000":
            need, what = 1.0, "cim reaches the best known at least as fast as SA"
        else:
            continue
        text, value, rel = ratio(payload, name, "best")
        if rel == "=" or rel == ">":
            status = "met" if value is not None and value >= need else ("NOT met" if rel == "=" else "inconclusive")
        elif rel == "<":
            status = "NOT met"
        else:
            status = "inconclusive"
        t01, _, _ = ratio(payload, name, "0.1%")
        out.append({"instance": name, "bar": what, "ratio": text, "ratio_0.1%": t01, "status": status})
    return out


def energy_at_budgets(payload: dict[str, Any], inst: str, solver: str) -> list[str]:
    """Per wall-time budget: the smallest median mean-gap (%) of any configuration within it."""
    run = _ran(payload, inst, solver)
    fam = _families(payload)[inst]
    target = fam["target"]
    if not run or not run.get("cells") or target is None:
        return ["-"] * len(TIME_BUDGETS)
    out = []
    for budget in TIME_BUDGETS:
        gaps = []
        for c in run["cells"]:
            if c["median_s"] > budget:
                continue
            per_rep = [
                statistics.mean(100 * (b - t) / max(abs(t), 1e-12) for b, t in zip(bk, target, strict=True))
                for bk in c["best"]
            ]
            gaps.append(statistics.median(per_rep))
        out.append("-" if not gaps else f"{max(min(gaps), 0.0):.3g}")
    return out


def render(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    fam = _families(payload)
    solvers = [s["name"] for s in payload["solvers"] if s["available"]]
    ran = [s for s in solvers if any(r["solver"] == s for r in payload["runs"])]
    cpus = float(m["cpu"].get("CPU(s)", 1) or 1)
    loaded = m["loadavg_at_start"][0] > 0.5 * cpus
    lines = [
        *(
            [
                f"**Preliminary: measured on a loaded machine** (load average {m['loadavg_at_start'][0]:.1f} on "
                f"{cpus:g} CPUs at start): absolute times are inflated and noisy; rerun on a quiet machine.",
                "",
            ]
            if loaded
            else []
        ),
        f"Generated from `benchmarks/results/{'solvers_quick' if payload['config']['quick'] else 'solvers'}.json` "
        f"(`{m['command']}`, {m['utc']}, {payload['elapsed_s']:.0f} s) by `benchmarks/report_solvers.py`.",
        "",
        f"Machine: {m['cpu'].get('Model name', '?')}, {m['cpu'].get('CPU(s)', '?')} CPUs "
        f"({m['cpu'].get('Hypervisor vendor', 'bare metal')} guest), {m['memory_gib']} GiB; {m['platform']}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in m['loadavg_at_start'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        f"Every solver single-threaded. Sweep: budget {payload['config']['budgets']} x reads "
        f"{payload['config']['reads']}, {payload['config']['repeats']} repeats per configuration; time to target = "
        "median wall time of the fastest configuration whose median repeat reaches the target on every problem "
        "of the instance (shown as budget x reads).",
        "",
        "### Instances and targets",
        "",
    ]
    roof = payload.get("roof_duality", {})
    rows = []
    for name, inst in fam.items():
        rd = roof.get(name)
        rows.append(
            [
                name,
                inst["batch"],
                inst["n"],
                inst["couplers"],
                "-" if inst["target_sum"] is None else f"{inst['target_sum']:.10g}",
                "-" if rd is None else f"{100 * rd['fixed_fraction_mean']:.0f} %",
                inst["description"],
            ]
        )
    lines += [
        table(["instance", "B", "n", "couplers", "best known (sum over B)", "roof duality fixes", "what"], rows),
        "",
    ]
    for key, title in (("best", "the best known energy"), ("0.1%", "within 0.1 % of the best known")):
        rows = []
        for name in fam:
            text, _, _ = ratio(payload, name, key)
            rows.append([name, *[fmt_ttt(payload, name, s, key) for s in ran], text])
        lines += [f"### Time to {title} (median of repeats)", "", table(["instance", *ran, "SA / cim"], rows), ""]
    batch_rows = []
    for name, inst in fam.items():
        if inst["family"] != "qama-batch":
            continue
        row = [name]
        for s in (OURS, SA):
            entry = _ttt(payload, name, s, "best")
            row.append("not reached" if entry is None else f"{inst['batch'] / entry['median_s']:.4g}")
        batch_rows.append(row)
    if batch_rows:
        lines += [
            "### Batches: problems per second at the best known energy",
            "",
            table(["instance", f"{OURS} (one sample_ir call)", f"{SA} (one call per problem)"], batch_rows),
            "",
        ]
    bar_rows = [[b["instance"], b["bar"], b["ratio"], b["ratio_0.1%"], b["status"]] for b in bars(payload)]
    lines += [
        "### Issue 15 bars (SA time / cim time)",
        "",
        table(["instance", "bar", "at best known", "within 0.1 %", "status"], bar_rows),
        "",
    ]
    rows = []
    for name in fam:
        for s in ran:
            if _ran(payload, name, s) is not None:
                rows.append([name, s, *energy_at_budgets(payload, name, s)])
    lines += [
        "### Energy at fixed wall-time budgets",
        "",
        "Median over repeats of the mean gap to the best known (%), for the best configuration "
        "whose median call fits the budget ('-': none fits).",
        "",
        table(["instance", "solver", *[f"<= {fmt_time(b)}" for b in TIME_BUDGETS]], rows),
        "",
    ]
    ov = payload.get("overhead")
    if ov:
        rows = [
            [k, fmt_time(v["median_s"]), fmt_time(v["p10_s"]), fmt_time(v["p90_s"])] for k, v in ov["calls"].items()
        ]
        lines += [
            f"### Per-call cost on a {ov['variables']}-variable QAMA problem ({ov['repeats']} calls)",
            "",
            table(["call", "median", "p10", "p90"], rows),
            "",
        ]
    skipped = sum(len(r.get("skipped", [])) for r in payload["runs"])
    errors = [f"{r['solver']} on {r['instance']}: {r['error']}" for r in payload["runs"] if "error" in r]
    lines.append(
        f"{skipped} configurations were skipped (slower than a time to best known already measured, over the "
        "per-call cap, or over the per-pair time budget; listed in the JSON)."
        + (" Failures: " + "; ".join(errors) + "." if errors else "")
    )
    return "\n".join(lines)


def readme_summary(payload: dict[str, Any]) -> str:
    """The README's performance sentences, from the bars of this run."""
    bs = bars(payload)
    if not bs:
        return "(no solver benchmark results)"

    def part(names: list[str]) -> str:
        items = [b for b in bs if b["instance"] in names]
        return ", ".join(f"{b['instance']} {b['ratio']}" for b in items) or "-"

    fam = _families(payload)
    std = [n for n in fam if n.startswith("qama-std")]
    batch = [n for n in fam if fam[n]["family"] == "qama-batch"]
    hard = [n for n in fam if fam[n]["family"] == "sparse" or n == "sk-2000"]
    met = sum(b["status"] == "met" for b in bs)
    missed = [b["instance"] for b in bs if b["status"] != "met"]
    load = ", ".join(f"{x:.1f}" for x in payload["machine"]["loadavg_at_start"])
    return (
        f"- **`cim` against dwave-samplers SA** (SA with its `beta_range` precomputed; time to the best known "
        f"energy, median of {payload['config']['repeats']}, one run, load average {load} at start): "
        f"standardised QAMA {part(std)}; batches of 64 QAMA problems {part(batch)}; sparse and dense-2000 "
        f"{part(hard)} (SA time / cim time). {met} of {len(bs)} issue-15 bars met"
        + (f"; not met or undecided: {', '.join(missed)}" if missed else "")
        + " ([docs/benchmarks.md](docs/benchmarks.md), `make bench`)."
    )


def update_outputs(payload: dict[str, Any]) -> None:
    update_docs(ROOT / "docs" / "benchmarks.md", "bench_solvers", render(payload))
    update_docs(ROOT / "README.md", "bench_solvers_summary", readme_summary(payload))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="?", type=Path, default=RESULTS_DIR / "solvers.json")
    ap.add_argument("--print-only", action="store_true")
    args = ap.parse_args(argv)
    payload = json.loads(args.json.read_text())
    print(render(payload))
    print()
    print(readme_summary(payload))
    if not args.print_only:
        update_outputs(payload)


if __name__ == "__main__":
    main()

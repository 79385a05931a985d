"""Every experiment of docs/experiments.md in one run: ``make experiments`` (or ``make experiments-quick``).

* accuracy, vision (``digits``) and language (``recall``): every arm of
  :mod:`experiments.arms` on 10 paired seeds, learning rate tuned on 2 separate seeds ->
  ``experiments/results/digits.json``, ``recall.json``;
* interpretable sparsity on the shipped MiniLM tensors (:mod:`experiments.sparsity`) ->
  ``experiments/results/minilm_sparsity.json``;
* the per-forward solver cost at the experiments' size (:mod:`experiments.solver_cost`) ->
  ``experiments/results/solver_cost.json``;
* figures -> ``docs/figures/experiments_accuracy.png``, ``minilm_sparsity.png``,
  ``minilm_sparsity_summary.png``.

Jobs run on ``--workers`` processes (default 2, one torch thread each). ``--quick`` checks the
pipeline (2 seeds, 2 epochs, small data; its numbers mean nothing) and writes to
``experiments/results/quick/`` unless ``--out-dir`` says otherwise.

    .venv/bin/python -m experiments.run_all            # the full run
    .venv/bin/python -m experiments.run_all --quick    # the pipeline check (< 2 minutes)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from qama_compile.base.atomic import atomic_write

from .accuracy import TaskPlan, summarise, task_jobs
from .protocol import REPO, Job, load_average, provenance, quiet_schedule_estimate, run_jobs
from .solver_cost import run_solver_cost
from .sparsity import SparsityPlan, run_sparsity

RESULTS = REPO / "experiments" / "results"
FIGURES = REPO / "docs" / "figures"
#: The budget the full run is sized for: 45 minutes on 2 idle cores.
BUDGET_S = 45 * 60


def plans(*, quick: bool, seeds: int | None = None) -> list[TaskPlan]:
    """The tasks' plans: fixed before any result was seen (docs/experiments.md)."""
    if quick:
        common: dict[str, Any] = {
            "seeds": tuple(range(seeds or 2)),
            "tuning_seeds": (100,),
            "lr_grid": (3e-3,),
            "max_epochs": 2,
            "patience": 1,
            "quick": True,
        }
        return [TaskPlan("digits", **common), TaskPlan("recall", **common)]
    n = seeds or 10
    grid = (1e-3, 3e-3, 1e-2)
    return [
        TaskPlan("digits", seeds=tuple(range(n)), tuning_seeds=(100, 101), lr_grid=grid, max_epochs=40, patience=6),
        TaskPlan("recall", seeds=tuple(range(n)), tuning_seeds=(100, 101), lr_grid=grid, max_epochs=25, patience=6),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="pipeline check: 2 seeds, 2 epochs, small data")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2: one per core)")
    p.add_argument("--seeds", type=int, default=None, help="evaluation seeds per arm (default 10; quick 2)")
    p.add_argument("--tasks", default="digits,recall,sparsity", help="comma-separated subset to run")
    p.add_argument("--out-dir", default=None, help="results directory (default experiments/results[/quick])")
    p.add_argument("--fig-dir", default=None, help="figures directory (default docs/figures; quick: the out dir)")
    args = p.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else (RESULTS / "quick" if args.quick else RESULTS)
    fig_dir = Path(args.fig_dir) if args.fig_dir else (out_dir if args.quick else FIGURES)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(args.tasks.split(","))
    command = "python -m experiments.run_all " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}", flush=True)
    meta = provenance()
    print(
        f"commit {meta['git_commit'][:12]}{' (uncommitted changes)' if meta['git_dirty'] else ''}; "
        f"{meta['machine']['cores']} cores, {meta['machine']['cpu_model']}; load average {load_average()}",
        flush=True,
    )
    task_plans = [pl for pl in plans(quick=args.quick, seeds=args.seeds) if pl.task in wanted]
    jobs: list[Job] = []
    for pl in task_plans:
        jobs += task_jobs(pl, scale=1.0 if pl.task == "digits" else 1.6)
    sparsity_plan = SparsityPlan(quick=args.quick)
    if "sparsity" in wanted:
        jobs.append(
            Job(
                "sparsity",
                run_sparsity,
                {"plan": sparsity_plan, "out": str(out_dir / "minilm_sparsity.json"), "figure": str(fig_dir)},
                cost=5.0,
            )
        )
    jobs.append(Job("solver_cost", run_solver_cost, {"out": str(out_dir / "solver_cost.json")}, cost=0.1))
    print(f"{len(jobs)} jobs on {args.workers} workers", flush=True)
    load_start = load_average()
    t0, c0 = time.perf_counter(), time.process_time()
    results, timeline = run_jobs(jobs, workers=args.workers)
    wall = time.perf_counter() - t0
    job_cpu = sum(t["cpu_s"] for t in timeline)
    quiet = quiet_schedule_estimate(jobs, timeline, workers=args.workers)
    run_info = {
        "command": command,
        "workers": args.workers,
        "wall_time_s": wall,
        "cpu_time_s": job_cpu + (time.process_time() - c0),
        "jobs_cpu_time_s": job_cpu,
        "quiet_machine_estimate_s": quiet,
        "budget_s": BUDGET_S,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "jobs": len(jobs),
    }
    docs: dict[str, Any] = {}
    for pl in task_plans:
        doc = summarise(pl, results)
        mine = [t for t in timeline if t["key"].startswith(pl.task + "/")]
        doc["run"] = {
            **run_info,
            "task_jobs_cpu_time_s": sum(t["cpu_s"] for t in mine),
            "task_jobs": len(mine),
        }
        doc["provenance"] = meta
        path = out_dir / f"{pl.task}.json"
        with atomic_write(path, "w") as fh:
            json.dump(doc, fh, indent=1)
        docs[pl.task] = doc
        print(f"wrote {path}")
    if "sparsity" in results:
        print(f"wrote {out_dir / 'minilm_sparsity.json'} and its figure in {fig_dir}")
    if docs:
        from .figures import accuracy_figure

        print(f"wrote {accuracy_figure(docs, fig_dir / 'experiments_accuracy.png')}")
        from .report import print_report

        print_report(docs)
    print(
        f"wall time {wall:.0f} s, CPU time {run_info['cpu_time_s']:.0f} s; on {args.workers} idle cores the same jobs "
        f"would take about {quiet:.0f} s (budget {BUDGET_S} s); load average {load_start} -> {load_average()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

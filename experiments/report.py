"""Tables of the results documents, as docs/experiments.md quotes them.

.venv/bin/python -m experiments.report            # reads experiments/results/{digits,recall}.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .arms import ARMS, QAMA_ARMS
from .protocol import REPO


def _ci(x: list[float]) -> str:
    return f"[{x[0]:+.1f}, {x[1]:+.1f}]"


def tables(doc: dict[str, Any]) -> str:
    """Markdown: accuracy and selection per arm; paired gaps; the paper's claim."""
    lines = [
        f"**{doc['task']['name']}** ({doc['task']['description']}); "
        f"{len(doc['protocol']['seeds'])} paired seeds; learning rates "
        + ", ".join(f"{g} {v['lr']:g}" for g, v in doc["protocol"]["chosen_lr"].items()),
        "",
        "| arm | test accuracy % (mean +- sd) | min - max | best epoch (mean) | bit density train / test "
        "| energy gap to exact (test) | at ground state (test) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        a = doc["arms"][arm]
        t = a["test_accuracy"]
        sel = a.get("selection")
        if arm in QAMA_ARMS and sel:
            extra = (
                f"{sel['train_bit_density']:.2f} / {sel['test_bit_density']:.2f} | "
                f"{sel['test_mean_energy_gap']:.3g} ({100 * sel['test_mean_relative_energy_gap']:.1f} %) | "
                f"{100 * sel['test_at_ground_fraction']:.1f} %"
            )
        else:
            extra = "- | - | -"
        lines.append(
            f"| {arm} | {t['mean']:.1f} +- {t['sd']:.1f} | {t['min']:.1f} - {t['max']:.1f} | "
            f"{a['mean_best_epoch']:.1f} | {extra} |"
        )
    lines += [
        "",
        "| gap (points) | mean | 95 % paired t | 95 % bootstrap | p (paired t) |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in doc["comparisons"]:
        g = c["gap_points"]
        p = g["p_paired_t"]
        lines.append(
            f"| {c['a']} - {c['b']} | {g['mean']:+.1f} | {_ci(g['t_ci95'])} | {_ci(g['bootstrap_ci95'])} | "
            f"{'n/a' if p != p else f'{p:.2g}'} |"
        )
    claim = doc["paper_claim"]
    lines += [
        "",
        f"Paper's claim (gap <= {claim['paper_gap_points']} points): softmax - qama-cim = "
        f"{claim['gap_softmax_minus_qama_cim']:+.1f} points, 95 % t {_ci(claim['t_ci95'])}, bootstrap "
        f"{_ci(claim['bootstrap_ci95'])}: {'supported' if claim['within_paper_gap'] else 'not supported'} "
        f"({claim['rule']}).",
    ]
    run = doc.get("run")
    if run:
        lines.append(
            f"Run: wall {run['wall_time_s']:.0f} s, CPU {run['cpu_time_s']:.0f} s (this task's jobs: "
            f"{run['task_jobs_cpu_time_s']:.0f} CPU s), quiet-machine estimate {run['quiet_machine_estimate_s']:.0f} s "
            f"on {run['workers']} workers; load average {run['load_average_start']} -> {run['load_average_end']}; "
            f"commit {doc['provenance']['git_commit'][:12]}."
        )
    return "\n".join(lines)


def print_report(docs: dict[str, dict[str, Any]]) -> None:
    for doc in docs.values():
        print(tables(doc))
        print()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=str(REPO / "experiments" / "results"))
    args = p.parse_args(argv)
    docs = {}
    for task in ("digits", "recall"):
        path = Path(args.dir) / f"{task}.json"
        if path.exists():
            docs[task] = json.loads(path.read_text())
    print_report(docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

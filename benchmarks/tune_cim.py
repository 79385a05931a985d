"""Tune the CIM emulator's schedules on a TRAINING set and check them on a HELD-OUT set.

Never on the benchmark instances: training and held-out instances come from the benchmark's
families (``instances.py``) with their own seeds (``TRAIN_SEED + k``, ``HELDOUT_SEED + k``).
The objective is quality at a fixed budget (steps x reads per family), not wall time, so the
result does not depend on how loaded the machine is: the mean relative gap (%) of the best
read to a reference energy (the best of a long dwave-samplers SA run and every run here).

For each method a seeded random search draws ``--samples`` schedules, scores them on the
training set, and re-scores the best few (and the current defaults) on the held-out set.

    .venv-bench/bin/python benchmarks/tune_cim.py                    # all families, all methods
    .venv-bench/bin/python benchmarks/tune_cim.py --families sparse --methods cac,dsb --samples 30

Writes ``benchmarks/results/tune_cim.json`` (every score) and prints the ranking.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, ROOT, limit_threads, update_docs, write_json
from instances import (
    HELDOUT_SEED,
    TRAIN_SEED,
    Instance,
    maxcut_instance,
    qama_batch_instance,
    qama_instance,
    sk_instance,
    torus_instance,
)

# family -> (builders of (seed) -> Instance, budgets [(steps, reads)])
FAMILIES: dict[str, tuple[list[Any], list[tuple[int, int]]]] = {
    "sparse": (
        [lambda s: maxcut_instance(s), lambda s: torus_instance(30, s), lambda s: torus_instance(50, s)],
        [(300, 8), (1000, 8)],
    ),
    "sk": ([lambda s: sk_instance(512, s), lambda s: sk_instance(1024, s)], [(300, 16), (1000, 16)]),
    "qama-std": (
        [
            lambda s: qama_instance(4, 64, s, normalize="standardise"),
            lambda s: qama_instance(8, 48, s, normalize="standardise"),
        ],
        [(30, 4), (100, 4)],
    ),
    "qama-raw": ([lambda s: qama_instance(4, 64, s, normalize=None)], [(10, 1), (30, 4)]),
    "qama-batch": (
        [lambda s: qama_batch_instance(64, 2, 8, s), lambda s: qama_batch_instance(16, 4, 32, s)],
        [(100, 16), (300, 16)],
    ),
}

# method -> sampler of a schedule (a dict of Schedule fields)
SPACES: dict[str, Any] = {
    "cac": lambda rng: {
        "dt": float(rng.choice([0.05, 0.075, 0.1, 0.15, 0.2, 0.3])),
        "feedback": float(rng.choice([0.2, 0.35, 0.5, 0.7, 1.0, 1.4])),
        "pump": (float(rng.choice([-2.0, -1.0, -0.5, 0.0])), float(rng.choice([-0.5, 0.0, 0.5, 1.0]))),
        "rate": (float(rng.choice([0.05, 0.1, 0.3, 0.6])), float(rng.choice([0.3, 1.0, 2.0, 3.0]))),
        "modulation": float(rng.choice([0.0, 0.1, 0.2, 0.4])),
        "stability": float(rng.choice([0.3, 0.6, 1.0, 1.5])),
    },
    "ahc": lambda rng: {
        "dt": float(rng.choice([0.05, 0.1, 0.15, 0.2, 0.3])),
        "feedback": float(rng.choice([0.2, 0.35, 0.5, 0.7, 1.0])),
        "pump": (float(rng.choice([-1.0, -0.5, 0.0])), float(rng.choice([0.0, 0.5, 0.9, 1.2]))),
        "rate": (float(rng.choice([0.1, 0.3, 0.6])),) * 2,
        "stability": float(rng.choice([0.3, 0.6, 1.0, 1.5])),
    },
    "dsb": lambda rng: {
        "dt": float(rng.choice([0.5, 0.75, 1.0, 1.25])),
        "feedback": float(rng.choice([0.15, 0.25, 0.35, 0.5, 0.7, 1.0])),
        "pump": (0.0, float(rng.choice([0.8, 1.0, 1.2]))),
        "stability": float(rng.choice([1.0, 1.5, 1.8, 1.95])),
    },
}


def _valid(method: str, p: dict[str, Any]) -> bool:
    from qama_backends.cim_dynamics import default_schedule

    try:
        default_schedule(method, 100, **p)
    except Exception:
        return False
    return True


def reference(inst: Instance, sweeps: int, reads: int) -> np.ndarray:
    """The best of a long dwave-samplers SA run per problem."""
    from dwave.samplers import SimulatedAnnealingSampler

    sa = SimulatedAnnealingSampler()
    out = []
    for b, bqm in enumerate(inst.bqms):
        br = sa.sample(bqm, num_reads=1, num_sweeps=1, seed=0).info["beta_range"]
        out.append(float(sa.sample(bqm, num_reads=reads, num_sweeps=sweeps, seed=b, beta_range=br).record.energy.min()))
    return np.asarray(out)


def mean_gap(bests: list[np.ndarray], insts: list[Instance], refs: dict[int, np.ndarray], per: int) -> float:
    """Mean relative gap (%) of ``bests`` (``per`` runs per instance, in order) to the references."""
    gaps = [
        float(np.mean(100 * (best - refs[id(insts[j // per])]) / np.abs(refs[id(insts[j // per])])))
        for j, best in enumerate(bests)
    ]
    return float(np.mean(gaps))


def score(
    method: str,
    params: dict[str, Any],
    insts: list[Instance],
    budgets: list[tuple[int, int]],
    seeds: int,
    log: list[Any],
) -> list[np.ndarray]:
    """Best energy per problem for every (instance, budget, seed); appended to ``log``."""
    from qama_backends.cim import sample_ir

    out = []
    for inst in insts:
        for steps, reads in budgets:
            for k in range(seeds):
                t0 = time.perf_counter()
                _, e, _ = sample_ir(inst.ir, num_reads=reads, seed=k, num_steps=steps, method=method, **params)
                best = e.min(axis=1)
                out.append(best)
                log.append(
                    {
                        "instance": inst.name,
                        "seed_inst": inst.meta["seed"],
                        "steps": steps,
                        "reads": reads,
                        "seed": k,
                        "best": best.tolist(),
                        "wall_s": time.perf_counter() - t0,
                    }
                )
    return out


def _label(cand: dict[str, Any]) -> str:
    params = cand.get("params") or {}
    text = cand["method"] + " " + ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in params.items())
    return text + (f" ({cand['note']})" if cand.get("note") else "")


def report(paths: list[Path]) -> str:
    """A markdown table: mean gap (%) and share of runs at the reference, per schedule and family."""
    rows: dict[str, dict[str, str]] = {}
    families: list[str] = []
    for path in paths:
        data = json.loads(path.read_text())
        for fam, entries in data["families"].items():
            if fam not in families:
                families.append(fam)
            for e in entries:
                label = _label(e["candidate"])
                rows.setdefault(label, {})[fam] = f"{e['gap_pct']:.4f} ({e['hit_rate']:.2f})"
    header = "| schedule | " + " | ".join(families) + " |"
    lines = [
        f"From {', '.join(f'`benchmarks/results/{p.name}`' for p in paths)}: mean gap to the reference in %, "
        "(in brackets) the share of runs whose best read reached it on every problem; '-': not run.",
        "",
        header,
        "|" + "---|" * (len(families) + 1),
    ]
    for label, cols in rows.items():
        lines.append(f"| {label} | " + " | ".join(cols.get(f, "-") for f in families) + " |")
    return "\n".join(lines)


def compare(cands: list[dict[str, Any]], families: list[str], args: Any) -> None:
    """Score fixed schedules on the training and held-out instances of every family."""
    from qama_backends.cim_dynamics import default_schedule

    out: dict[str, Any] = {"candidates": cands, "families": {}}
    for fam in families:
        builders, budgets = FAMILIES[fam]
        insts = [bld(TRAIN_SEED + 100 * j + k) for j, bld in enumerate(builders) for k in range(args.train)]
        insts += [bld(HELDOUT_SEED + 100 * j) for j, bld in enumerate(builders)]
        refs = [reference(i, 3000, 16) for i in insts]
        runs = []
        for cand in cands:
            if not cand.get("params"):  # record what the defaults were
                sched = default_schedule(cand["method"], 100)
                keep = ("dt", "feedback", "pump", "rate", "modulation", "stability")
                cand["params"] = {k: getattr(sched, k) for k in keep}
                cand["note"] = "the defaults when this was run"
            log: list[Any] = []
            runs.append((score(cand["method"], cand.get("params", {}), insts, budgets, args.seeds, log), log))
        per_run = len(budgets) * args.seeds
        for i in range(len(insts)):
            for bests, _ in runs:
                for best in bests[i * per_run : (i + 1) * per_run]:
                    refs[i] = np.minimum(refs[i], best)
        fam_out = []
        for cand, (bests, log) in zip(cands, runs, strict=True):
            gaps = [
                float(np.mean(100 * (best - refs[j // per_run]) / np.abs(refs[j // per_run])))
                for j, best in enumerate(bests)
            ]
            hit = float(
                np.mean(
                    [
                        np.all(best <= refs[j // per_run] + 1e-9 * np.abs(refs[j // per_run]))
                        for j, best in enumerate(bests)
                    ]
                )
            )
            walls = [e["wall_s"] for e in log]
            fam_out.append(
                {"candidate": cand, "gap_pct": float(np.mean(gaps)), "hit_rate": hit, "wall_s": float(np.sum(walls))}
            )
            print(
                f"  {fam:<10} gap {np.mean(gaps):.4f} %  all at reference {hit:.2f}  "
                f"wall {np.sum(walls):.1f} s  {cand}",
                flush=True,
            )
        out["families"][fam] = fam_out
        write_json(args.out, out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--methods", default="cac,dsb")
    ap.add_argument("--samples", type=int, default=24, help="random schedules per method and family")
    ap.add_argument("--top", type=int, default=4, help="schedules re-scored on the held-out set")
    ap.add_argument("--train", type=int, default=2, help="training instances per builder")
    ap.add_argument("--seeds", type=int, default=2, help="solver seeds per (instance, budget)")
    ap.add_argument("--search-seed", type=int, default=0)
    ap.add_argument(
        "--compare",
        default="",
        help='JSON list of {"method": ..., "params": {...}}: score these on every family (training and held-out '
        "together) instead of searching",
    )
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "tune_cim.json")
    ap.add_argument(
        "--report",
        nargs="*",
        type=Path,
        help="render these --compare JSONs as the table of docs/backends/cim.md (and update it)",
    )
    args = ap.parse_args(argv)
    if args.report is not None:
        text = report(args.report or sorted(RESULTS_DIR.glob("tune_compare*.json")))
        print(text)
        update_docs(ROOT / "docs" / "backends" / "cim.md", "tune_cim", text)
        return
    limit_threads(1)
    if args.compare:
        compare(json.loads(args.compare), args.families.split(","), args)
        return
    results: dict[str, Any] = {"config": vars(args) | {"out": str(args.out)}, "families": {}}
    for fam in args.families.split(","):
        builders, budgets = FAMILIES[fam]
        train = [bld(TRAIN_SEED + 100 * j + k) for j, bld in enumerate(builders) for k in range(args.train)]
        held = [bld(HELDOUT_SEED + 100 * j) for j, bld in enumerate(builders)]
        print(f"== {fam}: {len(train)} training, {len(held)} held-out instances, budgets {budgets}", flush=True)
        refs = {id(i): reference(i, 3000, 16) for i in train + held}
        fam_out: dict[str, Any] = {"budgets": budgets, "methods": {}}
        for method in args.methods.split(","):
            rng = np.random.default_rng(args.search_seed)
            cands: list[dict[str, Any]] = [{}]  # {} = the current defaults
            while len(cands) < args.samples + 1:
                p = SPACES[method](rng)
                if _valid(method, p) and p not in cands:
                    cands.append(p)
            scored = []
            for p in cands:
                log: list[Any] = []
                bests = score(method, p, train, budgets, args.seeds, log)
                scored.append((p, bests, log))
            # the reference also takes every energy found here
            k = 0
            for inst in train:
                for _ in budgets:
                    for _ in range(args.seeds):
                        for _, bests, _ in scored:
                            refs[id(inst)] = np.minimum(refs[id(inst)], bests[k])
                        k += 1

            ranked = sorted(
                ((mean_gap(b, train, refs, len(budgets) * args.seeds), p, log) for p, b, log in scored),
                key=lambda t: t[0],
            )
            for g, p, _ in ranked[:8]:
                print(f"  {method} train gap {g:.4f} %  {p or 'defaults'}", flush=True)
            chosen = ranked[: args.top] + [t for t in ranked[args.top :] if t[1] == {}]
            held_scored = []
            for g_train, p, _ in chosen:
                log = []
                held_scored.append((g_train, p, score(method, p, held, budgets, args.seeds, log), log))
            k = 0
            for inst in held:
                for _ in budgets:
                    for _ in range(args.seeds):
                        for _, _, bests, _ in held_scored:
                            refs[id(inst)] = np.minimum(refs[id(inst)], bests[k])
                        k += 1
            heldout = []
            for g_train, p, bests, _ in held_scored:
                g_held = mean_gap(bests, held, refs, len(budgets) * args.seeds)
                heldout.append({"params": p, "train_gap_pct": g_train, "heldout_gap_pct": g_held})
                print(f"  {method} held-out gap {g_held:.4f} % (train {g_train:.4f} %)  {p or 'defaults'}", flush=True)
            fam_out["methods"][method] = {
                "train": [{"params": p, "train_gap_pct": g} for g, p, _ in ranked],
                "heldout": heldout,
            }
        fam_out["references"] = {f"{i.name}@{i.meta['seed']}": refs[id(i)].tolist() for i in train + held}
        results["families"][fam] = fam_out
        write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

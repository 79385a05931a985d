"""Accuracy of every arm on one task under the shared protocol (:mod:`experiments.protocol`).

:func:`run_arm` is one job (one arm, one seed: train, early-stop on validation, test once);
:func:`task_jobs` builds a task's job graph (learning-rate tuning on separate seeds, then
every arm on every evaluation seed; ``random`` waits for ``qama-cim`` of its seed to know the
density to match); :func:`summarise` turns the finished jobs into the results document
(per-seed numbers, paired gaps with intervals, the paper's claim checked).

Run through ``python -m experiments.run_all`` (both tasks, ``make experiments``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .arms import ARMS, DESCRIPTIONS, LR_GROUPS, QAMA_ARMS, TUNED_ARM, SolverConfig, attention_layer
from .protocol import Job, TrainConfig, describe, paired_gap, train_and_test
from .tasks import task_spec

#: The paper's claim (arXiv 2504.11083): accuracy within 2.7 points of softmax attention.
PAPER_GAP_POINTS = 2.7

#: Relative CPU cost of the arms (orders the job queue: expensive jobs start first).
ARM_COST = {
    "qama-sa": 6.0,
    "qama-exact": 3.0,
    "qama-cim": 1.5,
    "all-selected": 0.8,
    "random": 0.8,
    "softmax": 0.2,
    "bag": 0.15,
}


@dataclass(frozen=True)
class TaskPlan:
    """Everything fixed a priori for a task (docs/experiments.md)."""

    task: str
    seeds: tuple[int, ...]
    tuning_seeds: tuple[int, ...]
    lr_grid: tuple[float, ...]
    max_epochs: int
    patience: int
    dim: int = 32
    heads: int = 2
    mlp: int = 64
    batch: int = 64
    solver: SolverConfig = field(default_factory=SolverConfig)
    quick: bool = False

    def config(self, lr: float) -> TrainConfig:
        return TrainConfig(lr=lr, max_epochs=self.max_epochs, patience=self.patience, batch=self.batch)


def _shared_init(plan: TaskPlan, seed: int) -> dict[str, Any]:
    """The initial parameters of seed ``seed``: those of the softmax model built after ``manual_seed(seed)``."""
    import torch

    from .models import Classifier

    spec = task_spec(plan.task, quick=plan.quick)
    torch.manual_seed(seed)
    ref = Classifier(
        attention_layer("softmax", dim=plan.dim, heads=plan.heads, seed=seed, solver=plan.solver),
        embed=spec.embedding(plan.dim),
        tokens=spec.tokens,
        dim=plan.dim,
        mlp=plan.mlp,
        classes=spec.classes,
    )
    return {k: v.clone() for k, v in ref.state_dict().items()}


def build_model(plan: TaskPlan, arm: str, seed: int, *, density: float | None = None) -> Any:
    """The model of ``arm`` for ``seed``, starting from the seed's shared parameters (checked equal)."""
    import torch

    from .models import Classifier

    spec = task_spec(plan.task, quick=plan.quick)
    init = _shared_init(plan, seed)
    torch.manual_seed(seed)
    model = Classifier(
        attention_layer(arm, dim=plan.dim, heads=plan.heads, seed=seed, solver=plan.solver, density=density),
        embed=spec.embedding(plan.dim),
        tokens=spec.tokens,
        dim=plan.dim,
        mlp=plan.mlp,
        classes=spec.classes,
    )
    shared = {k: v for k, v in init.items() if arm != "bag" or not k.startswith("attn.")}
    model.load_state_dict(shared, strict=True)  # QAMA: the pre-hook keeps its batch norms' (deterministic) init
    state = model.state_dict()
    for k, v in init.items():
        if k in state and not torch.equal(state[k], v):
            raise AssertionError(f"parameter {k} of arm {arm} differs from the shared init of seed {seed}")
    return model


class _ProbePhases:
    """Attributes a QAMA arm's selection statistics to the phase they were recorded in.

    Called with the name of each phase as it starts (``train``, ``val``, ``test``, and
    ``end`` after the run): the probe's records of the phase that ends are summarised, the
    probe is reset, and the exact ground state is enumerated only while testing.
    """

    def __init__(self, probe: Any) -> None:
        self.probe = probe
        self.phase = ""
        self.train_densities: list[np.ndarray] = []
        self.summaries: dict[str, dict[str, Any]] = {}

    def __call__(self, phase: str) -> None:
        if self.phase == "train":
            self.train_densities.extend(self.probe.densities)
        if self.phase:
            self.summaries[self.phase] = self.probe.summary()
        self.probe.reset()
        self.probe.measure_gap = phase == "test"
        self.phase = phase

    def train_density(self) -> float:
        return float(np.concatenate(self.train_densities).mean()) if self.train_densities else float("nan")


def run_arm(
    *, plan: TaskPlan, arm: str, seed: int, lr: float, test: bool = True, density: float | None = None
) -> dict[str, Any]:
    """One job: train ``arm`` on ``seed`` with ``lr``; returns its numbers (test accuracy if ``test``)."""
    import torch

    torch.set_num_threads(1)
    c0 = time.process_time()
    spec = task_spec(plan.task, quick=plan.quick)
    split = spec.split(seed)
    model = build_model(plan, arm, seed, density=density)
    phases = _ProbePhases(model.attn.qama.backend) if arm in QAMA_ARMS else None
    res = train_and_test(model, split, plan.config(lr), seed=seed, test=test, on_phase=phases)
    out: dict[str, Any] = {
        "arm": arm,
        "seed": seed,
        "lr": lr,
        "test_accuracy": res.test_accuracy,
        "best_val_accuracy": res.best_val_accuracy,
        "best_epoch": res.best_epoch,
        "epochs_run": res.epochs_run,
        "val_history": [round(v, 4) for v in res.val_history],
        "train_loss_history": [round(v, 4) for v in res.train_loss_history],
        "train_cpu_s": res.train_cpu_s,
        "wall_s": res.wall_s,
        "split_sizes": split.sizes(),
    }
    if phases is not None:
        phases("end")
        qa = model.attn
        out["train_bit_density"] = phases.train_density()
        out["test_selection"] = phases.summaries.get("test")
        out["solve_calls"] = qa.solve_calls
        out["solver_wall_s"] = qa.total_solve_time_s
        if density is not None:
            out["matched_density"] = density
    out["cpu_s"] = time.process_time() - c0
    acc = "-" if res.test_accuracy is None else f"{100 * res.test_accuracy:.1f}"
    out["summary"] = f"test {acc} %, val {100 * res.best_val_accuracy:.1f} % at epoch {res.best_epoch}"
    return out


# --------------------------------------------------------------------------- the job graph
def _key(plan: TaskPlan, kind: str, arm: str, seed: int, lr: float | None = None) -> str:
    return f"{plan.task}/{kind}/{arm}/seed={seed}" + ("" if lr is None else f"/lr={lr:g}")


def chosen_lr(plan: TaskPlan, group: str, results: Mapping[str, dict[str, Any]]) -> tuple[float, dict[str, float]]:
    """The group's learning rate: the best mean validation accuracy over the tuning seeds (first of ties)."""
    arm = TUNED_ARM[group]
    means = {
        f"{lr:g}": float(
            np.mean([results[_key(plan, "tune", arm, s, lr)]["best_val_accuracy"] for s in plan.tuning_seeds])
        )
        for lr in plan.lr_grid
    }
    best = max(plan.lr_grid, key=lambda lr: (means[f"{lr:g}"], -plan.lr_grid.index(lr)))
    return best, means


def task_jobs(plan: TaskPlan, *, scale: float = 1.0) -> list[Job]:
    """Tuning jobs (tuned arm of each group x lr grid x tuning seeds), then every arm x evaluation seed."""
    jobs: list[Job] = []
    tune_keys: dict[str, list[str]] = {}
    for group, arm in TUNED_ARM.items():
        tune_keys[group] = []
        for lr in plan.lr_grid:
            for s in plan.tuning_seeds:
                key = _key(plan, "tune", arm, s, lr)
                tune_keys[group].append(key)
                jobs.append(
                    Job(
                        key,
                        run_arm,
                        {"plan": plan, "arm": arm, "seed": s, "lr": lr, "test": False},
                        cost=scale * ARM_COST[arm],
                    )
                )
    for arm in ARMS:
        group = LR_GROUPS[arm]
        for s in plan.seeds:
            deps = tuple(tune_keys[group])
            cim_key = _key(plan, "eval", "qama-cim", s)
            if arm == "random":
                deps = (*deps, cim_key)

            def prepare(
                results: Mapping[str, dict[str, Any]], group: str = group, arm: str = arm, cim_key: str = cim_key
            ) -> dict[str, Any]:
                extra: dict[str, Any] = {"lr": chosen_lr(plan, group, results)[0]}
                if arm == "random":
                    extra["density"] = float(results[cim_key]["train_bit_density"])
                return extra

            jobs.append(
                Job(
                    _key(plan, "eval", arm, s),
                    run_arm,
                    {"plan": plan, "arm": arm, "seed": s},
                    deps=deps,
                    prepare=prepare,
                    cost=scale * ARM_COST[arm],
                )
            )
    return jobs


# --------------------------------------------------------------------------- the results document
#: Comparisons reported, as (a, b): the gap is a - b in points.
COMPARISONS = (
    ("softmax", "qama-cim"),
    ("softmax", "qama-sa"),
    ("softmax", "qama-exact"),
    ("softmax", "bag"),
    ("qama-cim", "bag"),
    ("qama-cim", "all-selected"),
    ("qama-cim", "random"),
    ("qama-exact", "qama-cim"),
    ("qama-sa", "qama-cim"),
    ("qama-exact", "all-selected"),
)


def summarise(plan: TaskPlan, results: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The task's results document: protocol, per-seed runs per arm, paired gaps, the paper's claim."""
    spec = task_spec(plan.task, quick=plan.quick)
    lrs = {g: chosen_lr(plan, g, results) for g in TUNED_ARM}
    arms: dict[str, Any] = {}
    for arm in ARMS:
        runs = [results[_key(plan, "eval", arm, s)] for s in plan.seeds]
        acc = [r["test_accuracy"] for r in runs]
        entry: dict[str, Any] = {
            "description": DESCRIPTIONS[arm],
            "lr": lrs[LR_GROUPS[arm]][0],
            "test_accuracy": describe(acc),
            "per_seed_test_accuracy": acc,
            "mean_best_epoch": float(np.mean([r["best_epoch"] for r in runs])),
            "cpu_s": float(sum(r["cpu_s"] for r in runs)),
            "runs": [{k: v for k, v in r.items() if k != "summary"} for r in runs],
        }
        if arm in QAMA_ARMS:
            sel = [r["test_selection"] for r in runs]
            entry["selection"] = {
                "train_bit_density": float(np.mean([r["train_bit_density"] for r in runs])),
                "test_bit_density": float(np.mean([s["bit_density"] for s in sel])),
                "test_problems_per_seed": int(sel[0]["problems"]),
                "test_mean_energy_gap": float(np.mean([s.get("mean_gap", np.nan) for s in sel])),
                "test_mean_relative_energy_gap": float(np.mean([s.get("mean_relative_gap", np.nan) for s in sel])),
                "test_at_ground_fraction": float(np.mean([s.get("at_ground_fraction", np.nan) for s in sel])),
                "solver_wall_s": float(sum(r["solver_wall_s"] for r in runs)),
            }
        arms[arm] = entry
    comparisons: list[dict[str, Any]] = []
    for a, b in COMPARISONS:
        gap = paired_gap(arms[a]["per_seed_test_accuracy"], arms[b]["per_seed_test_accuracy"])
        comparisons.append({"a": a, "b": b, "gap_points": gap})
    main = next(c["gap_points"] for c in comparisons if (c["a"], c["b"]) == ("softmax", "qama-cim"))
    upper = main["t_ci95"][1]
    claim = {
        "paper_gap_points": PAPER_GAP_POINTS,
        "gap_softmax_minus_qama_cim": main["mean"],
        "t_ci95": main["t_ci95"],
        "bootstrap_ci95": main["bootstrap_ci95"],
        "within_paper_gap": bool(upper <= PAPER_GAP_POINTS),
        "rule": "supported when the upper end of the 95 % paired-t interval of softmax - QAMA is <= 2.7 points",
    }
    return {
        "task": {
            "name": spec.name,
            "description": spec.description,
            "tokens": spec.tokens,
            "classes": spec.classes,
            "options": spec.options,
        },
        "protocol": {
            "seeds": list(plan.seeds),
            "tuning_seeds": list(plan.tuning_seeds),
            "lr_grid": list(plan.lr_grid),
            "chosen_lr": {g: {"lr": lr, "mean_val_accuracy_by_lr": m} for g, (lr, m) in lrs.items()},
            "lr_groups": LR_GROUPS,
            "max_epochs": plan.max_epochs,
            "patience": plan.patience,
            "batch": plan.batch,
            "optimiser": "AdamW, weight decay 1e-4, gradient norm clipped at 1",
            "model": {"dim": plan.dim, "heads": plan.heads, "mlp": plan.mlp, "blocks": 1, "pool": "mean"},
            "solver": asdict(plan.solver),
            "variables_per_problem": plan.heads * spec.tokens * plan.solver.bits,
            "quick": plan.quick,
        },
        "arms": arms,
        "comparisons": comparisons,
        "paper_claim": claim,
    }

"""The protocol every accuracy experiment follows (docs/experiments.md).

* **Paired seeds.** Seed ``s`` fixes the data split, the initial parameters (every arm starts
  from the same state dict for the parameters it shares with the softmax model), the order of
  the training batches and the solver's seeds. Arms differ only in the attention layer.
* **Validation for every choice.** The learning rate is chosen per arm group on the
  validation split of separate tuning seeds (never an evaluation seed); the epoch is chosen
  by early stopping on each run's validation split; the test split is evaluated once, with
  the parameters of the best validation epoch.
* **Paired statistics.** For arms ``a`` and ``b``, the per-seed differences
  ``d_s = acc_a(s) - acc_b(s)`` in points: mean, 95 % interval from the paired t
  distribution and from the bootstrap (BCa, 10,000 resamples, fixed seed; scipy.stats), and
  the paired t-test's p value.
* **Provenance.** Every result file carries the git commit, the machine (cores, CPU model),
  library versions, wall and CPU time, and the load average.

:func:`train_and_test` is the training loop; :func:`paired_gap` the statistics;
:func:`run_jobs` runs jobs with dependencies on a process pool (one torch thread each).
"""

from __future__ import annotations

import copy
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent

#: Confidence level of every interval reported.
CONFIDENCE = 0.95
#: Bootstrap resamples and the generator seed of the bootstrap (so a report repeats).
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 12345


# --------------------------------------------------------------------------- statistics
def paired_gap(a: list[float], b: list[float], *, scale: float = 100.0) -> dict[str, Any]:
    """Paired comparison of two arms' per-seed scores (same seeds, same order), in points.

    Returns the per-seed differences ``a - b`` (times ``scale``), their mean and standard
    deviation, the 95 % paired-t interval, the 95 % bootstrap interval of the mean (BCa;
    percentile if BCa is undefined; a point if every difference is equal) and the two-sided
    p value of the paired t-test (``nan`` when every difference is equal).

    >>> g = paired_gap([0.9, 0.8, 0.85, 0.95], [0.8, 0.8, 0.8, 0.9])
    >>> round(g["mean"], 2), [round(x, 2) for x in g["t_ci95"]], g["n"]
    (5.0, [-1.5, 11.5], 4)
    """
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"paired scores must be two equal 1-D lists of at least 2, got {x.shape} and {y.shape}")
    d = scale * (x - y)
    n, mean = d.size, float(d.mean())
    sd = float(d.std(ddof=1))
    out: dict[str, Any] = {"n": n, "mean": mean, "sd": sd, "per_seed": d.tolist()}
    if sd == 0.0:
        out.update(t_ci95=[mean, mean], bootstrap_ci95=[mean, mean], p_paired_t=math.nan, bootstrap_method="none")
        return out
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    out["t_ci95"] = [mean - half, mean + half]
    out["p_paired_t"] = float(stats.ttest_rel(x, y).pvalue)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    method = "BCa"
    try:
        res = stats.bootstrap(
            (d,), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES, method="BCa", random_state=rng
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("BCa interval undefined")
    except Exception:  # BCa needs variation in the jackknife; fall back to the percentile interval
        method = "percentile"
        res = stats.bootstrap(
            (d,),
            np.mean,
            confidence_level=CONFIDENCE,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            random_state=np.random.default_rng(BOOTSTRAP_SEED),
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    out["bootstrap_ci95"] = [lo, hi]
    out["bootstrap_method"] = method
    return out


def describe(scores: list[float], *, scale: float = 100.0) -> dict[str, Any]:
    """Mean, sample standard deviation, min, max and n of per-seed scores, in points."""
    s = scale * np.asarray(scores, dtype=float)
    return {
        "n": int(s.size),
        "mean": float(s.mean()),
        "sd": float(s.std(ddof=1)) if s.size > 1 else 0.0,
        "min": float(s.min()),
        "max": float(s.max()),
    }


# --------------------------------------------------------------------------- provenance
def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def provenance() -> dict[str, Any]:
    """Git commit (and whether the tree had changes), machine, library versions, date."""
    import scipy
    import torch

    status = _git("status", "--porcelain")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status != "unknown" else None,
        "machine": {
            "cores": os.cpu_count(),
            "cpu_model": cpu_model(),
            "platform": platform.platform(),
        },
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainConfig:
    """Fixed a priori for every arm of a task (not tuned): only ``lr`` is chosen on validation."""

    lr: float
    max_epochs: int
    patience: int
    batch: int = 64
    eval_batch: int = 256
    weight_decay: float = 1e-4
    clip: float = 1.0


@dataclass
class RunResult:
    """One training run: the test accuracy at the best validation epoch and its history."""

    test_accuracy: float | None
    best_val_accuracy: float
    best_epoch: int
    epochs_run: int
    val_history: list[float]
    train_loss_history: list[float]
    train_cpu_s: float
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def accuracy(model: Any, x: Any, y: Any, batch: int) -> float:
    """Accuracy of ``model`` (eval mode, no gradients) on ``x, y`` in batches of ``batch``."""
    import torch

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[s : s + batch]).argmax(dim=1) for s in range(0, x.shape[0], batch)])
    return float((pred == y).float().mean())


def train_and_test(
    model: Any,
    split: Any,
    config: TrainConfig,
    *,
    seed: int,
    test: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> RunResult:
    """Train with AdamW, early stopping on validation accuracy; test once at the best epoch.

    Batches are drawn in an order fixed by ``seed`` (``torch.Generator``), the same for every
    arm. After each epoch the validation accuracy is measured; the parameters of the best
    epoch (first of ties) are kept; training stops after ``patience`` epochs without
    improvement or at ``max_epochs``. ``test=False`` (tuning runs) never touches the test
    split. ``on_phase("train" | "val" | "test")`` is called before each phase (the QAMA arms
    use it to attribute their solver statistics).
    """
    import torch
    from torch import nn

    phase = on_phase or (lambda name: None)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    best_state, best_val, best_epoch = copy.deepcopy(model.state_dict()), -1.0, 0
    val_hist: list[float] = []
    loss_hist: list[float] = []
    n = split.x_train.shape[0]
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        phase("train")
        order = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for start in range(0, n, config.batch):
            idx = order[start : start + config.batch]
            if idx.numel() < 2:  # batch norm (QAMA) needs two items in training
                continue
            loss = nn.functional.cross_entropy(model(split.x_train[idx]), split.y_train[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        loss_hist.append(total / max(count, 1))
        phase("val")
        val = accuracy(model, split.x_val, split.y_val, config.eval_batch)
        val_hist.append(val)
        if val > best_val:
            best_state, best_val, best_epoch = copy.deepcopy(model.state_dict()), val, epoch
        elif epoch - best_epoch >= config.patience:
            break
    train_cpu = time.process_time() - c0
    model.load_state_dict(best_state)
    test_acc = None
    if test:
        phase("test")
        test_acc = accuracy(model, split.x_test, split.y_test, config.eval_batch)
    return RunResult(
        test_accuracy=test_acc,
        best_val_accuracy=best_val,
        best_epoch=best_epoch,
        epochs_run=epoch,
        val_history=val_hist,
        train_loss_history=loss_hist,
        train_cpu_s=train_cpu,
        wall_s=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- scheduling
@dataclass
class Job:
    """A unit of work for :func:`run_jobs`: ``fn(**kwargs)`` once every job in ``deps`` is done.

    ``prepare(results)`` (optional) completes the keyword arguments from the finished
    dependencies' results (e.g. the learning rate chosen by the tuning jobs).
    """

    key: str
    fn: Callable[..., dict[str, Any]]
    kwargs: dict[str, Any]
    deps: tuple[str, ...] = ()
    prepare: Callable[[Mapping[str, dict[str, Any]]], dict[str, Any]] | None = None
    cost: float = 1.0  # expected CPU seconds: larger jobs start first


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_jobs(
    jobs: list[Job], *, workers: int, log: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Run ``jobs`` on ``workers`` processes (spawned; one torch thread each), respecting ``deps``.

    Ready jobs start in order of decreasing ``cost``. Returns the results by key and a
    timeline (key, start, end, worker-side CPU seconds) for the schedule estimate.
    """
    import multiprocessing as mp

    by_key = {j.key: j for j in jobs}
    for j in jobs:
        missing = [d for d in j.deps if d not in by_key]
        if missing:
            raise ValueError(f"job {j.key} depends on unknown jobs {missing}")
    results: dict[str, dict[str, Any]] = {}
    timeline: list[dict[str, Any]] = []
    pending = dict(by_key)
    running: dict[Future[dict[str, Any]], tuple[str, float]] = {}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as ex:
        while pending or running:
            ready = [j for j in pending.values() if all(d in results for d in j.deps)]
            ready.sort(key=lambda j: -j.cost)
            for j in ready[: max(0, workers - len(running))]:
                kwargs = dict(j.kwargs)
                if j.prepare is not None:
                    kwargs.update(j.prepare(results))
                running[ex.submit(j.fn, **kwargs)] = (j.key, time.perf_counter() - t0)
                del pending[j.key]
            if not running:
                raise RuntimeError(f"jobs with unmet dependencies: {sorted(pending)}")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                key, start = running.pop(fut)
                res = fut.result()
                results[key] = res
                end = time.perf_counter() - t0
                timeline.append({"key": key, "start_s": start, "end_s": end, "cpu_s": float(res.get("cpu_s", 0.0))})
                log(f"[{end:7.1f} s] done {key} ({res.get('summary', '')})")
    return results, timeline


def quiet_schedule_estimate(jobs: list[Job], timeline: list[dict[str, Any]], *, workers: int) -> float:
    """Makespan of the same job graph on ``workers`` idle cores, each job taking its measured CPU time.

    The same greedy rule as :func:`run_jobs` (ready jobs by decreasing expected cost), with
    the measured CPU seconds as durations: the wall time the run would take on a quiet
    machine with one core per worker.
    """
    cpu = {t["key"]: t["cpu_s"] for t in timeline}
    deps = {j.key: j.deps for j in jobs}
    cost = {j.key: j.cost for j in jobs}
    done_at: dict[str, float] = {}
    free = [0.0] * workers
    remaining = set(deps)
    now = 0.0
    running: list[tuple[float, str]] = []
    while remaining or running:
        ready = sorted(
            (k for k in remaining if all(d in done_at and done_at[d] <= now for d in deps[k])), key=lambda k: -cost[k]
        )
        idle = [i for i, t in enumerate(free) if t <= now]
        for k, i in zip(ready, idle, strict=False):
            free[i] = now + cpu.get(k, 0.0)
            running.append((free[i], k))
            remaining.discard(k)
        if not running:
            break
        running.sort()
        end, k = running.pop(0)
        done_at[k] = end
        now = max(now, end)
    return max(done_at.values(), default=0.0)

"""The accuracy figure: per-seed test accuracy of every arm (paired lines) and the gaps with their intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .arms import ARMS


def accuracy_figure(docs: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """Top row: test accuracy per arm and seed (a line per seed joins its arms), mean and 95 % t interval.
    Bottom row: paired gaps (a - b) with their 95 % t and bootstrap intervals; the paper's 2.7 points dashed.
    """
    from qama_compile.tools.plotting import new_figure, save_png

    tasks = list(docs)
    fig = new_figure(5.2 * len(tasks), 6.6)
    axes = fig.subplots(2, len(tasks), squeeze=False)
    for c, task in enumerate(tasks):
        doc = docs[task]
        ax = axes[0, c]
        acc = np.array([[100 * a for a in doc["arms"][arm]["per_seed_test_accuracy"]] for arm in ARMS])  # [arms, seeds]
        xs = np.arange(len(ARMS))
        for s in range(acc.shape[1]):
            ax.plot(xs, acc[:, s], color="tab:grey", alpha=0.35, lw=0.7, marker=".", ms=3)
        mean = acc.mean(axis=1)
        ax.plot(xs, mean, "o", color="tab:red", ms=5, label="mean")
        ax.set_xticks(xs, labels=list(ARMS), rotation=30, fontsize=7)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{task}: {acc.shape[1]} paired seeds", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ax = axes[1, c]
        comps = doc["comparisons"]
        ys = np.arange(len(comps))[::-1]
        for y, comp in zip(ys, comps, strict=True):
            g = comp["gap_points"]
            ax.plot(g["t_ci95"], [y + 0.12, y + 0.12], color="tab:blue", lw=2)
            ax.plot(g["bootstrap_ci95"], [y - 0.12, y - 0.12], color="tab:orange", lw=2)
            ax.plot([g["mean"]], [y], "k|", ms=10)
        ax.plot([], [], color="tab:blue", lw=2, label="95 % paired t")
        ax.plot([], [], color="tab:orange", lw=2, label="95 % bootstrap")
        ax.axvline(0, color="k", lw=0.6)
        ax.axvline(2.7, color="tab:red", lw=0.8, ls="--", label="paper: 2.7 (softmax - QAMA)")
        ax.set_yticks(ys, labels=[f"{c['a']} - {c['b']}" for c in comps], fontsize=7)
        ax.set_xlabel("gap (accuracy points)")
        ax.legend(fontsize=6.5, loc="lower right")
    return save_png(fig, path)

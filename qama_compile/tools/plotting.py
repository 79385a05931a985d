"""Figures: QAMA masks beside softmax attention, and energy distributions per backend.

Matplotlib is imported lazily (:func:`qama_compile.base.optional.optional_import`) and used
through its object API with the Agg canvas, so plotting never changes the global pyplot
backend of the caller's session. Every PNG is rendered to memory and written atomically.

>>> import numpy as np, tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "masks.png"
>>> w = np.array([[1.0, 0.0, 1 / 3], [0.0, 1.0, 1.0]])
>>> att = np.full((2, 3, 3), 1 / 3)
>>> plot_masks(w, att, ["a", "b", "c"], out, title="toy") == out
True
>>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..base.atomic import atomic_write_bytes
from ..base.optional import optional_import
from ..errors import InvalidInputError

_DPI = 110


def new_figure(width: float, height: float) -> Any:
    """A matplotlib ``Figure`` on an Agg canvas (no pyplot, no global state), constrained layout."""
    optional_import("matplotlib", purpose="plots")
    figure_mod = optional_import("matplotlib.figure", purpose="plots")
    agg = optional_import("matplotlib.backends.backend_agg", purpose="plots")
    fig = figure_mod.Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    agg.FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike[str], *, dpi: float = _DPI) -> Path:
    """Render ``fig`` to PNG in memory and write it atomically (the one way figures are saved)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    target = Path(path)
    atomic_write_bytes(target, buf.getvalue())
    return target


def _finite(name: str, array: ArrayLike, ndim: int) -> NDArray[np.float64]:
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim != ndim:
        raise InvalidInputError(
            f"{name} must have {ndim} dimensions, got shape {arr.shape}",
            fix=f"pass {name} for one problem (drop the batch axis)",
            tensor=name,
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} contains NaN or infinity", fix=f"plot finite {name}", tensor=name)
    return arr


def plot_masks(
    weights: ArrayLike,
    attention: ArrayLike,
    tokens: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str = "QAMA masks vs softmax attention",
    head_labels: Sequence[str] | None = None,
    left_label: str = "QAMA mask $w_i w_j$",
    right_label: str = "softmax attention",
) -> Path:
    """PNG of the QAMA pairwise mask ``w_i w_j`` per head beside the model's attention.

    Args:
        weights: token weights ``[H, N]`` in [0, 1] (from :class:`qama_compile.SolveResult`).
        attention: ``[H, N, N]`` attention to compare with (e.g. the model's softmax).
        tokens: ``N`` token strings, used as axis labels.
        path: output PNG, written atomically.
        head_labels: one label per head (default ``head 0``, ``head 1``, ...).

    One row per head: the mask (0..1) on the left, the attention on the right, token
    labels on both axes and each token's weight ``w_i`` in the mask's row labels.
    Returns the path.
    """
    w = _finite("weights", weights, 2)
    att = _finite("attention", attention, 3)
    h, n = w.shape
    if att.shape != (h, n, n):
        raise InvalidInputError(
            f"attention must be [H, N, N] = ({h}, {n}, {n}) to match weights, got {att.shape}",
            fix="pass weights and attention of the same heads and tokens",
        )
    if len(tokens) != n:
        raise InvalidInputError(f"{len(tokens)} token labels for {n} tokens", fix="pass one label per token")
    labels = list(head_labels) if head_labels is not None else [f"head {t}" for t in range(h)]
    if len(labels) != h:
        raise InvalidInputError(f"{len(labels)} head labels for {h} heads", fix="pass one label per head")
    mask = w[:, :, None] * w[:, None, :]
    side = max(3.2, 0.42 * n + 1.6)
    fig = new_figure(2 * side + 0.6, side * h + 0.5)
    axes = fig.subplots(h, 2, squeeze=False)
    ticks = np.arange(n)
    vmax_att = float(att.max()) if att.size and att.max() > 0 else 1.0
    for t in range(h):
        for col, (data, vmax, cmap, label) in enumerate(
            ((mask[t], 1.0, "viridis", left_label), (att[t], vmax_att, "magma", right_label))
        ):
            ax = axes[t, col]
            image = ax.imshow(data, vmin=0.0, vmax=vmax, cmap=cmap, interpolation="nearest")
            ax.set_xticks(ticks, labels=list(tokens), rotation=60, ha="right", fontsize=8)
            # the mask's rows also show the token weights themselves
            rows = [f"{tok} (w={w[t, i]:.2f})" for i, tok in enumerate(tokens)] if col == 0 else list(tokens)
            ax.set_yticks(ticks, labels=rows, fontsize=8)
            ax.set_title(f"{labels[t]}: {label}", fontsize=9)
            fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(textwrap.fill(title, width=int(11 * (2 * side + 0.6))), fontsize=9)
    return save_png(fig, path)


def plot_energy_distributions(
    energies: Mapping[str, ArrayLike],
    path: str | os.PathLike[str],
    *,
    title: str = "Sample energies per backend",
    ground_energy: float | None = None,
    bins: int = 40,
) -> Path:
    """PNG of overlaid energy histograms, one per backend (name -> energies of all reads).

    ``ground_energy`` (e.g. from the exact backend) is drawn as a dashed line.

    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "energies.png"
    >>> rng = np.random.default_rng(0)
    >>> plot_energy_distributions({"sa": rng.normal(size=50), "cim": [-1.0, -0.5]}, out,
    ...                           ground_energy=-2.0).name
    'energies.png'
    """
    if not energies:
        raise InvalidInputError("no energies to plot", fix="pass at least one backend's energies")
    data = {
        name: _finite(f"energies[{name!r}]", np.atleast_1d(np.asarray(e, dtype=np.float64)), 1)
        for name, e in energies.items()
    }
    empty = [name for name, e in data.items() if e.size == 0]
    if empty:
        raise InvalidInputError(f"no energies for {empty}", fix="drop backends without samples")
    if bins < 1:
        raise InvalidInputError(f"bins must be >= 1, got {bins}", fix="pass bins >= 1")
    everything = np.concatenate(list(data.values()))
    lo, hi = float(everything.min()), float(everything.max())
    if ground_energy is not None:
        lo = min(lo, float(ground_energy))
    if hi - lo < 1e-9 * max(1.0, abs(lo)):  # all reads at one energy: a narrow window around it
        pad = 0.01 * max(1.0, abs(lo))
        lo, hi = lo - pad, hi + pad
    edges = np.linspace(lo, hi, bins + 1)
    fig = new_figure(6.4, 4.0)
    ax = fig.subplots()
    for name, e in data.items():
        ax.hist(e, bins=edges, histtype="step", linewidth=1.5, label=f"{name} ({e.size} reads, min {e.min():.4g})")
    if ground_energy is not None:
        ax.axvline(
            float(ground_energy), color="black", linestyle="--", linewidth=1, label=f"exact ground {ground_energy:.4g}"
        )
    ax.set_xlabel("energy")
    ax.set_ylabel("reads")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return save_png(fig, path)

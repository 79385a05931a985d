"""Does the head penalty induce interpretable sparsity across heads? Real MiniLM tensors, all sentences.

The paper claims that its penalty terms make heads select different tokens ("interpretable
sparsity across heads"). Here: the shipped query, key and value projections of
sentence-transformers/all-MiniLM-L6-v2 (:func:`qama_compile.datasets.load_example`; 5
sentences, 6 layers, 12 heads), every sentence of every layer, all 12 heads in one problem
per sentence, solved by the operator itself (:class:`qama_compile.nn.QAMA`: the authors'
couplings and fields, batch-normalised over the 5 sentences' real tokens as at
initialisation; sentences padded to one length with ``key_padding_mask``, padded tokens are
not in the problems). For each layer, three head penalties: 0 (off), the paper's 2 (divided,
as in the paper, by the ``H(H-1)/2 = 66`` head pairs) and 66 (one unit of energy per shared
token and head pair). Reported per layer and penalty:

* tokens selected per head (mean, and the share of heads selecting none or every token);
* overlap between heads: mean Jaccard index of the selected sets over head pairs, and the
  shared selections relative to chance (independent random sets of the same sizes);
* coverage (tokens selected by at least one head);
* the share of selections on special tokens ([CLS], [SEP], punctuation) against their share
  of the tokens;
* the correlation of each head's selection with the attention its tokens receive in
  MiniLM's own softmax attention.

Writes ``experiments/results/minilm_sparsity.json``, ``docs/figures/minilm_sparsity.png``
(per-head selections, every sentence, layers 0, 2 and 5, penalty off / paper / strong) and
``docs/figures/minilm_sparsity_summary.png`` (the numbers per layer).
"""

from __future__ import annotations

import json
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qama_compile.base.atomic import atomic_write
from qama_compile.datasets import list_examples, load_example

from .protocol import provenance

SPECIAL = {"[CLS]", "[SEP]", *string.punctuation}


@dataclass(frozen=True)
class SparsityPlan:
    """Fixed a priori: solver, bits, penalties, layers drawn."""

    bits: int = 1
    penalties: tuple[float, ...] = (0.0, 2.0, 66.0)
    backend: str = "sa"
    num_reads: int = 100
    num_sweeps: int = 1000
    check_backend: str = "cim"
    seed: int = 0
    figure_layers: tuple[int, ...] = (0, 2, 5)
    quick: bool = False


def _inputs(layer: int) -> tuple[Any, Any, Any, Any, list[tuple[str, ...]], np.ndarray]:
    """``q, k, v [S, H, Nmax, d]`` (float64, zero-padded), padding mask ``[S, Nmax]``, tokens, MiniLM attention."""
    import torch

    examples = [load_example(sentence=s, layer=layer) for s in range(len(list_examples()))]
    n_max = max(len(e.tokens) for e in examples)
    h, _, d = examples[0].q.shape
    arr = np.zeros((3, len(examples), h, n_max, d))
    att = np.zeros((len(examples), h, n_max, n_max))
    pad = np.ones((len(examples), n_max), dtype=bool)
    for s, e in enumerate(examples):
        n = len(e.tokens)
        arr[0, s, :, :n], arr[1, s, :, :n], arr[2, s, :, :n] = e.q, e.k, e.v
        att[s, :, :n, :n] = e.attention
        pad[s, :n] = False
    q, k, v = (torch.from_numpy(a) for a in arr)
    return q, k, v, torch.from_numpy(pad), [e.tokens for e in examples], att


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def selection_stats(sel: np.ndarray, tokens: list[tuple[str, ...]], attention: np.ndarray) -> dict[str, Any]:
    """Numbers behind the figure for one layer and penalty: ``sel [S, H, Nmax]`` bool (padded tokens False).

    >>> sel = np.array([[[1, 0], [0, 1]]], dtype=bool)          # one sentence, two heads, two tokens
    >>> s = selection_stats(sel, [("[CLS]", "cat")], np.full((1, 2, 2, 2), 0.5))
    >>> s["mean_tokens_per_head"], s["mean_jaccard"], s["coverage"]
    (1.0, 0.0, 1.0)
    """
    n_sent, heads, _ = sel.shape
    per_head, jac, shared, expected, cover, corr = [], [], [], [], [], []
    special_sel = special_tok = total_sel = total_tok = 0
    ti, tj = np.triu_indices(heads, 1)
    for s in range(n_sent):
        n = len(tokens[s])
        x = sel[s, :, :n]
        sizes = x.sum(axis=1)
        per_head.extend(sizes.tolist())
        inter = (x[ti] & x[tj]).sum(axis=1)
        union = (x[ti] | x[tj]).sum(axis=1)
        jac.extend((inter[union > 0] / union[union > 0]).tolist())
        shared.append(inter.sum())
        expected.append((sizes[ti] * sizes[tj] / n).sum())
        cover.append(x.any(axis=0).mean())
        special = np.array([t in SPECIAL for t in tokens[s]])
        special_sel += int(x[:, special].sum())
        total_sel += int(x.sum())
        special_tok += int(special.sum())
        total_tok += n
        received = attention[s, :, :n, :n].mean(axis=1)  # [H, n]: attention each token receives
        for t in range(heads):
            c = _corr(x[t].astype(float), received[t]) if 0 < sizes[t] < n else float("nan")
            if c == c:  # defined: the head selects some but not all tokens, and the attention varies
                corr.append(c)
    per_head_arr = np.asarray(per_head, dtype=float)
    n_tokens = np.repeat([len(t) for t in tokens], heads)
    return {
        "mean_tokens_per_head": float(per_head_arr.mean()),
        "sd_tokens_per_head": float(per_head_arr.std()),
        "tokens_per_head_by_sentence": sel.sum(axis=2).tolist(),
        "mean_density": float((per_head_arr / n_tokens).mean()),
        "share_heads_selecting_none": float((per_head_arr == 0).mean()),
        "share_heads_selecting_all": float((per_head_arr == n_tokens).mean()),
        "mean_jaccard": float(np.mean(jac)) if jac else float("nan"),
        "shared_over_chance": float(np.sum(shared) / np.sum(expected)) if np.sum(expected) > 0 else float("nan"),
        "coverage": float(np.mean(cover)),
        "special_share_of_selections": special_sel / total_sel if total_sel else float("nan"),
        "special_share_of_tokens": special_tok / total_tok,
        "mean_corr_selection_vs_attention_received": float(np.mean(corr)) if corr else float("nan"),
        "heads_with_partial_selection": len(corr),
    }


def _solve(
    plan: SparsityPlan, layer: int, penalty: float, backend: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    import torch

    from qama_compile.nn import QAMA

    q, k, v, pad, _, _ = _inputs(layer)
    options = {"num_sweeps": plan.num_sweeps} if backend == "sa" else None
    op = QAMA(
        q.shape[1],
        bits=plan.bits,
        penalty=penalty,
        backend=backend,
        backend_options={"num_threads": 1} if backend == "cim" else None,
        sample_options=options,
        num_reads=plan.num_reads,
        seed=plan.seed,
    ).double()
    with torch.no_grad():
        op(q, k, v, key_padding_mask=pad)
    assert op.last_solution is not None and op.last_solver_energy is not None
    sel = np.asarray(op.last_solution.numpy().any(axis=-1))
    return sel, op.last_solver_energy.copy(), {k: v for k, v in op.last_solve_info.items() if k != "backend_info"}


def run_sparsity(*, plan: SparsityPlan, out: str, figure: str) -> dict[str, Any]:
    """Solve every layer at every penalty; write the JSON and the figures; return a summary for the log."""
    import torch

    torch.set_num_threads(1)
    c0, t0 = time.process_time(), time.perf_counter()
    layers = (0, 5) if plan.quick else tuple(range(6))
    penalties = plan.penalties
    rows: list[dict[str, Any]] = []
    selections: dict[tuple[int, float], np.ndarray] = {}
    tokens: list[tuple[str, ...]] = []
    for layer in layers:
        _, _, _, _, tokens, attention = _inputs(layer)
        for pen in penalties:
            sel, energy, info = _solve(plan, layer, pen, plan.backend)
            _, check_energy, _ = _solve(plan, layer, pen, plan.check_backend)
            selections[(layer, pen)] = sel
            stats = selection_stats(sel, tokens, attention)
            rows.append(
                {
                    "layer": layer,
                    "penalty": pen,
                    "penalty_per_head_pair": pen / 66.0,
                    **stats,
                    "energies": energy.tolist(),
                    "check_energies": check_energy.tolist(),
                    "check_backend_lower_or_equal": bool(np.all(check_energy <= energy + 1e-9)),
                    "check_backend_strictly_lower": int(np.sum(check_energy < energy - 1e-9)),
                    "solve_info": info,
                    "selections": sel.astype(int).tolist(),
                }
            )
    doc = {
        "description": __doc__.split("\n\n")[0] if __doc__ else "",
        "plan": asdict(plan),
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "sentences": [e["sentence"] for e in list_examples()],
        "tokens": [list(t) for t in tokens],
        "layers": list(layers),
        "rows": rows,
        "provenance": provenance(),
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
    }
    with atomic_write(out, "w") as fh:
        json.dump(doc, fh, indent=1)
    fig_dir = Path(figure)
    shown = tuple(lay for lay in plan.figure_layers if lay in layers)
    _selection_figure(selections, tokens, shown, penalties, fig_dir / "minilm_sparsity.png")
    _summary_figure(rows, fig_dir / "minilm_sparsity_summary.png")
    paper = [r for r in rows if r["penalty"] == 2.0]
    off = [r for r in rows if r["penalty"] == 0.0]
    return {
        "cpu_s": time.process_time() - c0,
        "summary": f"Jaccard off {np.mean([r['mean_jaccard'] for r in off]):.2f}, "
        f"paper penalty {np.mean([r['mean_jaccard'] for r in paper]):.2f}",
    }


def _selection_figure(
    selections: dict[tuple[int, float], np.ndarray],
    tokens: list[tuple[str, ...]],
    layers: tuple[int, ...],
    penalties: tuple[float, ...],
    path: Path,
) -> None:
    from qama_compile.tools.plotting import new_figure, save_png

    cols = [(lay, pen) for lay in layers for pen in penalties]
    n_sent = len(tokens)
    fig = new_figure(2.1 * len(cols) + 0.6, 1.75 * n_sent + 0.8)
    axes = fig.subplots(n_sent, len(cols), squeeze=False)
    for c, (lay, pen) in enumerate(cols):
        sel = selections[(lay, pen)]
        for s in range(n_sent):
            ax = axes[s, c]
            n = len(tokens[s])
            ax.imshow(sel[s, :, :n], cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
            ax.set_xticks(range(n), labels=tokens[s], rotation=90, fontsize=4.5)
            ax.set_yticks([0, 5, 11], labels=["0", "5", "11"] if c == 0 else ["", "", ""], fontsize=5)
            if c == 0:
                ax.set_ylabel(f"sentence {s}\nhead", fontsize=6)
            if s == 0:
                name = {0.0: "off", 2.0: "paper (2)", 66.0: "strong (66)"}.get(pen, f"{pen:g}")
                ax.set_title(f"layer {lay}, penalty {name}", fontsize=6.5)
    fig.suptitle(
        "MiniLM-L6: tokens each of the 12 heads selects (black), lowest-energy selection found by SA, every sentence",
        fontsize=8,
    )
    save_png(fig, path)


def _summary_figure(rows: list[dict[str, Any]], path: Path) -> None:
    from qama_compile.tools.plotting import new_figure, save_png

    fig = new_figure(10, 3.0)
    axes = fig.subplots(1, 3)
    penalties = sorted({r["penalty"] for r in rows})
    metrics = (
        ("mean_tokens_per_head", "tokens selected per head"),
        ("mean_jaccard", "mean Jaccard overlap of head pairs"),
        ("shared_over_chance", "shared selections / chance"),
    )
    for ax, (key, label) in zip(axes, metrics, strict=True):
        for pen in penalties:
            rr = [r for r in rows if r["penalty"] == pen]
            ax.plot([r["layer"] for r in rr], [r[key] for r in rr], marker="o", label=f"penalty {pen:g}")
        if key == "shared_over_chance":
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("layer")
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    save_png(fig, path)

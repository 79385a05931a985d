"""QAMA masks beside MiniLM's own softmax attention, per head, on real tensors.

Takes the real query, key and value projections of one sentence and layer of
sentence-transformers/all-MiniLM-L6-v2 (shipped in ``qama_compile/data``, loaded with
:func:`qama_compile.datasets.load_example`), computes ``J`` and ``h`` exactly as
:class:`qama_compile.nn.QAMA` does (the authors' formulas, then the per-head batch norms at
initialisation: batch statistics, identity affine), builds one QAMA problem over all heads
(``H * N * bits`` binary variables, coupled by the head penalty) and solves it on the
chosen backend (:meth:`QAMA.solve`). The figure puts each head's pairwise mask ``w_i w_j``
beside the model's softmax attention; the masked-softmax attention ``A`` of
``QAMultiheadAttention(output="masked-softmax")`` (docs/operator.md) is measured against it
too. Writes:

* ``docs/figures/minilm_masks_grid.png``: all heads, mask | softmax | QAMA attention;
* ``docs/figures/minilm_masks_heads.png``: the first heads with token labels
  (:func:`qama_compile.tools.plotting.plot_masks`);
* ``experiments/results/minilm_masks.json``: per-head weights, energies, correlations.

Run::

    .venv/bin/python experiments/minilm_masks.py                 # cim backend, sentence 0, layer 2
    .venv/bin/python experiments/minilm_masks.py --backend sa --reads 32
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qama_compile.base.atomic import atomic_write
from qama_compile.datasets import load_example
from qama_compile.nn import QAMA
from qama_compile.nn.functional import energy_softmax, soft_weights
from qama_compile.tools.plotting import plot_masks

REPO = Path(__file__).resolve().parent.parent
FIG_DIR = REPO / "docs" / "figures"


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def qama_problem(op: QAMA, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-normalised ``J [1, H, N, N]`` and ``h [1, H, N]`` as the operator computes them."""
    qt, kt, vt = (torch.tensor(np.asarray(a, dtype=np.float64))[None] for a in (q, k, v))
    with torch.no_grad():
        couplings, fields, _ = op.couplings_and_fields(qt, kt, vt)
    return couplings, fields


def grid_figure(
    w: np.ndarray, softmax: np.ndarray, attn: np.ndarray, heads: tuple[int, ...], title: str, path: Path
) -> None:
    """All heads, three small panels each: QAMA mask, model softmax, QAMA attention."""
    from qama_compile.tools.plotting import new_figure, save_png

    n_heads = len(heads)
    per_row = 4
    rows = -(-n_heads // per_row)
    fig = new_figure(per_row * 3 * 1.25, rows * 1.45 + 0.6)
    axes = fig.subplots(rows, per_row * 3, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for idx, head in enumerate(heads):
        r, c = divmod(idx, per_row)
        mask = np.outer(w[idx], w[idx])
        for j, (data, name, cmap) in enumerate(
            ((mask, "mask", "viridis"), (softmax[idx], "softmax", "magma"), (attn[idx], "QAMA A", "magma"))
        ):
            ax = axes[r, 3 * c + j]
            ax.imshow(data, vmin=0, vmax=max(float(data.max()), 1e-12), cmap=cmap, interpolation="nearest")
            ax.set_title(f"h{head} {name}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    save_png(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentence", type=int, default=0)
    p.add_argument("--layer", type=int, default=2)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--backend", default="cim")
    p.add_argument(
        "--backend-options", default=None, help='JSON dict of backend options (default for cim: {"num_threads": 1})'
    )
    p.add_argument("--sample-options", default=None, help="JSON dict of sampling options (e.g. cim num_steps)")
    p.add_argument("--reads", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot-heads", type=int, default=3, help="heads drawn with token labels")
    p.add_argument("--figures", default=str(FIG_DIR))
    p.add_argument("--out", default=str(REPO / "experiments" / "results" / "minilm_masks.json"))
    args = p.parse_args(argv)
    command = "python experiments/minilm_masks.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}")
    ex = load_example(sentence=args.sentence, layer=args.layer)
    h_count, n_tok, _ = ex.q.shape
    backend_options = (
        json.loads(args.backend_options)
        if args.backend_options
        else {"num_threads": 1}
        if args.backend == "cim"
        else None
    )
    op = QAMA(
        h_count,
        bits=args.bits,
        backend=args.backend,
        backend_options=backend_options,
        sample_options=json.loads(args.sample_options) if args.sample_options else None,
        num_reads=args.reads,
        seed=args.seed,
    ).double()
    couplings, fields = qama_problem(op, ex.q, ex.k, ex.v)
    n_var = h_count * n_tok * args.bits
    print(
        f"{ex.model_name}: sentence {args.sentence} {ex.sentence!r}, layer {args.layer}, {h_count} heads, "
        f"{n_tok} tokens -> {n_var} binary variables ({h_count}*{n_tok}*{args.bits}); couplers "
        f"{h_count * (n_tok * args.bits) * (n_tok * args.bits - 1) // 2} in the per-head dense blocks + "
        f"{h_count * (h_count - 1) // 2 * n_tok * args.bits} head-penalty"
    )
    t0 = time.perf_counter()
    x = op.solve(couplings, fields)
    solve_s = time.perf_counter() - t0
    info, energy = op.last_solve_info, op.last_solver_energy
    assert energy is not None
    w_t = soft_weights(x)
    attn = energy_softmax(couplings, fields, w_t, w_t)[0].numpy()
    w = w_t[0].numpy()
    mask = w[:, :, None] * w[:, None, :]
    soft = np.asarray(ex.attention)
    per_head = []
    for t in range(h_count):
        per_head.append(
            {
                "head": ex.heads[t],
                "weights": [round(float(a), 4) for a in w[t]],
                "selected_tokens": [tok for tok, a in zip(ex.tokens, w[t], strict=True) if a > 0],
                "corr_mask_vs_softmax": _corr(mask[t], soft[t]),
                "corr_qama_attention_vs_softmax": _corr(attn[t], soft[t]),
                "corr_w_vs_attention_received": _corr(w[t], soft[t].mean(axis=0)),
            }
        )
        print(
            f"head {ex.heads[t]:2d}: w = {np.array2string(w[t], precision=2, max_line_width=200)}  "
            f"corr(mask, softmax) {per_head[-1]['corr_mask_vs_softmax']:+.2f}  "
            f"corr(A, softmax) {per_head[-1]['corr_qama_attention_vs_softmax']:+.2f}  "
            f"corr(w, attention received) {per_head[-1]['corr_w_vs_attention_received']:+.2f}"
        )
    print(
        f"energy {float(energy[0]):.4f}; solve {solve_s:.3f} s on {args.backend} ({info['path']} path, "
        f"{args.reads} reads)"
    )
    fig_dir = Path(args.figures)
    title = (
        f"MiniLM-L6 layer {args.layer}, '{ex.sentence}': QAMA mask w_i w_j | model softmax | QAMA attention A "
        f"({args.backend}, bits {args.bits})"
    )
    grid_figure(w, soft, attn, ex.heads, title, fig_dir / "minilm_masks_grid.png")
    k = min(args.plot_heads, h_count)
    plot_masks(
        w[:k],
        soft[:k],
        list(ex.tokens),
        fig_dir / "minilm_masks_heads.png",
        title=f"MiniLM-L6 layer {args.layer}: QAMA masks vs the model's softmax attention ({args.backend})",
        head_labels=[f"head {h}" for h in ex.heads[:k]],
    )
    result: dict[str, Any] = {
        "command": command,
        "model": ex.model_name,
        "sentence": ex.sentence,
        "layer": args.layer,
        "tokens": list(ex.tokens),
        "bits": args.bits,
        "backend": args.backend,
        "reads": args.reads,
        "num_variables": n_var,
        "energy": float(energy[0]),
        "solve_s": solve_s,
        "solve_path": info["path"],
        "heads": per_head,
        "mean_corr_mask_vs_softmax": float(np.mean([h["corr_mask_vs_softmax"] for h in per_head])),
        "mean_corr_qama_attention_vs_softmax": float(np.mean([h["corr_qama_attention_vs_softmax"] for h in per_head])),
        "mean_corr_w_vs_attention_received": float(np.mean([h["corr_w_vs_attention_received"] for h in per_head])),
        "solve_info": {k: v for k, v in info.items() if k != "backend_info"},
    }
    with atomic_write(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {fig_dir / 'minilm_masks_grid.png'}, {fig_dir / 'minilm_masks_heads.png'}, {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

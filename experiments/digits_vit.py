"""Softmax attention vs QAMA attention in a small vision transformer on real handwritten digits.

scikit-learn's bundled ``digits`` data set (1,797 real 8x8 images, 10 classes), split once
80/20 (stratified, ``random_state=0``). Each image is cut into patches (tokens); a one-block
ViT (patch embedding + positions, pre-norm attention, MLP, mean pool, linear head) is
trained with ``torch.nn.MultiheadAttention`` and with
:class:`qama_compile.nn.QAMultiheadAttention` of the same width and heads, under the same
budget (epochs, batch size, optimiser, learning rate, gradient clipping), for each seed.
Prints test accuracy mean and std for both and the gap, with the wall time, and writes
``experiments/results/digits_vit.json`` (atomically).

Run (the command the docs quote)::

    .venv/bin/python experiments/digits_vit.py            # cim backend, 3 seeds, <= 15 min on 2 cores
    .venv/bin/python experiments/digits_vit.py --backend sa --reads 4 --epochs 2 --seeds 1   # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from qama_compile.base.atomic import atomic_write
from qama_compile.nn import QAMA, QAMultiheadAttention

ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "results" / "digits_vit.json"


def load_patches(patch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits as patch tokens ``[n, (8/patch)^2, patch^2]`` in [0, 1]; fixed stratified 80/20 split."""
    data = load_digits()
    images = data.images.astype(np.float32) / 16.0  # [n, 8, 8]
    g = 8 // patch
    tokens = images.reshape(-1, g, patch, g, patch).transpose(0, 1, 3, 2, 4).reshape(-1, g * g, patch * patch)
    x_tr, x_te, y_tr, y_te = train_test_split(tokens, data.target, test_size=0.2, stratify=data.target, random_state=0)
    return torch.from_numpy(x_tr), torch.from_numpy(x_te), torch.from_numpy(y_tr).long(), torch.from_numpy(y_te).long()


class TinyViT(nn.Module):
    """Patch embedding + learned positions, one pre-norm transformer block, mean pool, linear head."""

    def __init__(self, attention: nn.Module, *, patch_dim: int, tokens: int, embed: int, mlp: int = 64) -> None:
        super().__init__()
        self.embed = nn.Linear(patch_dim, embed)
        self.pos = nn.Parameter(0.02 * torch.randn(1, tokens, embed))
        self.ln1, self.ln2, self.ln_f = nn.LayerNorm(embed), nn.LayerNorm(embed), nn.LayerNorm(embed)
        self.attn = attention
        self.mlp = nn.Sequential(nn.Linear(embed, mlp), nn.GELU(), nn.Linear(mlp, embed))
        self.head = nn.Linear(embed, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.pos
        y = self.ln1(h)
        a, _ = self.attn(y, y, y, need_weights=False)
        h = h + a
        h = h + self.mlp(self.ln2(h))
        out: torch.Tensor = self.head(self.ln_f(h).mean(dim=1))
        return out


def backend_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Constructor options of the backend (default for cim: one BLAS thread)."""
    if args.backend_options is not None:
        opts: dict[str, Any] = json.loads(args.backend_options) if args.backend_options else {}
        return opts
    return {"num_threads": 1} if args.backend == "cim" else None


def sample_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Options of every sampling call (default for cim: 300 round trips)."""
    if args.sample_options is not None:
        opts: dict[str, Any] = json.loads(args.sample_options) if args.sample_options else {}
        return opts
    return {"num_steps": 300} if args.backend == "cim" else None


class AllSelectedQAMA(QAMA):
    """Ablation without a solver: every bit set (``w = 1`` for all tokens), same energy and output."""

    def solve(self, couplings: torch.Tensor, fields: torch.Tensor, **options: Any) -> torch.Tensor:
        b, h, _, n = couplings.shape
        return torch.ones(b, h, n, self.bits, dtype=torch.int8, device=couplings.device)


def make_attention(kind: str, args: argparse.Namespace, seed: int) -> nn.Module:
    if kind == "softmax":
        return nn.MultiheadAttention(args.embed, args.heads, batch_first=True)
    if args.backend == "all-selected":
        layer = QAMultiheadAttention(
            args.embed, args.heads, batch_first=True, output=args.output, bits=args.bits, backend="exact"
        )
        layer.qama = AllSelectedQAMA(args.heads, bits=args.bits, backend="exact")
        return layer
    return QAMultiheadAttention(
        args.embed,
        args.heads,
        batch_first=True,
        output=args.output,
        bits=args.bits,
        backend=args.backend,
        num_reads=args.reads,
        backend_options=backend_options(args),
        sample_options=sample_options(args),
        seed=1000 * seed,
    )


def run_one(kind: str, seed: int, data: tuple[torch.Tensor, ...], args: argparse.Namespace) -> dict[str, Any]:
    """Train one model from scratch and return its test accuracy and timings."""
    x_tr, x_te, y_tr, y_te = data
    torch.manual_seed(seed)
    model = TinyViT(make_attention(kind, args, seed), patch_dim=x_tr.shape[2], tokens=x_tr.shape[1], embed=args.embed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(x_tr.shape[0], generator=gen)
        for start in range(0, x_tr.shape[0], args.batch):
            idx = order[start : start + args.batch]
            if idx.numel() < 2:  # batch norm needs two items
                continue
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        if args.verbose:
            print(
                f"    {kind} seed {seed} epoch {epoch + 1}: last batch loss {loss.item():.3f} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    t1 = time.perf_counter()
    with torch.no_grad():
        pred = torch.cat([model(x_te[s : s + 512]).argmax(1) for s in range(0, x_te.shape[0], 512)])
    eval_s = time.perf_counter() - t1
    acc = float((pred == y_te).float().mean())
    out: dict[str, Any] = {
        "kind": kind,
        "seed": seed,
        "test_accuracy": acc,
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "eval_s": eval_s,
        "final_train_loss": float(loss.item()),
    }
    if isinstance(model.attn, QAMultiheadAttention):
        out.update(
            solve_calls=model.attn.solve_calls,
            solve_total_s=model.attn.total_solve_time_s,
            solve_path=model.attn.last_solve_info.get("path"),
            mean_selected_weight=float(model.attn.last_weights.mean()) if model.attn.last_weights is not None else None,
        )
    print(
        f"  {kind:8s} seed {seed}: test acc {acc:.4f}  (train {train_s:.1f} s, eval {eval_s:.2f} s"
        + (
            f", solver {out['solve_total_s']:.1f} s in {out['solve_calls']} calls, path {out['solve_path']}"
            if "solve_calls" in out
            else ""
        )
        + ")",
        flush=True,
    )
    return out


def attention_cost(args: argparse.Namespace, tokens: int, repeats: int = 10) -> dict[str, float]:
    """Per-call time of the attention layers alone on one training batch ``[batch, tokens, embed]``.

    Softmax: ``nn.MultiheadAttention`` forward. QAMA: the full forward, and of it the
    solver call alone (``last_solve_time_s``). Median over ``repeats`` calls, in seconds.
    """
    torch.manual_seed(0)
    x = torch.randn(args.batch, tokens, args.embed)
    soft = nn.MultiheadAttention(args.embed, args.heads, batch_first=True).eval()
    qama = make_attention("qama", args, 0).eval()
    assert isinstance(qama, QAMultiheadAttention)
    t_soft, t_qama, t_solve = [], [], []
    with torch.no_grad():
        for _ in range(repeats):
            t = time.perf_counter()
            soft(x, x, x, need_weights=False)
            t_soft.append(time.perf_counter() - t)
            t = time.perf_counter()
            qama(x, x, x, need_weights=False)
            t_qama.append(time.perf_counter() - t)
            t_solve.append(qama.last_solve_time_s)
    return {
        "softmax_forward_s": float(np.median(t_soft)),
        "qama_forward_s": float(np.median(t_qama)),
        "qama_solve_s": float(np.median(t_solve)),
        "batch": args.batch,
        "repeats": repeats,
        "solve_path": str(qama.last_solve_info.get("path")),
    }


def plot_results(result: dict[str, Any], path: str | Path) -> Path:
    """Bar chart: test accuracy per seed (softmax vs QAMA) and the per-call attention cost."""
    from qama_compile.tools.plotting import new_figure, save_png

    fig = new_figure(9, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    seeds = sorted({r["seed"] for r in result["runs"]})
    for off, kind, color in ((-0.2, "softmax", "tab:blue"), (0.2, "qama", "tab:orange")):
        acc = [100 * r["test_accuracy"] for s in seeds for r in result["runs"] if r["seed"] == s and r["kind"] == kind]
        summary = result[kind]
        ax1.bar(
            np.array(seeds) + off,
            acc,
            width=0.4,
            color=color,
            label=f"{kind}: {100 * summary['mean']:.1f} +- {100 * summary['std']:.1f} %",
        )
    lo = min(100 * r["test_accuracy"] for r in result["runs"])
    ax1.set_ylim(max(0.0, lo - 10), 100)
    ax1.set_xticks(seeds, labels=[f"seed {s}" for s in seeds])
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title(f"digits ViT: gap {result['gap_points']:.2f} points", fontsize=9)
    ax1.legend(fontsize=8, loc="lower right")
    cost = result["attention_cost"]
    names = ["softmax MHA", "QAMA (torch part)", "QAMA solver"]
    values = [
        1e3 * cost["softmax_forward_s"],
        1e3 * (cost["qama_forward_s"] - cost["qama_solve_s"]),
        1e3 * cost["qama_solve_s"],
    ]
    ax2.barh(names, values, color=["tab:blue", "tab:orange", "tab:red"])
    ax2.set_xscale("log")
    ax2.set_xlabel(f"ms per forward call (batch {cost['batch']}, median of {cost['repeats']})")
    ax2.set_title(f"solver in the loop ({result['config']['backend']}, {cost['solve_path']} path)", fontsize=9)
    for i, val in enumerate(values):
        ax2.text(val, i, f" {val:.2f}", va="center", fontsize=8)
    return save_png(fig, path)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def summarise(runs: list[dict[str, Any]], kind: str) -> dict[str, float]:
    acc = np.array([r["test_accuracy"] for r in runs if r["kind"] == kind])
    return {"mean": float(acc.mean()), "std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0, "n": int(acc.size)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--backend",
        default="cim",
        help="QAMA backend (default cim); 'all-selected' is the solver-free ablation (w = 1)",
    )
    p.add_argument(
        "--backend-options",
        default=None,
        help='JSON dict of backend constructor options (default for cim: {"num_threads": 1}: one BLAS thread, '
        "measured fastest on a shared machine)",
    )
    p.add_argument(
        "--sample-options",
        default=None,
        help='JSON dict of sampling options (default for cim: {"num_steps": 300}: about half the default round trips)',
    )
    p.add_argument(
        "--output",
        default="paper",
        choices=("paper", "masked-softmax"),
        help="QAMA output combination: the authors' (default) or our masked-softmax variant",
    )
    p.add_argument("--bits", type=int, default=2)
    p.add_argument("--reads", type=int, default=4)
    p.add_argument("--patch", type=int, default=2, choices=(2, 4), help="patch side: 2 -> 16 tokens, 4 -> 4 tokens")
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared 2-core machine 2 threads measured 30x more CPU)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--verbose", action="store_true", help="print the loss after every epoch")
    p.add_argument("--figure", default=str(ROOT.parent / "docs" / "figures" / "operator_digits.png"))
    p.add_argument("--plot-from", default=None, help="only redraw the figure from a results JSON")
    args = p.parse_args(argv)
    if args.plot_from:
        print(f"wrote {plot_results(json.loads(Path(args.plot_from).read_text()), args.figure)}")
        return 0
    torch.set_num_threads(args.threads)
    command = "python experiments/digits_vit.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"command: {command}", flush=True)
    data = load_patches(args.patch)
    tokens = data[0].shape[1]
    print(
        f"digits: {data[0].shape[0]} train / {data[1].shape[0]} test images, {tokens} tokens of "
        f"{data[0].shape[2]} pixels; ViT embed {args.embed}, heads {args.heads}; {args.epochs} epochs, "
        f"batch {args.batch}, AdamW lr {args.lr}; QAMA: backend {args.backend}, bits {args.bits}, "
        f"reads {args.reads}, {args.heads * tokens * args.bits} binary variables per image",
        flush=True,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    runs: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        for kind in ("softmax", "qama"):
            runs.append(run_one(kind, seed, data, args))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cost = attention_cost(args, tokens)
    print(
        f"attention cost per call (batch {cost['batch']}, median of {cost['repeats']}): softmax "
        f"{1e3 * cost['softmax_forward_s']:.2f} ms; QAMA {1e3 * cost['qama_forward_s']:.2f} ms of which solver "
        f"{1e3 * cost['qama_solve_s']:.2f} ms ({cost['solve_path']} path)"
    )
    soft, qama = summarise(runs, "softmax"), summarise(runs, "qama")
    gap = 100 * (soft["mean"] - qama["mean"])
    print(f"softmax attention: test accuracy {100 * soft['mean']:.2f} +- {100 * soft['std']:.2f} % ({soft['n']} seeds)")
    print(
        f"QAMA ({args.backend}):    test accuracy {100 * qama['mean']:.2f} +- {100 * qama['std']:.2f} % "
        f"({qama['n']} seeds)"
    )
    print(f"gap (softmax - QAMA): {gap:.2f} points (paper claims <= 2.7)")
    print(
        f"total wall time {wall:.1f} s, CPU time {cpu:.1f} s (torch threads {args.threads}; "
        f"load average at the end {_load()})"
    )
    result = {
        "command": command,
        "config": vars(args),
        "tokens": tokens,
        "runs": runs,
        "softmax": soft,
        "qama": qama,
        "gap_points": gap,
        "wall_time_s": wall,
        "cpu_time_s": cpu,
        "load_average_end": _load(),
        "attention_cost": cost,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with atomic_write(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.out} and {plot_results(result, args.figure)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

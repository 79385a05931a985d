"""The PyTorch operator's torch side (issue 11): forward + backward without the solver.

For each shape, in one run and interleaved (round-robin, so machine load hits all alike):

* ``torch.nn.MultiheadAttention`` forward + backward (the softmax reference);
* ``QAMA`` forward + backward with a fixed solution (``solution=``: the solver is not
  timed here), with the blocked JS coupling and its analytic backward (the default);
* the same with the JS coupling as plain autograd over the whole ``[B, H, N, N, d]``
  workspace (the authors' way), swapped in for the measurement only.

Prints medians, min-max spreads and ratios, and the peak memory each variant adds (measured
in a fresh subprocess per variant, ``VmHWM`` after minus before); writes
``benchmarks/results/operator.json`` atomically. The two QAMA variants are checked to give the
same output and gradients before timing.

Run: ``python benchmarks/bench_operator.py`` (``--quick`` for a smoke run). Needs torch only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, fmt_time, limit_threads, machine_info, table, write_json

SHAPES = [(64, 2, 16, 16), (32, 4, 64, 16), (8, 8, 128, 32)]  # (B, H, N, d)
QUICK_SHAPES = [(16, 2, 16, 8)]
VARIANTS = ("softmax-mha", "qama-blocked", "qama-plain")


def _plain_js(q: Any, k: Any, *, eps: float = 1e-6) -> Any:
    """The authors' formula with plain autograd (whole workspace)."""
    import torch

    p, r = torch.softmax(q, -1).unsqueeze(-2), torch.softmax(k, -1).unsqueeze(-3)
    m = 0.5 * (p + r)
    return 0.5 * (p * torch.log2(p / (m + eps) + eps)).sum(-1) + 0.5 * (r * torch.log2(r / (m + eps) + eps)).sum(-1)


def _setup(variant: str, shape: tuple[int, int, int, int], seed: int = 0) -> Any:
    """A closure running one forward + backward of ``variant`` on ``shape``."""
    import torch

    from qama_compile.nn import QAMA
    from qama_compile.nn import functional as fn
    from qama_compile.nn import operator as op_module

    b, h, n, d = shape
    g = torch.Generator().manual_seed(seed)
    if variant == "softmax-mha":
        mha = torch.nn.MultiheadAttention(h * d, h, batch_first=True)
        x = torch.randn(b, n, h * d, generator=g, requires_grad=True)

        def run_mha() -> None:
            mha(x, x, x, need_weights=False)[0].square().mean().backward()

        return run_mha
    qama = QAMA(h, bits=2, backend="exact")
    q, k, v = (torch.randn(b, h, n, d, generator=g, requires_grad=True) for _ in range(3))
    x_fixed = torch.randint(0, 2, (b, h, n, 2), generator=g, dtype=torch.int8)
    js = fn.js_coupling if variant == "qama-blocked" else _plain_js

    def run_qama() -> None:
        saved = op_module.js_coupling
        op_module.js_coupling = js
        try:
            qama(q, k, v, solution=x_fixed).square().mean().backward()
        finally:
            op_module.js_coupling = saved

    return run_qama


def _check_same(shape: tuple[int, int, int, int]) -> float:
    """Largest difference of output and input gradients between the two QAMA variants."""
    import torch

    from qama_compile.nn import QAMA
    from qama_compile.nn import functional as fn
    from qama_compile.nn import operator as op_module

    b, h, n, d = shape
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(b, h, n, d, generator=g, dtype=torch.float64) for _ in range(3))
    x = torch.randint(0, 2, (b, h, n, 2), generator=g, dtype=torch.int8)
    results = []
    for js in (fn.js_coupling, _plain_js):
        op_module.js_coupling = js
        qs = [t.clone().requires_grad_() for t in (q, k, v)]
        out = QAMA(h, bits=2, backend="exact").double()(*qs, solution=x)
        out.square().mean().backward()
        results.append([out.detach(), *(t.grad for t in qs)])
    op_module.js_coupling = fn.js_coupling
    return max(float((a - c).abs().max()) for a, c in zip(*results, strict=True))


def _peak_rss_kib() -> int:
    """This process's peak resident set (``VmHWM``; unlike ``ru_maxrss`` it is not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:  # pragma: no cover - not Linux
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _memory_child(variant: str, shape: list[int]) -> None:
    """Subprocess entry: print the peak RSS one call of ``variant`` adds, in MiB."""
    limit_threads(1)
    run = _setup(variant, (shape[0], shape[1], shape[2], shape[3]))
    before = _peak_rss_kib()
    run()
    print(json.dumps({"peak_mib": (_peak_rss_kib() - before) / 1024}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one small shape, 3 repeats")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--out", default=str(RESULTS_DIR / "operator.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 3
    import torch

    limit_threads(1)
    torch.manual_seed(0)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    info = machine_info()
    rows, records = [], []
    for shape in shapes:
        diff = _check_same(shape)
        runs = {v: _setup(v, shape) for v in VARIANTS}
        for run in runs.values():  # warm-up
            run()
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.repeats):
            for v in VARIANTS:
                t0 = time.perf_counter()
                runs[v]()
                times[v].append(time.perf_counter() - t0)
        memory = {}
        for v in VARIANTS:
            res = subprocess.run(
                [sys.executable, __file__, "--memory-child", v, *map(str, shape)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            memory[v] = json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]
        med = {v: float(np.median(t)) for v, t in times.items()}
        record = {
            "shape": dict(zip(("B", "H", "N", "d"), shape, strict=True)),
            "max_abs_difference_blocked_vs_plain": diff,
            "seconds": times,
            "median_s": med,
            "peak_mib": memory,
            "ratio_plain_over_blocked": med["qama-plain"] / med["qama-blocked"],
            "ratio_blocked_over_mha": med["qama-blocked"] / med["softmax-mha"],
        }
        records.append(record)
        for v in VARIANTS:
            rows.append(
                [
                    "x".join(map(str, shape)),
                    v,
                    fmt_time(med[v]),
                    f"{fmt_time(min(times[v]))} - {fmt_time(max(times[v]))}",
                    f"{memory[v]:.0f}",
                ]
            )
        print(
            f"B,H,N,d={shape}: plain / blocked = {record['ratio_plain_over_blocked']:.2f}x, blocked / MHA = "
            f"{record['ratio_blocked_over_mha']:.0f}x; max |blocked - plain| (float64) = {diff:.1e}",
            flush=True,
        )
    print(table(["B x H x N x d", "variant", "median", "min - max", "peak MiB"], rows))
    info["loadavg_at_end"] = list(os.getloadavg())
    print(f"load average: start {info['loadavg_at_start']}, end {info['loadavg_at_end']}; {args.repeats} repeats")
    write_json(Path(args.out), {"machine": info, "repeats": args.repeats, "results": records})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        _memory_child(sys.argv[2], [int(a) for a in sys.argv[3:7]])
    else:
        raise SystemExit(main())

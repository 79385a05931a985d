"""The largest QAMA problem each shipped target holds without loss, for docs/passes.md.

For every target, selection width q and head count H, the script lowers random Gaussian
Q, K, V (d = 64, seed 0, the default standardised normalisation) for growing token counts
N on a fixed grid, stops at the first N that does not fit the target by size *and* by
coupler precision (``Target.fit`` with the default ``max_zeroed_fraction``: at most 5% of
the non-zero couplers may round to zero), then bisects between the last grid point that
fits and that one. The largest N found is then compiled for real (``qama_compile.compile``
without ``allow_precision_loss``) to confirm it. ``fits=None`` (only an embedding attempt
can tell: above an annealer's largest clique) counts as not fitting.

CIM targets are measured twice: with the fields split over ancilla spins (``field_ancillas="auto"``,
the default) and on one ancilla (``field_ancillas=1``, the layout before this option), which is
the effect of the splitting. Analog targets (D-Wave) have no DAC model: their limit is size.
A second table gives the DAC bits the shipped MiniLM-L6 layers need (12 heads, 11 tokens), a
third what decomposing by head does to them.

Run (about 11 minutes on 2 cores; ``--targets a,b`` for a subset, ``--no-minilm``):

    PYTHONPATH=.pypath python scripts/precision_table.py > precision_table.md
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from qama_compile import compile, lower_attention
from qama_compile.base.memory import physical_memory
from qama_compile.core.lowering import estimate_lowering_bytes
from qama_compile.datasets import load_example
from qama_compile.errors import QamaError
from qama_compile.targets import get_target

TARGETS = ("dwave-advantage", "dwave-advantage2", "chimera-c16", "ibm-heron", "aer-statevector", "cim-550", "cim-100k")
GRID = (2, 4, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
HEADS = (1, 2, 4, 12)
BITS = (1, 2, 3, 4)
DIM = 64


def _problem(heads: int, tokens: int, bits: int) -> Any:
    q, k, v = np.random.default_rng(0).normal(size=(3, heads, tokens, DIM))
    return lower_attention(q, k, v, bits=bits)


def largest_tokens(target: str, heads: int, bits: int, ancillas: str | int) -> tuple[int | None, str]:
    """(largest N on the grid that fits, why the next one does not)."""
    tgt = get_target(target)

    def fits(n: int) -> tuple[bool, str]:
        fit = tgt.fit(_problem(heads, n, bits).ir, field_ancillas=ancillas)
        return fit.fits is True, f"N = {n}: {fit.reason}"

    best, why, fail = None, f"still fits at N = {GRID[-1]} (the grid's end)", None
    for n in GRID:
        if estimate_lowering_bytes(1, heads, n, DIM, bits) > physical_memory() // 4:
            why = f"N = {n} not measured (memory)"
            break
        ok, reason = fits(n)
        if not ok:
            why, fail = reason, n
            break
        best = n
    if best is not None and fail is not None:  # bisect between the last fit and the first failure
        lo, hi = best, fail
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok, reason = fits(mid)
            lo, hi = (mid, hi) if ok else (lo, mid)
            if not ok:
                why = reason
        best = lo
    return best, why


def confirm(target: str, heads: int, tokens: int, bits: int, ancillas: str | int) -> str:
    try:
        cp = compile(_problem(heads, tokens, bits), target=target, seed=0, field_ancillas=ancillas)
    except QamaError as exc:
        return f"compile refused: {type(exc).__name__}"
    return f"compiled: {cp.num_qubits} qubits, {cp.summary()['physical_couplers']} non-zero couplers"


def frontier_table(targets: tuple[str, ...] = TARGETS) -> list[str]:
    lines = [
        "| target | ancillas | q | " + " | ".join(f"H={h}" for h in HEADS) + " |",
        "|---|---|---|" + "---|" * len(HEADS),
    ]
    notes = []
    for target in targets:
        variants: tuple[str | int, ...] = ("auto", 1) if get_target(target).kind == "cim" else ("auto",)
        for ancillas in variants:
            for bits in BITS:
                cells = []
                for heads in HEADS:
                    t0 = time.perf_counter()
                    n, why = largest_tokens(target, heads, bits, ancillas)
                    check = confirm(target, heads, n, bits, ancillas) if n else "-"
                    cells.append("-" if n is None else (f">= {n}" if "grid's end" in why else str(n)))
                    notes.append(f"{target} ancillas={ancillas} q={bits} H={heads}: N={n}; {why}; {check}")
                    print(f"# {notes[-1]} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
                label = ancillas if get_target(target).kind == "cim" else "-"
                lines.append(f"| {target} | {label} | {bits} | " + " | ".join(cells) + " |")
    return (
        lines
        + ["", "<details><summary>why each frontier stops, and the confirming compile</summary>", ""]
        + [f"- {n}" for n in notes]
        + ["", "</details>"]
    )


def minilm_table() -> list[str]:
    lines = [
        "| target | ancillas | q | DAC bits needed (worst of 30 layers) | share zeroed at 8 bits (worst) | fits |",
        "|---|---|---|---|---|---|",
    ]
    layers = [load_example(sentence=s, layer=layer) for s in range(5) for layer in range(6)]
    for target in ("cim-550", "cim-100k"):
        tgt = get_target(target)
        for ancillas in ("auto", 1):
            for bits in BITS:
                worst_bits, worst_share, fits = 0, 0.0, 0
                for ex in layers:
                    p = lower_attention(ex.q, ex.k, ex.v, bits=bits)
                    fit = tgt.fit(p.ir, field_ancillas=ancillas)
                    prec = fit.precision
                    assert prec is not None
                    worst_bits = max(worst_bits, prec.bits_needed)
                    worst_share = max(worst_share, prec.zeroed_fraction)
                    fits += fit.fits is True
                lines.append(
                    f"| {target} | {ancillas} | {bits} | {worst_bits} | {100 * worst_share:.3g}% | {fits}/30 |"
                )
    return lines


def per_head_table() -> list[str]:
    """Does decomposing by head buy precision? Each head of the 12-head, 64-token problem with the
    other heads fixed at 0 (the first block of a by-head decomposition), against the whole problem."""
    from qama_compile.passes.reduce import condition

    tgt = get_target("cim-100k")
    lines = [
        "| q | whole: zeroed at 8 bits | whole: bits needed | one head: zeroed (12 heads) | one head: bits needed |",
        "|---|---|---|---|---|",
    ]
    for bits in (2, 3, 4):
        problem = _problem(12, 64, bits)
        whole = tgt.precision(problem.ir)
        v = problem.ir.num_variables
        per = v // 12
        shares, needed = [], []
        for head in range(12):  # 12 heads: one conditioned subproblem each
            others = np.setdiff1d(np.arange(v), np.arange(head * per, (head + 1) * per))
            sub = tgt.precision(condition(problem.ir, others, np.zeros(others.size)))
            shares.append(sub.zeroed_fraction)
            needed.append(sub.bits_needed)
        lines.append(
            f"| {bits} | {100 * whole.zeroed_fraction:.3g}% | {whole.bits_needed} | "
            f"{100 * min(shares):.3g}-{100 * max(shares):.3g}% | {min(needed)}-{max(needed)} |"
        )
    return lines


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of the targets")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM table")
    parser.add_argument("--no-frontier", action="store_true", help="skip the frontier table")
    args = parser.parse_args()
    targets = tuple(t for t in args.targets.split(",") if t)
    t0 = time.perf_counter()
    if not args.no_frontier:
        print("Largest N (tokens) that fits without loss, random Gaussian Q, K, V (d = 64, seed 0), standardised:\n")
        print("\n".join(frontier_table(targets)))
    if not args.no_minilm:
        print("\nShipped MiniLM-L6 layers (5 sentences x 6 layers, 12 heads, 11 tokens each), standardised:\n")
        print("\n".join(minilm_table()))
    print("\nDecomposing by head, cim-100k, H=12, N=64 (random, seed 0), field ancillas 'auto':\n")
    print("\n".join(per_head_table()))
    print(f"\n(generated by scripts/precision_table.py in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

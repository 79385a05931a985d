"""``qama inspect``: variable and coupler counts, density, dynamic range and memory.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["inspect", "--random", "1,2,4,8", "--target", "a", "--target", "b", "--json"])
>>> args.target, args.json, args.wide, args.max_zeroed_fraction, args.field_ancillas
(['a', 'b'], True, False, 0.05, 'auto')
>>> parse_sweep("tokens=8,16,32")
('tokens', [8, 16, 32])
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from ..base.atomic import check_output_path
from ..base.jsonutil import dumps_json
from ..base.memory import summary_bytes
from ..core.problem import problem_summary
from ..core.summary import SUMMARY_NOTES
from ..errors import InvalidInputError
from ..tools import target_report
from ..tools.tables import format_kv, format_table
from .common import StageBytes, add_input_arguments, check_plan, load_input
from .precision import add_precision_arguments

EXAMPLES = """\
examples:
  qama inspect --random 1,2,4,8 --seed 0 --bits 4      # the summary table
  qama inspect qkv.npz --bits 2 --json                 # the same as JSON
  qama inspect example --heads 12 --bits 4             # a real MiniLM layer, all 12 heads
  qama inspect example --target advantage --target cim-550      # per-target qubits and fit
  qama inspect --random 1,12,64,64 --bits 4 --target cim-100k    # fit on size and coupler precision
  qama inspect --random 1,12,64,64 --bits auto --target cim-100k # the largest bits that fit
  qama inspect example --sweep tokens=8,16,32,64 --plot sweep.png   # how counts grow with N

Counts (per problem): variables = H*N*q; couplers per head = (Nq)(Nq-1)/2 (dense);
head penalty = H(H-1)/2*N*q; density = couplers / (V(V-1)/2). h and J ranges are of the
Ising form that annealers are programmed with. Softmax attention memory = B*H*N*N*8 bytes.
Per target: fits (size and coupler precision), physical qubits, non-zero physical couplers
after quantization, max chain length, the target's coupler DAC bits and the bits the
couplers need, the share rounded to zero, the largest N and the largest bits that fit;
reasons and fixes follow the table. --wide prints every column.
"""


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``'tokens=8,16'`` -> ``('tokens', [8, 16])``."""
    name, sep, values = text.partition("=")
    try:
        parsed = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        parsed = []
    if not sep or not name.strip() or not parsed:
        raise InvalidInputError(f"--sweep {text!r} is not PARAM=V1,V2,...", fix="pass e.g. --sweep tokens=8,16,32")
    if min(parsed) < 1 or (name.strip() == "bits" and max(parsed) > 8):
        raise InvalidInputError(
            f"--sweep {text!r} has values out of range (sizes are >= 1; bits are 1..8)",
            fix="pass e.g. --sweep tokens=8,16,32 or --sweep bits=1,2,4",
        )
    return name.strip(), parsed


_SWEEP_COLUMNS = ("heads", "tokens", "bits", "logical_variables", "logical_couplers", "softmax_scores")
#: Short headers for the default target table (--wide and --json keep the full names).
_SHORT = {
    "physical_qubits": "qubits",
    "physical_couplers": "couplers",
    "max_chain_length": "chain",
    "coupler_bits": "dac_bits",
    "bits_needed": "bits_needed",
    "zeroed_fraction": "zeroed",
    "largest_tokens": "max_N",
    "largest_bits": "max_bits",
}


def _percent_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``zeroed_fraction`` as a percentage string for the table (JSON keeps the number)."""
    return [
        {**r, "zeroed_fraction": f"{100 * r['zeroed_fraction']:.3g}%"} if r.get("zeroed_fraction") is not None else r
        for r in rows
    ]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="print variables (H*N*q), couplers, density, dynamic range and memory of a problem",
        description="Lower the input and print its size before you buy machine time: variables H*N*q, "
        "dense couplers per head, head-penalty couplers, density, non-zero couplers, the dynamic "
        "range of the Ising h and J, and memory beside softmax attention's N^2. With --target, "
        "also the physical qubits and fit per hardware target; with --sweep, how counts scale.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="T",
        help="also inspect hardware target T (repeatable; qama_compile.tools.target_report)",
    )
    parser.add_argument(
        "--sweep",
        default=None,
        metavar="PARAM=V1,V2",
        help="sweep tokens, heads or bits, e.g. tokens=8,16,32 (qama_compile.tools.target_report)",
    )
    parser.add_argument("--plot", default=None, metavar="PNG", help="with --sweep: also write the sweep plot here")
    parser.add_argument("--wide", action="store_true", help="print every column of the target and sweep tables")
    add_precision_arguments(parser, allow_loss=False)
    parser.set_defaults(func=run)


def stage_bytes(args: argparse.Namespace) -> StageBytes:
    """Bytes of summarising a lowered problem of a given shape."""

    def stage(b: int, h: int, n: int, bits: int) -> int:
        return summary_bytes(batch=b, heads=h, tokens=n, bits=bits)

    return stage


def run(args: argparse.Namespace) -> int:
    sweep_spec = parse_sweep(args.sweep) if args.sweep is not None else None
    if args.plot is not None and sweep_spec is None:
        raise InvalidInputError("--plot needs --sweep", fix="add e.g. --sweep tokens=8,16,32")
    if args.plot is not None:
        check_output_path(args.plot)

    stage = stage_bytes(args)
    problem = load_input(args, stage=stage)
    if sweep_spec is not None:  # every sweep point is lowered: check the largest before starting
        name, values = sweep_spec
        b, h, n, q = problem.shape
        largest = {"tokens": (b, h, max(values), q), "heads": (b, max(values), n, q), "bits": (b, h, n, max(values))}
        if name in largest:
            bb, hh, nn, qq = largest[name]
            saved_bits, args.bits = args.bits, qq
            try:
                check_plan(args, (bb, hh, nn, 64), stage=stage)
            finally:
                args.bits = saved_bits
    summary = problem_summary(problem)
    out: dict[str, Any] = {"summary": summary}
    from ..passes.reduce import ground_state_triviality

    triviality = ground_state_triviality(problem.ir)
    note = triviality.message()
    if note is not None and problem.normalize == "none":
        note += "; --normalize none makes every within-head coupling ferromagnetic: try --normalize standardise"
    out["trivial"] = list(triviality.trivial) if triviality.checked else None
    out["note"] = note
    if args.target or sweep_spec:
        ti = target_report
        if args.target:
            out["targets"] = ti.inspect_targets(
                problem,
                list(args.target),
                max_zeroed_fraction=args.max_zeroed_fraction,
                field_ancillas=args.field_ancillas,
            )
        if sweep_spec:
            options: dict[str, Any] = {"targets": list(args.target or [])}
            if args.target:  # physical qubits measured on the first target
                options["target"] = args.target[0]
            if args.plot is not None:
                options["plot"] = args.plot
            out["sweep"] = ti.sweep(problem, sweep_spec[0], sweep_spec[1], **options)
    if args.json:
        print(dumps_json(out))
        return 0
    b, h, n, q = problem.shape
    print(
        f"QAMA problem: B={b} H={h} N={n} q={q} (alpha={problem.alpha:g}, beta={problem.beta:g}, "
        f"penalty={problem.penalty:g}, normalize={problem.normalize})"
    )
    shown = {k: v for k, v in summary.items() if k in SUMMARY_NOTES}
    print(format_kv(shown, notes=SUMMARY_NOTES))
    if note is not None:
        print(textwrap.fill("note: " + note, width=100, subsequent_indent="    "))
    if "targets" in out:
        print()
        rows = out["targets"]
        if args.wide:
            print(format_table(rows))
        else:
            shown_rows = [{_SHORT.get(k, k): v for k, v in r.items()} for r in _percent_rows(rows)]
            columns = [_SHORT.get(c, c) for c in target_report.TARGET_COLUMNS if any(c in r for r in rows)]
            print(format_table(shown_rows, columns=columns))
        for row in rows:
            reason = row.get("reason")
            if reason:
                verdict = {True: "fits", False: "does not fit", None: "may fit"}.get(row.get("fits"), "")
                print(textwrap.fill(f"{row['target']}: {verdict}: {reason}", width=100, subsequent_indent="    "))
            if row.get("fix"):
                print(textwrap.fill(f"fix: {row['fix']}", width=100, initial_indent="    ", subsequent_indent="    "))
    if "sweep" in out:
        print()
        sweep_rows = out["sweep"]
        sweep_cols = None if args.wide else [c for c in _SWEEP_COLUMNS if any(c in r for r in sweep_rows)]
        extra = [k for k in (sweep_rows[0] if sweep_rows else {}) if k.startswith(("qubits_", "fits_"))]
        print(format_table(sweep_rows, columns=None if sweep_cols is None else sweep_cols + extra))
        if args.plot is not None:
            print(f"wrote {args.plot}")
    return 0

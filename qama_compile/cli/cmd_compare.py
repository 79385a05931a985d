"""``qama compare``: the same problems on several backends, one table (and JSON, CSV, PNG).

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["compare", "--random", "1,2,3,4", "--backends", "exact,sa", "--reads", "20"])
>>> args.backends, args.reads, args.target, args.time_limit, args.wide
('exact,sa', 20, None, 180.0, False)
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

from ..base.atomic import check_output_path
from ..base.memory import qama_counts, sampling_bytes
from ..errors import InvalidInputError, QamaError
from .common import StageBytes, add_input_arguments, compile_stage_bytes, io_error, load_input
from .scale import add_scale_arguments, check_scale_arguments, scale_client

EXAMPLES = """\
examples:
  qama compare example --heads 2 --tokens 1:7 --bits 2           # default backends, each its default reads
  qama compare --random 1,2,4,8 --bits 1 --backends exact,cim,sa,qaoa --reads 100 --seed 0
  qama compare example --heads 2 --tokens 1:5 --bits 2 --backends exact,sa,tabu --plot cmp.png
  qama compare example --heads 2 --tokens 4 --bits 1 --backends exact,qaoa --option qaoa.maxiter=30
  qama compare example --heads 2 --tokens 6 --bits 2 --backends sa,cim --target dwave-advantage --csv cmp.csv
  qama compare example --heads 2 --tokens 4 --bits 2 --backends sa --target chimera-c16 --chain-strength 0.5,torque

Columns: best/mean energy over reads; residual = best - reference (the exact ground energy
when the problem has <= 24 variables, else the best any backend found); p_ground = fraction
of reads at the reference; tts99_s = t_run*ln(0.01)/ln(1-p_ground), t_run = wall time/reads;
hardware_time_s = emulated or device time if the backend reports it; chain_break_fraction
with --target; mask_mae = mean |w - w_ref|; hard_mask_agreement = fraction of (head, token)
with equal w > 0; attention_corr = Pearson correlation of w_i w_j with softmax attention.
A backend that fails or is unavailable is a row with the reason; the others still run.
Before running, each backend's time is estimated from its cost model (calibrated on this
machine); one estimated above --time-limit is skipped, with the estimate as its reason.
Default backends: exact,cim,sa,tabu,steepest (qaoa and dwave run only when named). Default
reads: each backend's own (exact 1, cim/sa/steepest 100, tabu 10, qaoa 1024 shots).
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="run the same problems on several backends; print a quality / time table",
        description="Lower the input and solve every problem on each backend (every energy recomputed "
        "from the problem); print best and mean energy, residual to the exact ground state, ground-state "
        "probability, time to solution at 99%, wall and hardware time, chain breaks, and mask agreement "
        "with the best solution and with the model's softmax attention.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--backends",
        default=None,
        metavar="B1,B2",
        help="comma-separated backend names (default: exact,cim,sa,tabu,steepest; qaoa and dwave only when named)",
    )
    parser.add_argument("--target", default=None, metavar="T", help="compile for hardware target T before sampling")
    parser.add_argument(
        "--reads",
        type=int,
        default=None,
        metavar="R",
        help="reads (shots) per problem (default: each backend's own, see below)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=180.0,
        metavar="S",
        help="skip a backend whose estimated time is above S seconds (default 180)",
    )
    parser.add_argument("--wide", action="store_true", help="print every column (default: the main ones)")
    parser.add_argument("--json", default=None, metavar="F.json", help="write the rows as JSON")
    parser.add_argument("--csv", default=None, metavar="F.csv", help="write the rows as CSV")
    parser.add_argument(
        "--plot",
        default=None,
        metavar="F.png",
        help="write energy distributions to F.png and masks vs attention to F_masks.png",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="BACKEND.KEY=VALUE",
        help="constructor option for one backend, e.g. qaoa.maxiter=30 or sa.num_sweeps=2000 "
        "(repeatable; VALUE is parsed as JSON, else kept as text)",
    )
    parser.add_argument(
        "--chain-strength",
        default=None,
        metavar="V1,V2",
        help="sweep the chain strength: positive numbers and/or 'torque', 'scaled'; a compile option with "
        "--target, else an option of the backends that embed (dwave); one row per backend and value",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scale_arguments(parser)
    parser.set_defaults(func=run)


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["qaoa.maxiter=30", "sa.beta_range=[0.1,5]"]`` -> ``{"qaoa": {"maxiter": 30}, ...}``.

    >>> parse_options(["qaoa.maxiter=30", "qaoa.optimizer=nelder_mead", "sa.beta_range=[0.1, 5]"])
    {'qaoa': {'maxiter': 30, 'optimizer': 'nelder_mead'}, 'sa': {'beta_range': [0.1, 5]}}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        backend, dot, name = key.partition(".")
        if not (sep and dot and backend.strip() and name.strip()):
            raise InvalidInputError(
                f"--option {item!r} is not BACKEND.KEY=VALUE", fix="pass e.g. --option qaoa.maxiter=30"
            )
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        out.setdefault(backend.strip(), {})[name.strip()] = value
    return out


def _seconds(estimate: float | None) -> str:
    """``~0.42 s``, ``~3 min``, ``cannot run`` (inf) or ``?`` (no estimate)."""
    if estimate is None:
        return "?"
    if estimate == float("inf"):
        return "cannot run"
    return f"~{estimate / 60:.2g} min" if estimate >= 120 else f"~{estimate:.2g} s"


def _token_labels(args: argparse.Namespace) -> list[str] | None:
    if args.input != "example":
        return None
    try:
        from ..datasets import load_example
        from .common import parse_selection

        ex = load_example(
            sentence=args.sentence or 0,
            layer=args.layer or 0,
            heads=parse_selection(args.heads, option="--heads"),
            tokens=parse_selection(args.tokens, option="--tokens"),
        )
        return list(ex.tokens)
    except (QamaError, ImportError, AttributeError):
        return None


def stage_bytes(args: argparse.Namespace) -> StageBytes:
    """Bytes of sampling on the largest of ``--backends`` (they run one after another)."""
    backends = [b.strip() for b in str(args.backends).split(",") if b.strip()] or ["exact"]

    def stage(b: int, h: int, n: int, bits: int) -> int:
        c = qama_counts(heads=h, tokens=n, bits=bits)
        couplers = c["block_couplers"] + c["penalty_couplers"]
        need = max(
            sampling_bytes(
                name,
                variables=c["variables"],
                couplers=couplers,
                reads=args.reads,
                batch=b,
                sparse=c["penalty_couplers"],
            )
            for name in backends
        )
        if args.target is not None:
            need += compile_stage_bytes(args.target, variables=c["variables"], couplers=couplers, batch=b)
        return need

    return stage


def run(args: argparse.Namespace) -> int:
    from ..tools.compare import DEFAULT_BACKENDS, compare

    if args.reads is not None and args.reads < 1:
        raise InvalidInputError(f"--reads must be >= 1, got {args.reads}", fix="pass --reads 100")
    if not args.time_limit > 0:
        raise InvalidInputError(f"--time-limit must be > 0 seconds, got {args.time_limit}", fix="pass --time-limit 180")
    check_scale_arguments(args)
    given = args.backends is not None
    backends = [b.strip() for b in str(args.backends).split(",") if b.strip()] if given else list(DEFAULT_BACKENDS)
    if not backends:
        raise InvalidInputError(f"--backends {args.backends!r} names no backend", fix="pass e.g. --backends exact,sa")
    outputs = (("--json", args.json, ".json"), ("--csv", args.csv, ".csv"), ("--plot", args.plot, ".png"))
    for opt, value, suffix in outputs:
        if value is not None and Path(value).suffix.lower() != suffix:
            raise InvalidInputError(f"{opt} {value!r} must end in {suffix}", fix=f"pass e.g. {opt} out{suffix}")
        if value is not None:
            check_output_path(value)  # before solving: a directory, a symlink or a missing directory
    options = parse_options(args.option)
    problem = load_input(args, stage=stage_bytes(args))
    b, h, n, q = problem.shape
    reads = "each backend's default reads" if args.reads is None else f"{args.reads} reads"
    print(
        f"comparing {', '.join(backends)} on {b} problem(s) of H*N*q = {h}*{n}*{q} = {h * n * q} variables"
        + (f", compiled for {args.target}" if args.target else "")
        + f"; {reads}, seed {0 if args.seed is None else args.seed}"
    )
    run_compare: Any = compare
    if args.chain_strength is not None:
        from ..tools.chain_sweep import parse_chain_strengths, sweep_chain_strength

        values = parse_chain_strengths(args.chain_strength)
        run_compare = functools.partial(sweep_chain_strength, chain_strengths=values)

    def announce(estimates: dict[str, float | None]) -> None:
        shown = [f"{name} {_seconds(est)}" for name, est in estimates.items()]
        print(f"estimated time: {', '.join(shown)} (limit {args.time_limit:g} s)", flush=True)

    with scale_client(args) as client:
        result = run_compare(
            problem,
            backends=backends,
            target=args.target,
            num_reads=args.reads,
            seed=0 if args.seed is None else args.seed,
            progress=not args.no_progress and sys.stderr.isatty(),
            backend_options=options,
            client=client,
            time_limit=args.time_limit,
            on_estimates=announce,
        )
    print(result.table(wide=args.wide))
    written: list[str] = []
    path: str | None = None
    try:
        if args.json is not None:
            path = args.json
            written.append(str(result.to_json(args.json)))
        if args.csv is not None:
            path = args.csv
            written.append(str(result.to_csv(args.csv)))
        if args.plot is not None:
            path = args.plot
            written += [str(p) for p in result.plot(args.plot, tokens=_token_labels(args))]
    except OSError as exc:
        raise io_error(exc, path or "", "write") from exc
    for p in written:
        print(f"wrote {p}")
    failed = [r for r in result.rows if r["status"] != "ok"]
    if failed and len(failed) == len(result.rows):
        print("every backend failed or was skipped; see the reasons under the table", file=sys.stderr)
        return 1
    return 0

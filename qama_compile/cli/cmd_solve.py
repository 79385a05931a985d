"""``qama solve``: solve the problems on a backend, print energies and selected tokens, write masks.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["solve", "--random", "1,2,3,4", "--reads", "5", "-o", "m.npz", "--option", "x=50"])
>>> args.backend, args.reads, args.output, parse_sample_options(args.option)
('exact', 5, 'm.npz', {'x': 50})
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..base.atomic import atomic_write, atomic_write_text, check_output_path
from ..base.jsonutil import to_jsonable
from ..base.memory import qama_counts, sampling_bytes
from ..errors import InvalidInputError
from ..tools.tables import format_table
from .common import StageBytes, add_input_arguments, compile_stage_bytes, io_error, load_input
from .precision import add_precision_arguments, precision_options
from .scale import add_scale_arguments, check_scale_arguments, scale_client

#: Tag and version of the masks file.
MASKS_FORMAT = "qama-compile/masks"
SAMPLESETS_FORMAT = "qama-compile/samplesets"
VERSION = 1

EXAMPLES = """\
examples:
  qama solve --random 1,2,3,4 --seed 0 --bits 2 -o masks.npz       # exact ground state
  qama solve example --heads 2 --tokens 1:7 --bits 2 -o masks.npz --sampleset ss.json
  qama solve qkv.npz --bits 1 --backend sa --reads 100 --seed 3 -o masks.npz
  qama solve example --heads 2 --tokens 6 --backend sa --target advantage -o m.npz
  qama solve example --heads 2 --tokens 1:7 --bits 2 --backend sa --option num_sweeps=200 --option beta_range=[0.1,4]
  qama solve example --heads 2 --tokens 1:7 --bits 2 --backend cim --option method=ahc

Reads per problem when --reads is not given (each backend's default_num_reads):
exact 1 (the ground state), cim 100, sa 100, steepest 100, tabu 10, qaoa 1024 shots, dwave 100.
--option KEY=VALUE passes a sampling option to the backend's sample call; VALUE is read as
JSON, else as a Python literal, else kept as text (repeatable).

Output npz: weights [B,H,N] in [0,1], masks [B,H,N,N] = w_i w_j, energies [B],
samples [B,V] (binary, variable (t,i,r) at index (t*N+i)*q+r), format and version.
The exact backend enumerates 2^(H*N*q) states: keep H*N*q <= ~24.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="solve on a backend; print energies and selected tokens; write masks (npz) and sample sets (JSON)",
        description="Lower the input, sample every problem of the batch on a backend (a dimod sampler; "
        "'exact' enumerates), recheck every energy against the IR, and write the token weights and "
        "pairwise masks of the best sample per problem.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--backend", default="exact", help="backend name (default: exact; see qama_compile.available_backends())"
    )
    parser.add_argument("--target", default=None, metavar="T", help="compile for hardware target T before sampling")
    parser.add_argument(
        "--reads", type=int, default=None, metavar="R", help="reads per problem (default: the backend's own, see below)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="sampling option for the backend, e.g. num_sweeps=2000 (repeatable; VALUE as JSON or a Python literal)",
    )
    parser.add_argument(
        "-o", "--output", default=None, metavar="MASKS.npz", help="write weights, masks, energies, samples"
    )
    parser.add_argument("--sampleset", default=None, metavar="SS.json", help="write the dimod SampleSet(s) as JSON")
    parser.add_argument("--json", action="store_true", help="print the per-problem summary as JSON")
    add_precision_arguments(parser)
    add_scale_arguments(parser)
    parser.set_defaults(func=run)


def parse_sample_options(items: list[str]) -> dict[str, Any]:
    """``["num_sweeps=200", "beta_range=[0.1, 4]", "method=ahc"]`` -> typed keyword options.

    VALUE is parsed as JSON, else as a Python literal (``ast.literal_eval``), else kept as text.

    >>> parse_sample_options(["num_sweeps=200", "beta_range=[0.1, 4]", "method=ahc", "polish=False"])
    {'num_sweeps': 200, 'beta_range': [0.1, 4], 'method': 'ahc', 'polish': False}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not (sep and key.strip().isidentifier()):
            raise InvalidInputError(f"--option {item!r} is not KEY=VALUE", fix="pass e.g. --option num_sweeps=2000")
        value: Any
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = text
        out[key.strip()] = value
    return out


def _reads(n: int | None) -> str:
    return "the backend's default reads" if n is None else f"{n} read{'s' if n != 1 else ''}"


def _selected(weights: np.ndarray) -> list[list[list[int]]]:
    """Token indices with non-zero weight, per problem and head (``[B][H] -> list``)."""
    b, h, _ = weights.shape
    hits = np.argwhere(weights > 0)  # rows (b, t, i), sorted
    out: list[list[list[int]]] = [[[] for _ in range(h)] for _ in range(b)]
    for bi, t, i in hits.tolist():  # selected tokens only: output formatting
        out[bi][t].append(i)
    return out


def _run_distributed(args: argparse.Namespace, problem: Any) -> int:
    """``--workers``/``--scheduler``: every problem of the batch is a task on a Dask cluster."""
    from ..runtime.many import solve_many

    if args.target is not None or args.sampleset is not None:
        raise InvalidInputError(
            "--target and --sampleset are not available with --workers/--scheduler",
            fix="drop --workers/--scheduler, or drop --target/--sampleset",
        )
    if args.option:
        raise InvalidInputError(
            "--option is not available with --workers/--scheduler", fix="drop --workers/--scheduler, or drop --option"
        )
    with scale_client(args) as client:
        many = solve_many(
            problem,
            backend=args.backend,
            num_reads=args.reads,
            seed=0 if args.seed is None else args.seed,
            client=client,
            batch_size=args.batch_size,
            progress=sys.stderr.isatty(),
        )
    for index, kind, message in many.failures:
        print(f"problem {index} failed: {kind}: {message}", file=sys.stderr)
    rows = [{"problem": b, "energy": float(e)} for b, e in enumerate(many.energies)]
    print(
        f"solved {many.num_problems - len(many.failures)} of {many.num_problems} problem(s) on {args.backend} "
        f"({many.info.get('mode')}, {many.info.get('batches')} batches)"
    )
    print(format_table(rows))
    if args.output is not None and many.ok:
        samples, weights = many.stacked()
        try:
            with atomic_write(args.output, "wb") as fh:
                np.savez(
                    fh,
                    format=np.array(MASKS_FORMAT),
                    version=np.array(VERSION),
                    weights=weights,
                    masks=weights[..., :, None] * weights[..., None, :],
                    energies=many.energies,
                    samples=samples,
                    backend=np.array(str(args.backend)),
                )
        except OSError as exc:
            raise io_error(exc, args.output, "write") from exc
        print(f"wrote {args.output} (weights, masks, energies, samples)")
    return 0 if many.ok else 1


def stage_bytes(args: argparse.Namespace) -> StageBytes:
    """Bytes of sampling (and compiling, decoding, the sample-set JSON) for a lowered problem's shape."""

    def stage(b: int, h: int, n: int, bits: int) -> int:
        c = qama_counts(heads=h, tokens=n, bits=bits)
        couplers = c["block_couplers"] + c["penalty_couplers"]
        need = sampling_bytes(
            str(args.backend),
            variables=c["variables"],
            couplers=couplers,
            reads=args.reads,
            batch=b,
            sparse=c["penalty_couplers"],
        )
        need += 2 * 8 * b * h * n * n  # weights and masks
        if args.target is not None:
            need += compile_stage_bytes(args.target, variables=c["variables"], couplers=couplers, batch=b)
        return need

    return stage


def run(args: argparse.Namespace) -> int:
    from ..runtime.solve import solve

    if args.reads is not None and args.reads < 1:
        raise InvalidInputError(f"--reads must be >= 1, got {args.reads}", fix="pass --reads 100")
    check_scale_arguments(args)
    for opt, value, suffix in (("-o", args.output, ".npz"), ("--sampleset", args.sampleset, ".json")):
        if value is not None and Path(value).suffix.lower() != suffix:
            raise InvalidInputError(f"{opt} {value!r} must end in {suffix}", fix=f"pass e.g. {opt} out{suffix}")
        if value is not None:
            check_output_path(value)  # before solving: a directory, a symlink or a missing directory
    sample_options = parse_sample_options(args.option)
    problem = load_input(args, stage=stage_bytes(args))
    seed = 0 if args.seed is None else args.seed
    kwargs: dict[str, Any] = {"backend": args.backend, "num_reads": args.reads, "seed": seed, **sample_options}
    if args.target is not None:
        kwargs["target"] = args.target
        kwargs["compile_options"] = precision_options(args)
    if args.workers is not None or args.scheduler is not None:
        return _run_distributed(args, problem)
    result = solve(problem, **kwargs)
    selected = _selected(result.weights)
    rows = [
        {
            "problem": b,
            "energy": float(result.energies[b]),
            **{f"head {t}": ",".join(str(i) for i in sel) or "-" for t, sel in enumerate(selected[b])},
        }
        for b in range(problem.batch_size)
    ]
    if args.json:
        print(
            json.dumps(
                to_jsonable(
                    {
                        "backend": args.backend,
                        "energies": result.energies,
                        "selected": selected,
                        "weights": result.weights,
                        "info": result.info.as_dict(),
                    }
                ),
                indent=2,
            )
        )
    else:
        b, h, n, q = problem.shape
        print(
            f"solved {b} problem(s) on {args.backend} ({_reads(result.info.num_reads)}, seed {seed}): "
            f"H*N*q = {h}*{n}*{q} = {h * n * q} variables each; selected tokens (w > 0) per head:"
        )
        print(format_table(rows))
        info = result.info
        if info.note is not None:
            print(textwrap.fill("note: " + info.note, width=100, subsequent_indent="    "))
        if info.target is not None:
            cbf = np.asarray(info.chain_break_fraction, dtype=np.float64)
            breaks = f", chain-break fraction max {cbf.max():.3g}" if cbf.size else ""
            print(
                f"target {info.target}: {info.physical_qubits} physical qubits{breaks}; "
                f"energies are of the logical problem"
            )
    writing = args.output
    try:
        if args.output is not None:
            with atomic_write(args.output, "wb") as fh:
                np.savez(
                    fh,
                    format=np.array(MASKS_FORMAT),
                    version=np.array(VERSION),
                    weights=result.weights,
                    masks=result.masks,
                    energies=result.energies,
                    samples=result.samples,
                    backend=np.array(str(args.backend)),
                )
            if not args.json:
                print(f"wrote {args.output} (weights, masks, energies, samples)")
        if args.sampleset is not None:
            writing = args.sampleset
            # with a target the sample sets are over the physical (embedded, quantized) problem
            doc = {
                "format": SAMPLESETS_FORMAT,
                "version": VERSION,
                "backend": str(args.backend),
                "target": result.info.target,
                "physical": result.info.target is not None,
                "samplesets": [ss.to_serializable() for ss in result.samplesets],
            }
            atomic_write_text(args.sampleset, json.dumps(to_jsonable(doc)))
            if not args.json:
                print(f"wrote {args.sampleset} ({len(result.samplesets)} dimod SampleSet(s))")
    except OSError as exc:
        raise io_error(exc, writing or "", "write") from exc
    return 0

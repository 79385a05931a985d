"""``qama compile``: lower attention tensors and write the problem in a hardware file format.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["compile", "example", "--bits", "2", "-o", "p.json"])
>>> args.input, args.bits, args.output, args.format
('example', 2, 'p.json', None)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..base.atomic import check_output_path
from ..base.memory import qama_counts, writer_bytes
from ..compiler import compile as compile_problem
from ..errors import InvalidInputError
from ..formats import FORMATS
from ..formats.physical import export_compiled
from .common import StageBytes, add_input_arguments, compile_stage_bytes, io_error, load_input
from .precision import add_precision_arguments, precision_options

#: The registry's formats, for the help text (logical: written by default; physical: with --target).
LOGICAL = ", ".join(name for name, spec in FORMATS.items() if spec.logical)
PHYSICAL = ", ".join(name for name, spec in FORMATS.items() if spec.physical)
_SUFFIXES = ", ".join(
    f"{name} ({'/'.join(spec.suffixes)}{', whole batch' if spec.batch else ''})"
    for name, spec in FORMATS.items()
    if spec.logical
)

EXAMPLES = f"""\
examples:
  qama compile --random 1,2,4,8 --seed 0 --bits 2 -o problem.json      # dimod BQM JSON
  qama compile qkv.npz --bits 4 --format coo -o problem.coo            # 'i j bias' text
  qama compile example --heads 2 --tokens 1:7 --bits 2 -o minilm.npz   # real MiniLM tensors
  qama compile --random 3,2,4,8 --format mtx -o p.mtx                  # writes p_b0.mtx p_b1.mtx p_b2.mtx
  qama compile --random 3,2,4,8 --format lp --index 1 -o p1.lp         # one problem of the batch
  qama compile example --heads 2 --tokens 1:7 --bits 2 -o p.csv       # Kaiwu SDK Ising matrix (paper's CIM)
  qama compile example --target advantage -o physical.json             # compile for a hardware target
  qama compile example --bits auto --target cim-550 -o cim.txt          # the widest selection that fits
  qama compile --random 1,12,64,64 --bits 4 --target cim-100k --allow-precision-loss -o big.npz

formats: {_SUFFIXES}.
Single-problem formats write one file per problem (<stem>_b<i>) unless --index is given.
With --target: {PHYSICAL}; the file carries the
embedding and every decode step, so 'qama decode FILE SAMPLES -o masks.npz' works on it alone.
Variables per problem: H*N*q; couplers: H*(Nq)(Nq-1)/2 dense + H(H-1)/2*N*q head penalty.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile",
        help=f"lower Q/K/V to the QAMA QUBO and write it ({LOGICAL})",
        description="Lower attention tensors to the QAMA Hamiltonian (docs/hamiltonian.md) and write "
        "the problem as a versioned file: dimod BQM JSON, numpy npz, COO text, Matrix Market, LP or Kaiwu's "
        "Ising matrix. "
        "With --target, compile for that hardware target first and export the physical problem.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(parser)
    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, metavar="OUT", help="output file; its suffix picks the format")
    out.add_argument(
        "--format",
        default=None,
        metavar="F",
        help=f"{LOGICAL} (default: from the suffix of OUT); with --target, the target export formats: {PHYSICAL}",
    )
    out.add_argument("--index", type=int, default=None, metavar="I", help="write only problem I of the batch")
    out.add_argument(
        "--target",
        default=None,
        metavar="T",
        help="compile for hardware target T (qama_compile.compiler) and export the physical problem",
    )
    add_precision_arguments(parser)
    parser.set_defaults(func=run)


def _physical_line(compiled: Any) -> str:
    """Physical counts as the summary gives them: qubits, and couplers that are non-zero after quantization."""
    from ..passes.reports import QuantizationReport

    s = compiled.summary()
    line = f"physical: {s['physical_qubits']} qubits, {s['physical_couplers']} non-zero couplers"
    q = compiled.report(QuantizationReport)
    if q is not None and q.bits is not None:
        line += f"; {q.bits}-bit couplers: {100 * q.zeroed_fraction:.3g}% rounded to zero (needs {q.bits_needed} bits)"
        if q.precision_loss:
            line += f"; precision loss allowed: {q.precision_loss}"
    return line


def stage_bytes(args: argparse.Namespace) -> StageBytes:
    """Bytes of writing (or compiling for ``--target``) a lowered problem of a given shape."""
    from ..formats import format_for_path

    fmt = format_for_path(args.output, args.format) if args.target is None else None

    def stage(b: int, h: int, n: int, bits: int) -> int:
        c = qama_counts(heads=h, tokens=n, bits=bits)
        couplers = c["block_couplers"] + c["penalty_couplers"]
        batch = 1 if args.index is not None else b
        if fmt is None:
            return compile_stage_bytes(args.target, variables=c["variables"], couplers=couplers, batch=batch)
        return writer_bytes(fmt, variables=c["variables"], couplers=couplers, batch=batch, block=c["block"])

    return stage


def run(args: argparse.Namespace) -> int:
    from ..formats import format_for_path, save

    fmt = format_for_path(args.output, args.format) if args.target is None else args.format
    check_output_path(args.output)  # before any work: a directory, a symlink or a missing directory
    problem = load_input(args, stage=stage_bytes(args))
    b, h, n, q = problem.shape
    if args.index is not None:
        if not -b <= args.index < b:
            raise InvalidInputError(
                f"--index {args.index} is out of range for a batch of {b}", fix=f"pass --index in 0..{b - 1}"
            )
        problem = problem.select([args.index % b])
    try:
        if args.target is not None:
            seed = 0 if args.seed is None else args.seed
            compiled = compile_problem(problem, target=args.target, seed=seed, **precision_options(args))
            written: Any = export_compiled(compiled, args.output, format=args.format)
            paths = written if isinstance(written, list) else [Path(written if written is not None else args.output)]
        else:
            result = save(problem, args.output, format=fmt)
            paths = result if isinstance(result, list) else [result]
    except OSError as exc:
        raise io_error(exc, args.output, "write") from exc
    where = f" for target {args.target}" if args.target else ""
    print(
        f"compiled {problem.batch_size} problem(s){where}: H*N*q = {h}*{n}*{q} = {h * n * q} variables each, "
        f"{h} dense head blocks of {n * q}, head penalty {h * (h - 1) // 2 * n * q} couplers"
    )
    if args.target is not None:
        print(_physical_line(compiled))
    for p in paths:
        print(f"wrote {p}" + (f" ({fmt})" if fmt else ""))
    if args.target is None and len(paths) > 1:
        out = Path(args.output)
        print(f"wrote {out.with_name(out.stem + '.manifest.json')} (names the complete set of {len(paths)} files)")
    return 0

"""``qama demo``: compile, inspect and solve a real MiniLM-L6 attention problem; write a plot.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["demo", "--out", "d", "--seed", "3", "--backends", "sa"])
>>> args.out, args.seed, args.backends
('d', 3, ['sa'])
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .common import io_error

EXAMPLES = """\
examples:
  qama demo                          # writes ./demo-output/{masks.png,energies.png,demo.json}
  qama demo --out /tmp/qama --seed 7
  qama demo --sentence 2 --layer 3   # another shipped sentence and layer
  qama demo --backends sa            # exact plus only the 'sa' backend

The problem: MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2), heads 0 and 1, the six
tokens after [CLS], bits=2, normalize=standardise: H*N*q = 2*6*2 = 24 variables, solved
exactly (2^24 states) and on the cim and sa backends when they are available.
"""


def _backend_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names and text.strip():
        raise argparse.ArgumentTypeError("expected comma-separated backend names")
    return names


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the embedded demo: a real MiniLM attention problem, compiled, solved exactly and on cim and sa, "
        "plotted",
        description="Load real Q/K/V from MiniLM-L6 (shipped with the package), lower them to the QAMA QUBO, "
        "print the variable and coupler counts, solve exactly and on the cim/sa backends, print one "
        "table and write a PNG of the QAMA mask beside the model's softmax attention.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="demo-output", metavar="DIR", help="output directory (default: ./demo-output)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the heuristic backends (default: 0)")
    parser.add_argument("--sentence", type=int, default=0, help="shipped sentence index, 0..4 (default: 0)")
    parser.add_argument("--layer", type=int, default=0, help="MiniLM layer, 0..5 (default: 0)")
    parser.add_argument("--num-reads", type=int, default=100, help="reads per heuristic backend (default: 100)")
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=None,
        metavar="NAMES",
        help="comma-separated heuristic backends to run after exact (default: cim,sa; '' for none)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG files (JSON only)")
    parser.set_defaults(func=run)


def _output_directory(out: str) -> Path:
    """``--out``: an existing directory, or a new one inside an existing directory."""
    path = Path(out)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InvalidInputError(
            f"--out {out!r} exists and is not a directory", fix="pass a directory (new or existing) for the outputs"
        )
    if not path.parent.is_dir():
        raise InvalidInputError(
            f"--out {out!r}: its parent directory {str(path.parent)!r} does not exist",
            fix="create it first (qama-compile creates only the output directory itself)",
        )
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise io_error(exc, out, "create the directory") from exc
    return path


def run(args: argparse.Namespace) -> int:
    from ..tools.demo import DEMO_BACKENDS, run_demo

    if args.num_reads < 1:
        raise InvalidInputError(f"--num-reads must be >= 1, got {args.num_reads}", fix="pass --num-reads 100")
    _output_directory(args.out)
    run_demo(
        out_dir=args.out,
        seed=args.seed,
        sentence=args.sentence,
        layer=args.layer,
        backends=DEMO_BACKENDS if args.backends is None else args.backends,
        num_reads=args.num_reads,
        plots=not args.no_plot,
    )
    return 0

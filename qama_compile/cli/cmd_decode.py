"""``qama decode``: turn samples of a physical file, obtained anywhere, into logical samples, energies and masks.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["decode", "physical.json", "samples.json", "-o", "masks.npz"])
>>> args.compiled, args.samples, args.output, args.vartype
('physical.json', 'samples.json', 'masks.npz', None)
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..base.atomic import check_output_path
from ..errors import FileFormatError
from ..formats import PhysicalFile, decode_file, load
from ..formats.physical_file import LEGACY_FIX
from .common import io_error

EXAMPLES = """\
examples:
  qama compile example --heads 2 --tokens 1:4 --bits 2 --target dwave-advantage -o physical.json
  # ... sample physical.json's BQM anywhere; save json.dump(sampleset.to_serializable(), fh) ...
  qama decode physical.json samples.json -o masks.npz
  qama decode cim.npz spins.csv --vartype spin -o masks.npz     # CSV columns in the file's qubit order
  qama decode physical.json bits.npz --problem 1 -o p1.npz      # NPZ 'samples' [S, Q] (+ 'qubits')

SAMPLES: a dimod SampleSet JSON (labels = qubit ids, matched by label), a CSV of one sample per
line, or an NPZ with 'samples' [S, Q] or [B, S, Q] and optionally 'qubits' [Q]. Values are
spins (-1/+1) or bits (0/1), inferred strictly unless --vartype says.
Output (.npz): problems, logical_samples [B, S, V], logical_energies [B, S] (recomputed from the
logical problem in the file), physical_energies [B, S], chain_break_fraction [B], best [B], and
weights [B, S, H, N], masks [B, S, H, N, N] when the file holds an attention problem.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode samples of a physical file (from any sampler) into logical samples, energies and masks",
        description="Decode samples of the physical problem in COMPILED (written by 'qama compile --target T "
        "-o FILE') into logical samples, logical energies and attention masks, with the file alone.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("compiled", metavar="COMPILED", help="physical file written by 'qama compile --target'")
    parser.add_argument("samples", metavar="SAMPLES", help="SampleSet JSON, CSV or NPZ of physical samples")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output .npz")
    parser.add_argument(
        "--vartype",
        choices=("spin", "binary"),
        default=None,
        help="the samples' values: spin (-1/+1) or binary (0/1); default: inferred strictly",
    )
    parser.add_argument(
        "--problem",
        type=int,
        action="append",
        default=None,
        metavar="I",
        help="decode problem I of the batch (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_path(args.output)
    loaded = load(args.compiled)
    if not isinstance(loaded, PhysicalFile):
        raise FileFormatError(
            f"{args.compiled}: is not a physical file with decode data (it loads as {type(loaded).__name__})",
            fix=LEGACY_FIX.format(suffix=""),
            path=str(args.compiled),
        )
    out = decode_file(
        loaded,
        args.samples,
        vartype=None if args.vartype is None else args.vartype.upper(),
        problems=args.problem,
    )
    try:
        out.save(args.output)
    except OSError as exc:
        raise io_error(exc, args.output, "write") from exc
    s = out.energies.shape[1]
    print(
        f"decoded {s} sample(s) of {loaded.num_qubits} qubits "
        f"(target {loaded.target}, graph {loaded.graph_id or '-'}) "
        f"into {loaded.logical.num_variables} logical variables"
    )
    print(f"{'problem':>7}  {'samples':>7}  {'best energy':>14}  {'mean energy':>14}  {'chain breaks':>12}")
    best = out.best()
    for row, b in enumerate(out.problems.tolist()):  # one line per problem decoded
        e = out.energies[row]
        best_e = f"{e[best[row]]:.6f}" if e.size else "-"
        mean_e = f"{e.mean():.6f}" if e.size else "-"
        print(f"{b:>7}  {e.size:>7}  {best_e:>14}  {mean_e:>14}  {float(out.chain_break_fraction[row]):>12.3f}")
    keys = ", ".join(out.arrays())
    print(f"wrote {args.output} ({keys})")
    return 0 if np.all(np.isfinite(out.energies)) else 1

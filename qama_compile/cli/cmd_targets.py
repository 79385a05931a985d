"""``qama targets``: the hardware targets, their facts and the sources of every figure.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="qama")
>>> register(parser.add_subparsers())
>>> parser.parse_args(["targets", "--json"]).json
True
"""

from __future__ import annotations

import argparse
from typing import Any

from ..base.jsonutil import dumps_json
from ..tools.tables import format_table

EXAMPLES = """\
examples:
  qama targets                 # a table of targets
  qama targets --json          # every fact, the timing model and the sources, as JSON
  qama targets --graph         # also build each qubit graph and count its couplers

Ranges are for the Ising form in dimod's convention (E = sum h s + sum J s s). Sources and
the meaning of every figure: docs/targets.md.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "targets",
        help="list hardware targets with their facts and sources",
        description="List the hardware targets qama-compile can compile for: kind, topology, qubits, "
        "h/J ranges, coupling bits, timing model and the sources of each figure.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON (all facts and sources)")
    parser.add_argument("--graph", action="store_true", help="build each qubit graph and report its couplers")
    parser.set_defaults(func=run)


def _range(r: list[float | None] | None) -> str:
    if r is None:
        return "-"
    lo, hi = r
    return "unbounded" if lo is None and hi is None else f"[{lo:g}, {hi:g}]"


def run(args: argparse.Namespace) -> int:
    from ..targets import available_targets, get_target

    targets = [get_target(name) for name in available_targets()]
    facts = []
    for t in targets:
        s = t.summary()
        if args.graph:
            s["couplers"] = t.coupler_count()
        facts.append(s)
    if args.json:
        print(dumps_json(facts))
        return 0
    rows = [
        {
            "target": s["name"],
            "kind": s["kind"],
            "topology": s["topology"],
            "qubits": s["num_qubits"],
            "h_range": _range(s["h_range"]),
            "j_range": _range(s["j_range"]),
            "extended_j": _range(s["extended_j_range"]),
            "bits": s["coupling_bits"]
            if s["coupling_bits"] is not None
            else ("analog" if s["kind"] in ("annealer", "cim") else "-"),
            **({"couplers": s["couplers"]} if args.graph else {}),
        }
        for s in facts
    ]
    print(format_table(rows))
    print()
    for s in facts:
        print(f"{s['name']}: {s['description']}")
        for src in s["sources"]:
            print(f"    source: {src}")
    return 0

"""CLI helpers for precision-aware compilation: ``--max-zeroed-fraction``, ``--allow-precision-loss``
and ``--bits auto`` (the largest selection width that fits the target).

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_precision_arguments(parser)
>>> args = parser.parse_args(["--allow-precision-loss"])
>>> precision_options(args)
{'max_zeroed_fraction': 0.05, 'field_ancillas': 'auto', 'allow_precision_loss': True}
>>> parse_bits("auto"), parse_bits("3")
('auto', 3)
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ..passes.options import DEFAULT_MAX_ZEROED_FRACTION, FieldAncillas

__all__ = ["add_precision_arguments", "auto_bits", "parse_bits", "precision_options"]


def parse_bits(text: str) -> int | str:
    """``--bits`` value: an integer, or ``auto`` (the largest width that fits ``--target``)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer 1..8 or 'auto', got {text!r}") from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {value}")
    return value


def _ancillas(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 1, got {value}")
    return value


def add_precision_arguments(parser: argparse.ArgumentParser, *, allow_loss: bool = True) -> None:
    """Add ``--max-zeroed-fraction``, ``--field-ancillas`` (and ``--allow-precision-loss`` with ``allow_loss``)."""
    group = parser.add_argument_group(
        "coupler precision", "quantization to a target's DAC (docs/passes.md, 'Precision')"
    )
    group.add_argument(
        "--max-zeroed-fraction",
        type=_fraction,
        default=DEFAULT_MAX_ZEROED_FRACTION,
        metavar="F",
        help=f"share of the non-zero couplers rounding may set to zero before a target does not fit "
        f"(default {DEFAULT_MAX_ZEROED_FRACTION:g})",
    )
    group.add_argument(
        "--field-ancillas",
        type=_ancillas,
        default="auto",
        metavar="K",
        help="CIMs without native fields: ancilla spins sharing the fields, or 'auto' (default: just enough "
        "that no field coupler exceeds the largest coupling)",
    )
    if allow_loss:
        group.add_argument(
            "--allow-precision-loss",
            action="store_true",
            help="compile even when quantization zeroes more couplers than allowed or changes the ground state",
        )


def precision_options(args: argparse.Namespace) -> dict[str, Any]:
    """The compile options of the precision arguments."""
    out: dict[str, Any] = {
        "max_zeroed_fraction": float(args.max_zeroed_fraction),
        "field_ancillas": args.field_ancillas,
    }
    if hasattr(args, "allow_precision_loss"):
        out["allow_precision_loss"] = bool(args.allow_precision_loss)
    return out


def auto_bits(args: argparse.Namespace, problem: AttentionProblem) -> AttentionProblem:
    """``--bits auto``: ``problem`` re-assembled with the largest selection width (1..8) that fits ``--target``."""
    from ..compiler.precision import choose_bits, with_bits

    target = getattr(args, "target", None)
    if isinstance(target, list):
        target = target[0] if target else None
    if target is None:
        raise InvalidInputError("--bits auto needs a --target to fit", fix="add --target T, or pass --bits 1..8")
    fraction = getattr(args, "max_zeroed_fraction", DEFAULT_MAX_ZEROED_FRACTION)
    ancillas: FieldAncillas = getattr(args, "field_ancillas", "auto")
    choice = choose_bits(problem, target, max_bits=8, max_zeroed_fraction=fraction, field_ancillas=ancillas)
    if choice.chosen is None:
        raise InvalidInputError(
            f"no selection width 1..8 fits target {choice.target!r}: {choice.reasons[0]}",
            fix="use fewer tokens or heads, a larger target, or pass --bits N with --allow-precision-loss",
        )
    return with_bits(problem, choice.chosen)

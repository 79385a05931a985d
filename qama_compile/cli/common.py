"""Shared CLI plumbing: the INPUT argument, lowering options, lazy imports, output helpers.

INPUT is one of

* an ``.npz`` with arrays ``q``, ``k``, ``v`` shaped ``[N, d]``, ``[H, N, d]`` or ``[B, H, N, d]``;
* an ``.npz`` problem written by ``qama compile --format npz`` (already lowered);
* the word ``example``: real MiniLM-L6 tensors shipped with the package;
* nothing, with ``--random B,H,N,d --seed S``: Gaussian tensors.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_input_arguments(parser)
>>> problem = load_input(parser.parse_args(["--random", "1,2,3,4", "--seed", "0", "--bits", "2"]))
>>> problem.shape
(1, 2, 3, 2)
"""

from __future__ import annotations

import argparse
import math
import zipfile
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..core.problem import AttentionProblem
from ..datasets import load_example
from ..errors import FileFormatError, InvalidInputError, ProblemTooLargeError, QamaError
from .precision import auto_bits, parse_bits

__all__ = [
    "INPUT_HELP",
    "add_input_arguments",
    "io_error",
    "load_input",
    "one_line_errors",
    "parse_selection",
]

INPUT_HELP = (
    "an .npz with arrays q, k, v ([N,d], [H,N,d] or [B,H,N,d]); an .npz problem written by "
    "'qama compile --format npz'; or 'example' for the shipped MiniLM-L6 tensors. "
    "Omit it and pass --random B,H,N,d instead."
)
_LOWERING_DEFAULTS: dict[str, Any] = {"bits": 4, "alpha": 1.0, "beta": 1.0, "penalty": 2.0, "normalize": "standardise"}


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make argparse usage errors of ``parser`` one line (``prog: error: ...; fix: ...``), exit status 2.

    >>> p = argparse.ArgumentParser(prog="qama x")
    >>> _ = p.add_argument("--n", type=int)
    >>> one_line_errors(p)
    >>> try:
    ...     p.parse_args(["--n", "two"])
    ... except SystemExit as exc:
    ...     print(exc.code)
    2
    """

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message}; fix: see '{parser.prog} --help'\n")

    parser.error = error  # type: ignore[method-assign]


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add INPUT, ``--random``/``--seed``, example and selection options, and lowering options.

    Also makes the parser's usage errors one line (:func:`one_line_errors`).
    """
    one_line_errors(parser)
    parser.add_argument("input", nargs="?", metavar="INPUT", help=INPUT_HELP)
    src = parser.add_argument_group("input selection")
    src.add_argument("--random", metavar="B,H,N,d", help="random Gaussian q, k, v of this shape instead of INPUT")
    src.add_argument(
        "--seed", type=int, default=None, help="seed for --random, the stochastic backends and compilation (default 0)"
    )
    src.add_argument("--sentence", type=int, default=None, help="'example' only: shipped sentence index (default 0)")
    src.add_argument("--layer", type=int, default=None, help="'example' only: MiniLM layer 0..5 (default 0)")
    src.add_argument(
        "--heads",
        metavar="SEL",
        default=None,
        help="keep these heads: a count n (the first n), a list '0,3', or a range '2:5'",
    )
    src.add_argument(
        "--tokens",
        metavar="SEL",
        default=None,
        help="keep these tokens: a count n (the first n), a list '1,2,5', or a range '1:7'",
    )
    low = parser.add_argument_group("lowering (DESIGN.md section 2)")
    low.add_argument(
        "--bits",
        type=parse_bits,
        default=None,
        help="binary variables per (head, token), 1..8, or 'auto': the largest that fits --target (default 4)",
    )
    low.add_argument("--alpha", type=float, default=None, help="weight of the J coupling term (default 1)")
    low.add_argument("--beta", type=float, default=None, help="weight of the h field term (default 1)")
    low.add_argument("--penalty", type=float, default=None, help="head-overlap penalty lambda (default 2)")
    low.add_argument(
        "--normalize",
        choices=["none", "standardise", "minmax"],
        default=None,
        help="normalisation of J's off-diagonal and h per problem and head (default standardise: the paper's "
        "batch norm, (x - mean) / sqrt(var + 1e-5); 'none' keeps the raw, all-ferromagnetic couplings)",
    )


def parse_selection(text: str | None, *, option: str) -> int | list[int] | range | None:
    """``'3'`` -> 3 (the first three), ``'0,2'`` -> [0, 2], ``'1:7'`` -> range(1, 7).

    >>> parse_selection("3", option="--heads"), parse_selection("0,2", option="--heads")
    (3, [0, 2])
    >>> parse_selection("1:4", option="--tokens")
    range(1, 4)
    """
    if text is None:
        return None
    t = text.strip()
    try:
        if ":" in t:
            lo, _, hi = t.partition(":")
            return range(int(lo or 0), int(hi))
        if "," in t:
            return [int(x) for x in t.split(",") if x.strip()]
        return int(t)
    except ValueError:
        raise InvalidInputError(
            f"{option} {text!r} is not a count, a list or a range",
            fix=f"pass e.g. {option} 2, {option} 0,3 or {option} 1:7",
        ) from None


def _select(
    x: NDArray[np.float64], choice: int | list[int] | range | None, axis: int, what: str, option: str
) -> NDArray[np.float64]:
    if choice is None:
        return x
    if x.ndim < -axis:
        raise InvalidInputError(
            f"{option} needs a {what} axis, but the tensors have shape {x.shape}",
            fix=f"drop {option} or pass [H, N, d] / [B, H, N, d] tensors",
        )
    size = x.shape[axis]
    idx = np.arange(choice) if isinstance(choice, int) else np.asarray(list(choice), dtype=np.int64)
    if idx.size == 0 or (isinstance(choice, int) and not 1 <= choice <= size) or idx.min() < 0 or idx.max() >= size:
        raise InvalidInputError(
            f"{option} selects {what} outside 0..{size - 1} (there are {size})", fix=f"pick {what} in 0..{size - 1}"
        )
    return np.take(x, idx, axis=axis)


def io_error(exc: OSError, path: str | Path, action: str) -> QamaError:
    """An ``OSError`` while reading/writing ``path`` as a one-line :class:`QamaError`."""
    return QamaError(
        f"cannot {action} {str(path)!r}: {exc.strerror or exc}",
        fix="check the path, the directory and its permissions",
        path=str(path),
    )


def _lowering_given(args: argparse.Namespace) -> list[str]:
    return [f"--{k}" for k in _LOWERING_DEFAULTS if getattr(args, k, None) is not None]


def _tensors(args: argparse.Namespace) -> tuple[Any, Any, Any] | AttentionProblem:
    source = args.input
    if getattr(args, "seed", None) is not None and args.seed < 0:
        raise InvalidInputError(f"--seed must be a non-negative integer, got {args.seed}", fix="pass e.g. --seed 0")
    if args.random is not None and source is not None:
        raise InvalidInputError(
            f"both INPUT {source!r} and --random were given", fix="pass either an INPUT or --random B,H,N,d, not both"
        )
    if source != "example" and (args.sentence is not None or args.layer is not None):
        raise InvalidInputError(
            "--sentence and --layer only apply to the 'example' input", fix="drop them, or use INPUT 'example'"
        )
    if args.random is not None:
        try:
            shape = tuple(int(s) for s in str(args.random).split(","))
        except ValueError:
            shape = ()
        if len(shape) != 4 or min(shape) < 1:
            raise InvalidInputError(
                f"--random {args.random!r} is not four positive integers B,H,N,d", fix="pass e.g. --random 1,2,4,8"
            )
        from ..core.lowering import physical_memory

        need, limit = 3 * 8 * math.prod(shape), physical_memory() // 2
        if need > limit:  # refuse before allocating the random tensors
            raise ProblemTooLargeError(
                f"--random {args.random} needs {need / 2**30:.3g} GiB for q, k and v, over the limit of "
                f"{limit / 2**30:.3g} GiB (half the physical memory)",
                fix="pass a smaller B,H,N,d",
                size=need,
                limit=limit,
                unit="bytes",
            )
        rng = np.random.default_rng(0 if args.seed is None else args.seed)
        q, k, v = rng.normal(size=(3, *shape))
        return q, k, v
    if source is None:
        raise InvalidInputError(
            "no input given", fix="pass an .npz with q, k, v, the word 'example', or --random B,H,N,d --seed S"
        )
    if source == "example":
        ex = load_example(
            sentence=0 if args.sentence is None else args.sentence,
            layer=0 if args.layer is None else args.layer,
            heads=parse_selection(args.heads, option="--heads"),
            tokens=parse_selection(args.tokens, option="--tokens"),
        )
        get = (lambda n: ex[n]) if isinstance(ex, dict) else (lambda n: getattr(ex, n))
        return get("q"), get("k"), get("v")
    return _read_npz(Path(source))


def _read_npz(path: Path) -> tuple[Any, Any, Any] | AttentionProblem:
    from ..formats import DEFAULT_MAX_BYTES, load
    from ..formats._base import check_size

    if path.suffix.lower() != ".npz":
        raise InvalidInputError(
            f"INPUT {str(path)!r} is not an .npz file",
            fix="pass an .npz with arrays q, k, v, the word 'example', or --random B,H,N,d",
        )
    check_size(path, DEFAULT_MAX_BYTES)
    resave = "save the tensors with np.savez(path, q=q, k=k, v=v)"

    def bad(message: str, exc: BaseException | None = None) -> FileFormatError:
        detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return FileFormatError(f"{path}: {message}{detail}", fix=resave, path=str(path))

    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise bad("is not a plain .npz archive; numpy would have to unpickle it, which is never done") from exc
        raise bad("is not a readable .npz", exc) from exc
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise bad("is not a readable .npz", exc) from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise bad("holds a single .npy array, not an .npz archive of q, k, v")
    with z:
        unpacked = sum(int(info.file_size) for info in (z.zip.infolist() if z.zip is not None else []))
        if unpacked > DEFAULT_MAX_BYTES:
            raise bad(f"unpacks to {unpacked} bytes, over the limit of {DEFAULT_MAX_BYTES}")
        names = set(z.files)
        if "format" in names:
            obj = load(path)
            if not isinstance(obj, AttentionProblem):
                raise InvalidInputError(
                    f"{path} holds a bare IR, not an attention problem",
                    fix="pass the q, k, v tensors or a problem saved from qama compile",
                )
            return obj
        missing = sorted({"q", "k", "v"} - names)
        if missing:
            raise bad(f"missing arrays {missing} (found {sorted(names)})")
        try:
            return z["q"], z["k"], z["v"]
        except ValueError as exc:
            if "pickle" in str(exc) or "Object arrays" in str(exc):
                raise bad("contains pickled object arrays, which are never loaded") from exc
            raise bad("has a corrupt array", exc) from exc
        except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise bad("has a corrupt or truncated array", exc) from exc


def load_input(args: argparse.Namespace) -> AttentionProblem:
    """The :class:`AttentionProblem` described by the parsed INPUT and lowering options."""
    from ..core.lowering import lower_attention

    got = _tensors(args)
    if isinstance(got, AttentionProblem):
        extra = _lowering_given(args) + [f"--{n}" for n in ("heads", "tokens") if getattr(args, n) is not None]
        if extra:
            raise InvalidInputError(
                f"INPUT {args.input!r} is an already-lowered problem; {', '.join(extra)} cannot change it",
                fix="drop those options, or pass the q, k, v tensors instead",
            )
        return got
    q, k, v = got
    if args.input != "example":
        heads = parse_selection(args.heads, option="--heads")
        tokens = parse_selection(args.tokens, option="--tokens")
        q, k, v = (
            np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind in "biuf" else np.asarray(x) for x in (q, k, v)
        )
        q, k, v = (
            _select(_select(x, heads, -3, "heads", "--heads"), tokens, -2, "tokens", "--tokens") for x in (q, k, v)
        )
    opts = {
        key: (default if getattr(args, key, None) is None else getattr(args, key))
        for key, default in _LOWERING_DEFAULTS.items()
    }
    if opts["bits"] == "auto":  # J and h once, then the widest selection that fits the target
        return auto_bits(args, lower_attention(q, k, v, **{**opts, "bits": 1}))
    return lower_attention(q, k, v, **opts)

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..base.memory import check_memory, describe_bytes, inputs_bytes, memory_limit, problem_bytes
from ..core.lowering import estimate_lowering_bytes
from ..core.problem import AttentionProblem
from ..datasets import load_example
from ..errors import FileFormatError, InvalidInputError, ProblemTooLargeError, QamaError
from ..targets import get_target
from .precision import auto_bits, parse_bits

#: Bytes a command needs after lowering, from the problem shape ``(batch, heads, tokens, bits)``.
StageBytes = Callable[[int, int, int, int], int]

__all__ = [
    "INPUT_HELP",
    "StageBytes",
    "add_input_arguments",
    "check_plan",
    "command_bytes",
    "compile_stage_bytes",
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
    low = parser.add_argument_group("lowering (docs/hamiltonian.md)")
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
    _check_selection(choice, size, what, option)
    idx = np.arange(choice) if isinstance(choice, int) else np.asarray(list(choice), dtype=np.int64)
    return np.take(x, idx, axis=axis)


def _check_selection(choice: int | list[int] | range, size: int, what: str, option: str) -> None:
    """Refuse a selection outside ``0..size-1`` before any index array is built (``--tokens 1000000000``)."""
    if isinstance(choice, int):
        bad = not 1 <= choice <= size
    elif isinstance(choice, range):
        bad = len(choice) == 0 or min(choice[0], choice[-1]) < 0 or max(choice[0], choice[-1]) >= size
    else:
        bad = not choice or min(choice) < 0 or max(choice) >= size
    if bad:
        raise InvalidInputError(
            f"{option} selects {what} outside 0..{size - 1} (there are {size})", fix=f"pick {what} in 0..{size - 1}"
        )


def _selected_size(choice: int | list[int] | range | None, size: int) -> int:
    if choice is None:
        return size
    return choice if isinstance(choice, int) else len(choice)


def command_bytes(
    shape: tuple[int, int, int, int], bits: int, *, inputs: int = 0, stage: StageBytes | None = None
) -> int:
    """Peak bytes of a command: inputs + lowering, or the lowered problem + the command's next ``stage``.

    ``shape`` is ``(B, H, N, d)`` of what is lowered; ``inputs`` the bytes of tensors that exist only
    for this command (``--random``), ``stage`` the writer's / sampler's bytes (see ``base.memory``).

    >>> command_bytes((1, 2, 8, 16), 4) > 0
    True
    """
    b, h, n, d = shape
    lower = inputs + estimate_lowering_bytes(b, h, n, d, bits)
    after = problem_bytes(batch=b, heads=h, tokens=n, bits=bits) + (stage(b, h, n, bits) if stage else 0)
    return max(lower, after)


def check_plan(
    args: argparse.Namespace,
    shape: tuple[int, int, int, int],
    *,
    inputs: int = 0,
    stage: StageBytes | None = None,
) -> None:
    """Refuse, before anything is allocated, a command whose :func:`command_bytes` exceed the budget."""
    bits = _LOWERING_DEFAULTS["bits"] if getattr(args, "bits", None) is None else args.bits
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        return  # lowering reports the bad bit width with its own message
    b, h, n, d = shape
    need = command_bytes(shape, bits, inputs=inputs, stage=stage)
    check_memory(
        need,
        what=f"qama {getattr(args, 'command', None) or 'command'} for B={b}, H={h}, N={n}, d={d}, bits={bits}",
        fix="use a smaller problem (--random B,H,N,d, --heads, --tokens, --bits) or fewer --reads",
    )


def compile_stage_bytes(target: Any, *, variables: int, couplers: int, batch: int) -> int:
    """:func:`~qama_compile.base.memory.compile_bytes` for ``--target`` (its graph size looked up;
    an unknown name is left for the compiler to report)."""
    from ..base.memory import compile_bytes, target_graph_edges

    try:
        t = get_target(target)
        edges = target_graph_edges(str(t.kind), int(t.num_qubits or 0))
    except QamaError:
        edges = 0
    return compile_bytes(variables=variables, couplers=couplers, graph_edges=edges, batch=batch)


def io_error(exc: OSError, path: str | Path, action: str) -> QamaError:
    """An ``OSError`` while reading/writing ``path`` as a one-line :class:`QamaError`."""
    return QamaError(
        f"cannot {action} {str(path)!r}: {exc.strerror or exc}",
        fix="check the path, the directory and its permissions",
        path=str(path),
    )


def _lowering_given(args: argparse.Namespace) -> list[str]:
    return [f"--{k}" for k in _LOWERING_DEFAULTS if getattr(args, k, None) is not None]


def _tensors(args: argparse.Namespace, stage: StageBytes | None) -> tuple[Any, Any, Any] | AttentionProblem:
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
        b, h, n, d = shape
        need, limit = inputs_bytes(batch=b, heads=h, tokens=n, dim=d), memory_limit()
        if need > limit:  # refuse before allocating the random tensors
            raise ProblemTooLargeError(
                f"--random {args.random} needs {need / 2**30:.3g} GiB for q, k and v, over the limit of "
                f"{describe_bytes(limit)}",
                fix="pass a smaller B,H,N,d",
                size=need,
                limit=limit,
                unit="bytes",
            )
        heads = _selected_size(parse_selection(args.heads, option="--heads"), h)
        tokens = _selected_size(parse_selection(args.tokens, option="--tokens"), n)
        check_plan(args, (b, min(heads, h), min(tokens, n), d), inputs=need, stage=stage)
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
    from ..base.safeload import read_npz
    from ..formats import DEFAULT_MAX_BYTES, load
    from ..formats._base import check_size
    from ..formats.validate import loader_limit

    if path.suffix.lower() != ".npz":
        raise InvalidInputError(
            f"INPUT {str(path)!r} is not an .npz file",
            fix="pass an .npz with arrays q, k, v, the word 'example', or --random B,H,N,d",
        )
    size = check_size(path, DEFAULT_MAX_BYTES)
    resave = "save the tensors with np.savez(path, q=q, k=k, v=v)"
    # every array's header is checked (dtype, declared size against the bytes present) before it is read
    arrays = read_npz(path, limit=loader_limit(size), max_bytes=DEFAULT_MAX_BYTES, fix=resave, not_zip_fix=resave)
    if "format" in arrays:
        del arrays
        obj = load(path)
        if not isinstance(obj, AttentionProblem):
            raise InvalidInputError(
                f"{path} holds a bare IR, not an attention problem",
                fix="pass the q, k, v tensors or a problem saved from qama compile",
            )
        return obj
    missing = sorted({"q", "k", "v"} - set(arrays))
    if missing:
        raise FileFormatError(
            f"{path}: missing arrays {missing} (found {sorted(arrays)[:20]})", fix=resave, path=str(path)
        )
    return arrays["q"], arrays["k"], arrays["v"]


def load_input(args: argparse.Namespace, *, stage: StageBytes | None = None) -> AttentionProblem:
    """The :class:`AttentionProblem` described by the parsed INPUT and lowering options.

    ``stage`` (bytes the command needs after lowering) makes the memory check cover the whole
    command: it runs before the random tensors are drawn and before lowering.
    """
    from ..core.lowering import lower_attention

    got = _tensors(args, stage)
    if isinstance(got, AttentionProblem):
        extra = _lowering_given(args) + [f"--{n}" for n in ("heads", "tokens") if getattr(args, n) is not None]
        if extra:
            raise InvalidInputError(
                f"INPUT {args.input!r} is an already-lowered problem; {', '.join(extra)} cannot change it",
                fix="drop those options, or pass the q, k, v tensors instead",
            )
        b, h, n, bits = got.shape
        if stage is not None:
            check_memory(
                stage(b, h, n, bits),
                what=f"qama {getattr(args, 'command', None) or 'command'} for B={b}, H={h}, N={n}, bits={bits}",
                fix="use a smaller problem or fewer --reads",
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
    qs, vs = np.shape(q), np.shape(v)
    if 2 <= len(qs) <= 4 and len(vs) == len(qs):
        full = (1,) * (4 - len(qs)) + tuple(int(x) for x in qs)
        check_plan(args, (full[0], full[1], full[2], max(full[3], int(vs[-1]))), stage=stage)
    opts = {
        key: (default if getattr(args, key, None) is None else getattr(args, key))
        for key, default in _LOWERING_DEFAULTS.items()
    }
    if opts["bits"] == "auto":  # J and h once, then the widest selection that fits the target
        return auto_bits(args, lower_attention(q, k, v, **{**opts, "bits": 1}))
    return lower_attention(q, k, v, **opts)

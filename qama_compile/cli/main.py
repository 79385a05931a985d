"""The ``qama`` command line. Subcommands live in ``qama_compile/cli/cmd_*.py`` modules.

Each ``cmd_<name>.py`` module defines ``register(subparsers)`` which adds its parser and
sets ``func`` (``args -> exit code``). Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from .._version import __version__
from ..base.atomic import Terminated, sigterm_as_interrupt
from ..errors import InvalidInputError, QamaError

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qama",
        description="Compile quantum-annealing multi-head attention (QAMA) problems to Ising hardware "
        "formats, inspect qubit counts, and solve them on interchangeable backends.",
        epilog="Run 'qama COMMAND --help' for examples. Documentation: docs/ in the repository.",
    )
    parser.add_argument("--version", action="version", version=f"qama-compile {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = importlib.import_module(__package__ or "qama_compile.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{package.__name__}.{info.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        for key, value in vars(args).items():  # in-process callers can pass what a shell cannot
            if any("\x00" in v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)):
                name = "INPUT" if key == "input" else "--" + key.replace("_", "-")
                raise InvalidInputError(f"{name} contains a NUL byte: {value!r}", fix="remove the NUL byte")
        with sigterm_as_interrupt():  # SIGTERM cleans up like Ctrl-C (temporary files removed)
            return int(args.func(args) or 0)
    except QamaError as exc:
        print(f"qama {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        print(
            f"qama {args.command}: error: out of memory; fix: use a smaller problem (--random, --heads, --tokens, "
            "--bits) or fewer reads",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated):
            print(f"qama {args.command}: terminated; no partial output was written", file=sys.stderr)
            return 128 + Terminated.signum
        print(f"qama {args.command}: interrupted; no partial output was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qama ... | head`: the reader left; not an error of ours
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

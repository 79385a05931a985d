"""CLI helpers for scale-out: ``--workers N`` / ``--scheduler ADDRESS`` and the client they ask for.

Commands that solve many problems call :func:`add_scale_arguments` on their parser and
:func:`client_from_args` (or the :func:`scale_client` context manager) in their handler,
then pass the client to :func:`qama_compile.runtime.many.solve_many`.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_scale_arguments(parser)
>>> args = parser.parse_args(["--workers", "2"])
>>> args.workers, args.scheduler, args.batch_size
(2, None, None)
>>> client_from_args(parser.parse_args([])) is None   # neither flag: serial, no cluster
True
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["add_scale_arguments", "client_from_args", "scale_client"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_scale_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers N`` | ``--scheduler ADDRESS`` (mutually exclusive) and ``--batch-size``."""
    group = parser.add_argument_group(
        "scale-out (Dask)", "solve on a Dask cluster; results equal the serial run with the same --seed"
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="start a local Dask cluster of N worker processes (one thread each)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="connect to a running Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="K",
        help="problems per Dask task (default: about 4 tasks per worker, at most 256)",
    )


def client_from_args(args: argparse.Namespace) -> Client | None:
    """A client for ``--workers`` / ``--scheduler``, or ``None`` (serial) when neither is given.

    The caller closes it; closing a ``--workers`` client also stops its local cluster.
    """
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        return None
    from ..runtime.executor import make_client

    return make_client(workers=workers, scheduler=scheduler)


@contextlib.contextmanager
def scale_client(args: argparse.Namespace) -> Iterator[Client | None]:
    """``with scale_client(args) as client:`` - :func:`client_from_args`, closed on exit."""
    client = client_from_args(args)
    try:
        yield client
    finally:
        if client is not None:
            client.close()

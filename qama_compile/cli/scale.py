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
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..base.memory import DASK_WORKER_BYTES, check_memory, describe_bytes
from ..errors import BackendError, InvalidInputError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["add_scale_arguments", "check_scale_arguments", "client_from_args", "scale_client"]


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
        help="start a local Dask cluster of N worker processes (one thread each); at most the CPU cores "
        "unless --force-workers",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="connect to a running Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )
    group.add_argument(
        "--force-workers",
        action="store_true",
        help="allow --workers above the number of CPU cores (memory is still checked)",
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="K",
        help="problems per Dask task (default: about 4 tasks per worker, at most 256)",
    )


_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")


def check_scale_arguments(args: argparse.Namespace) -> None:
    """Refuse ``--workers`` above the cores (unless ``--force-workers``) or over the memory budget, and
    a ``--scheduler`` that is not an address, before any cluster is started.

    >>> ns = argparse.Namespace(workers=None, scheduler="notanaddress", force_workers=False)
    >>> try:
    ...     check_scale_arguments(ns)
    ... except InvalidInputError as exc:
    ...     print(exc.fix)
    pass the address the Dask scheduler printed, e.g. tcp://10.0.0.5:8786
    """
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    if workers is not None:
        cores = os.cpu_count() or 1
        if workers > cores and not getattr(args, "force_workers", False):
            raise InvalidInputError(
                f"--workers {workers} is more than the {cores} CPU cores of this machine",
                fix=f"pass --workers {cores} or fewer, or add --force-workers",
            )
        check_memory(
            workers * DASK_WORKER_BYTES,
            what=f"--workers {workers} (about {describe_bytes(DASK_WORKER_BYTES)} per worker process)",
            fix="use fewer workers",
        )
    if scheduler is not None and not _ADDRESS.match(str(scheduler).strip()):
        raise InvalidInputError(
            f"--scheduler {scheduler!r} is not a Dask scheduler address (host:port, optionally tcp://)",
            fix="pass the address the Dask scheduler printed, e.g. tcp://10.0.0.5:8786",
        )


def client_from_args(args: argparse.Namespace) -> Client | None:
    """A client for ``--workers`` / ``--scheduler``, or ``None`` (serial) when neither is given.

    The caller closes it; closing a ``--workers`` client also stops its local cluster.
    """
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        return None
    check_scale_arguments(args)
    from ..runtime.executor import make_client

    try:
        return make_client(workers=workers, scheduler=scheduler)
    except (ValueError, TypeError, TimeoutError) as exc:  # distributed's address parsing, connection timeouts
        raise BackendError(
            f"cannot start or reach the Dask cluster ({type(exc).__name__}: {exc})",
            fix="check --scheduler's address and that the scheduler runs ('dask scheduler')",
            scheduler=scheduler,
        ) from exc


@contextlib.contextmanager
def scale_client(args: argparse.Namespace) -> Iterator[Client | None]:
    """``with scale_client(args) as client:`` - :func:`client_from_args`, closed on exit."""
    client = client_from_args(args)
    try:
        yield client
    finally:
        if client is not None:
            client.close()

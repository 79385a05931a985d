"""Run independent numpy tasks on a few threads (numpy releases the GIL inside its loops).

>>> out = [0] * 5
>>> def square(t: int, state: None) -> None:
...     out[t] = t * t
>>> run_tasks(5, square, workers=2)
>>> out
[0, 1, 4, 9, 16]
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import InvalidInputError

MAX_WORKERS = 8
S = TypeVar("S")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, so ``taskset`` is respected)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None, tasks: int) -> int:
    """``workers`` checked (a positive int or ``None`` for every available CPU, at most 8), capped at ``tasks``."""
    if workers is None:
        workers = min(available_cpus(), MAX_WORKERS)
    elif not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InvalidInputError(
            f"workers must be a positive integer or None, got {workers!r}",
            fix="pass workers=None (every available CPU) or a count such as 1 or 2",
            parameter="workers",
        )
    return max(1, min(workers, tasks))


def run_tasks(
    tasks: int,
    task: Callable[[int, S], Any],
    *,
    workers: int,
    state: Callable[[], S] = lambda: None,  # type: ignore[assignment,return-value]
) -> None:
    """Call ``task(t, s)`` for ``t = 0 .. tasks-1`` on ``workers`` threads (the caller is one).

    Each thread builds its own ``s = state()`` once (reusable buffers) and takes the next
    task index from a shared counter, so a loaded core does not hold back the others.
    The first exception stops every thread after its current task and is re-raised.
    """
    counter = itertools.count()
    failed = threading.Event()

    def loop() -> None:
        own = state()
        while not failed.is_set():
            t = next(counter)  # atomic under the GIL
            if t >= tasks:
                return
            try:
                task(t, own)
            except BaseException:
                failed.set()
                raise

    workers = max(1, min(workers, tasks))
    if workers == 1:
        loop()
        return
    with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="qama") as pool:
        futures = [pool.submit(loop) for _ in range(workers - 1)]
        try:
            loop()
        except BaseException:
            failed.set()
            raise
    for future in futures:
        future.result()

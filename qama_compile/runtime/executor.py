"""One executor for independent tasks: in this process, or on a Dask cluster, with one retry policy.

:func:`run_tasks` applies a function to every item and returns one :class:`TaskOutcome` per
item, in input order, whatever order they finished in. The policy is the same locally and
on a cluster:

* an exception raised *by the task* is recorded in its outcome (type and message) and the
  other tasks go on; it is never retried: the same inputs would fail the same way;
* a task whose *worker died* (``distributed.KilledWorker``, a lost connection) is
  resubmitted, up to ``retries`` times; after that its outcome records the failure.

:func:`make_client` starts a local cluster or connects to a scheduler; :func:`client_scope`
closes what it started.

>>> outcomes = run_tasks(lambda x: 10 // x, [5, 0, 2])
>>> [(o.value, o.error) for o in outcomes]
[(2, None), (None, ('ZeroDivisionError', 'integer division or modulo by zero')), (5, None)]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from ..base.optional import optional_import
from ..errors import BackendError, InvalidInputError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["TaskOutcome", "client_scope", "make_client", "max_workers", "run_tasks"]

T = TypeVar("T")
V = TypeVar("V")


@dataclass(frozen=True)
class TaskOutcome(Generic[V]):
    """The result of one task: ``value``, or ``error = (type name, message)``; ``attempts`` >= 1."""

    index: int
    value: V | None
    error: tuple[str, str] | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def _guarded(fn: Callable[[T], V], item: T) -> tuple[V | None, tuple[str, str] | None]:
    """Run ``fn(item)``; an exception becomes data (so a cluster sees only worker failures)."""
    try:
        return fn(item), None
    except Exception as exc:  # recorded, never retried: see the module docstring
        return None, (type(exc).__name__, str(exc))


def max_workers() -> int:
    """Cores available to this process (the default cap on ``workers``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def make_client(
    *, workers: int | None = None, scheduler: str | None = None, force: bool = False, timeout: float = 30.0
) -> Client:
    """A Dask client: a new ``LocalCluster`` of ``workers`` processes (one thread each), or a
    connection to the scheduler at ``scheduler``. Close it (or use :func:`client_scope`).

    ``workers`` may not exceed the cores available unless ``force=True``.
    """
    distributed = optional_import("distributed", purpose="solving on a Dask cluster")
    if workers is not None and scheduler is not None:
        raise InvalidInputError(
            "pass either workers (start a local cluster) or scheduler (connect to one), not both",
            fix="drop one of --workers / --scheduler",
        )
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler.strip():
            raise InvalidInputError(
                f"scheduler must be an address like 'tcp://host:8786', got {scheduler!r}",
                fix="pass the address the dask scheduler printed",
            )
        try:
            return distributed.Client(scheduler, timeout=timeout)
        except (OSError, ValueError, TypeError) as exc:
            raise BackendError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}",
                fix="start it with 'dask scheduler' and check the address and firewall",
                scheduler=scheduler,
            ) from exc
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}", fix="pass e.g. workers=2")
    cores = max_workers()
    if workers > cores and not force:
        raise InvalidInputError(
            f"workers={workers} exceeds the {cores} cores available",
            fix=f"pass at most {cores} workers (or force=True / --force-workers to oversubscribe)",
            workers=int(workers),
            cores=cores,
        )
    return distributed.Client(n_workers=int(workers), processes=True, threads_per_worker=1, dashboard_address=None)


@contextlib.contextmanager
def client_scope(
    client: Client | None = None, *, workers: int | None = None, scheduler: str | None = None, force: bool = False
) -> Iterator[Client | None]:
    """The given client (left open), a new one for ``workers`` / ``scheduler`` (closed after), or ``None``."""
    if client is not None:
        if workers is not None or scheduler is not None:
            raise InvalidInputError("pass client, or workers / scheduler, not both", fix="drop workers and scheduler")
        yield client
        return
    if workers is None and scheduler is None:
        yield None
        return
    own = make_client(workers=workers, scheduler=scheduler, force=force)
    try:
        yield own
    finally:
        own.close()


def run_tasks(
    fn: Callable[[T], V],
    items: Sequence[T],
    *,
    client: Client | None = None,
    retries: int = 2,
    on_done: Callable[[TaskOutcome[V]], None] | None = None,
) -> list[TaskOutcome[V]]:
    """``fn(item)`` for every item, in this process (``client=None``) or on the cluster.

    Args:
        fn: a picklable function of one item (on a cluster it runs on a worker).
        items: the inputs; outcome ``i`` belongs to ``items[i]``.
        client: a ``distributed.Client``, or ``None`` to run here, in order.
        retries: resubmissions of a task whose worker died (see the module docstring).
        on_done: called with each outcome as it completes (e.g. to advance a progress bar).
    """
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise InvalidInputError(f"retries must be an integer >= 0, got {retries!r}", fix="pass e.g. retries=2")
    outcomes: list[TaskOutcome[V] | None] = [None] * len(items)

    def finish(outcome: TaskOutcome[V]) -> None:
        outcomes[outcome.index] = outcome
        if on_done is not None:
            on_done(outcome)

    if client is None:
        for i, item in enumerate(items):
            value, error = _guarded(fn, item)
            finish(TaskOutcome(i, value, error))
    else:
        _on_cluster(client, fn, items, int(retries), finish)
    return [o for o in outcomes if o is not None]


def _on_cluster(
    client: Client, fn: Callable[[T], V], items: Sequence[T], retries: int, finish: Callable[[TaskOutcome[V]], None]
) -> None:
    distributed = optional_import("distributed", purpose="solving on a Dask cluster")
    index_of: dict[Any, int] = {}
    attempts = [1] * len(items)
    futures = []
    for i, item in enumerate(items):
        fut = client.submit(_guarded, fn, item, pure=False, retries=0)
        index_of[fut.key] = i
        futures.append(fut)
    pending = distributed.as_completed(futures)
    for fut in pending:
        i = index_of[fut.key]
        try:
            value, error = fut.result()
        except Exception as exc:  # the worker died or the connection was lost: infrastructure
            if attempts[i] <= retries:
                attempts[i] += 1
                new = client.submit(_guarded, fn, items[i], pure=False, retries=0)
                index_of[new.key] = i
                pending.add(new)
                continue
            value, error = None, (type(exc).__name__, f"{exc} (worker failed; {retries} resubmissions exhausted)")
        finish(TaskOutcome(i, value, error, attempts[i]))
        fut.release()

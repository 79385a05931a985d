"""Solve many QAMA problems at once, serially or on a Dask distributed cluster.

:func:`solve_many` flattens its input into a list of single problems (global index
``0..P-1``), cuts the list into batches and solves each batch with
:func:`qama_compile.solve` - in this process when no cluster is asked for, otherwise as
one Dask task per batch. Problem ``i`` always gets seed ``seed + i`` (the same rule as
:func:`qama_compile.solve` uses within a batch), so results do not depend on batching,
on the number of workers, or on which worker ran what: the distributed run returns the
same samples, energies and order as the serial run.

Robustness: a problem that raises is recorded in :attr:`ManyResult.failures` as
``(index, error type, message)`` and the others complete; a batch whose worker dies is
rescheduled by the Dask scheduler and, should it still fail (``KilledWorker``),
resubmitted up to ``retries`` more times by the client. See docs/scaling.md.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 2, 3, 4)), bits=1)
>>> result = solve_many(problem, backend="exact", seed=0, batch_size=2, progress=False)
>>> result.num_problems, result.failures, result.energies.shape
(4, [], (4,))
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..base.optional import optional_import
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError

if TYPE_CHECKING:
    import dimod
    from distributed import Client

__all__ = ["ManyResult", "make_client", "problem_seed", "solve_many"]

#: Batches per worker thread when ``batch_size`` is automatic (load balance vs overhead).
_BATCHES_PER_THREAD = 4
_MAX_AUTO_BATCH = 256


@dataclass(frozen=True, eq=False)
class ManyResult:
    """Per-problem results of :func:`solve_many`, in the order of the input.

    Attributes:
        samples: best binary assignment ``[V_i]`` per problem (``None`` if it failed).
        energies: its energy, ``[P]`` (NaN where the problem failed).
        weights: token weights ``[H_i, N_i]`` per problem (``None`` if it failed).
        failures: ``(index, error type, message)`` for every failed problem, by index.
        info: ``backend``, ``seed``, ``num_reads``, ``mode`` (``"serial"`` /
            ``"distributed"``), ``batch_size``, ``batches``, ``resubmitted`` (batches the
            client resubmitted after a worker death), ``solve_time_s`` (``[P]``, the
            backend's time per problem, NaN if failed) and ``wall_time_s``.
    """

    samples: list[NDArray[np.int8] | None]
    energies: NDArray[np.float64]
    weights: list[NDArray[np.float64] | None]
    failures: list[tuple[int, str, str]]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_problems(self) -> int:
        return len(self.samples)

    @property
    def ok(self) -> bool:
        """Whether every problem was solved."""
        return not self.failures

    @property
    def succeeded(self) -> NDArray[np.bool_]:
        """Mask ``[P]`` of the problems that were solved."""
        return np.array([s is not None for s in self.samples], dtype=bool)

    def stacked(self) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
        """``(samples [P, V], weights [P, H, N])`` when all problems share one shape and succeeded."""
        if self.failures:
            raise InvalidInputError(
                f"{len(self.failures)} problem(s) failed (first: index {self.failures[0][0]})",
                fix="inspect ManyResult.failures, or stack result.samples[i] for the successful ones",
            )
        shapes = {s.shape for s in self.samples if s is not None}
        if len(shapes) > 1:
            raise InvalidInputError(
                f"problems have different variable counts {sorted(shapes)}; they cannot be stacked",
                fix="index result.samples per problem",
            )
        if not self.samples:
            return np.zeros((0, 0), dtype=np.int8), np.zeros((0, 0, 0))
        return (
            np.stack([s for s in self.samples if s is not None]),
            np.stack([w for w in self.weights if w is not None]),
        )


# --------------------------------------------------------------------------- seeds and inputs
def problem_seed(seed: int | None, index: int) -> int | None:
    """The seed of global problem ``index``: ``seed + index`` (``None`` stays ``None``).

    The same rule :func:`qama_compile.solve` applies within a batch, so
    ``solve_many(problem, seed=s)`` equals ``solve(problem, seed=s)``.

    >>> problem_seed(10, 3), problem_seed(None, 3)
    (13, None)
    """
    return None if seed is None else int(seed) + int(index)


def _flatten(problems: Sequence[AttentionProblem] | AttentionProblem) -> list[AttentionProblem]:
    """One single-item :class:`AttentionProblem` per problem, in global index order."""
    items = [problems] if isinstance(problems, AttentionProblem) else problems
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InvalidInputError(
            f"solve_many takes an AttentionProblem or a sequence of them, got {type(problems).__name__}",
            fix="build problems with qama_compile.lower_attention(q, k, v)",
        )
    out: list[AttentionProblem] = []
    for position, item in enumerate(items):
        if not isinstance(item, AttentionProblem):
            raise InvalidInputError(
                f"item {position} of problems is a {type(item).__name__}, not an AttentionProblem",
                fix="build problems with qama_compile.lower_attention(q, k, v)",
                index=position,
            )
        if item.batch_size == 1:
            out.append(item)
        else:
            out.extend(item.select([b]) for b in range(item.batch_size))
    return out


# --------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class _Outcome:
    index: int
    samples: NDArray[np.int8] | None
    energy: float
    weights: NDArray[np.float64] | None
    solve_time_s: float
    error: tuple[str, str] | None = None


def _solve_batch(
    batch: Sequence[tuple[int, AttentionProblem]],
    backend: str | dimod.Sampler,
    num_reads: int | None,
    seed: int | None,
    backend_options: Mapping[str, Any] | None,
) -> list[_Outcome]:
    """Solve one batch (runs on a worker, or in-process when serial). Never raises per problem."""
    from .registry import get_backend
    from .solve import solve

    outcomes: list[_Outcome] = []
    try:
        sampler = get_backend(backend, **dict(backend_options or {})) if isinstance(backend, str) else backend
    except Exception as exc:  # the backend cannot be built: every problem of the batch fails
        return [_Outcome(i, None, math.nan, None, math.nan, (type(exc).__name__, str(exc))) for i, _ in batch]
    for index, problem in batch:
        t0 = time.perf_counter()
        try:
            result = solve(problem, backend=sampler, num_reads=num_reads, seed=problem_seed(seed, index))
        except Exception as exc:  # report and go on with the rest
            outcomes.append(_Outcome(index, None, math.nan, None, math.nan, (type(exc).__name__, str(exc))))
            continue
        outcomes.append(
            _Outcome(
                index,
                result.samples[0],
                float(result.energies[0]),
                result.weights[0],
                float(sum(result.info.get("wall_time_s", [time.perf_counter() - t0]))),
            )
        )
    return outcomes


# --------------------------------------------------------------------------- clusters
def make_client(*, workers: int | None = None, scheduler: str | None = None, **cluster_options: Any) -> Client:
    """A Dask client: a new ``LocalCluster`` of ``workers`` processes (one thread each), or
    a connection to the scheduler at ``scheduler``. Close it (or use ``with``) when done;
    closing a client made for ``workers`` also shuts its cluster down."""
    distributed = optional_import("distributed", purpose="solving on a Dask cluster")
    if workers is not None and scheduler is not None:
        raise InvalidInputError(
            "pass either workers (start a local cluster) or scheduler (connect to one), not both",
            fix="drop one of --workers / --scheduler",
        )
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise InvalidInputError(
                f"scheduler must be an address like 'tcp://host:8786', got {scheduler!r}",
                fix="pass the address the dask scheduler printed",
            )
        try:
            return distributed.Client(scheduler, timeout=cluster_options.pop("timeout", 30))
        except OSError as exc:
            from ..errors import BackendError

            raise BackendError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}",
                fix="start it with 'dask scheduler' and check the address and firewall",
                scheduler=scheduler,
            ) from exc
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}", fix="pass e.g. workers=4")
    options = {"processes": True, "threads_per_worker": 1, "dashboard_address": None, **cluster_options}
    return distributed.Client(n_workers=int(workers), **options)


@contextlib.contextmanager
def _client_scope(client: Client | None, workers: int | None, scheduler: str | None) -> Iterator[Client | None]:
    if client is not None:
        if workers is not None or scheduler is not None:
            raise InvalidInputError("pass client, or workers / scheduler, not both", fix="drop workers and scheduler")
        yield client
        return
    if workers is None and scheduler is None:
        yield None
        return
    own = make_client(workers=workers, scheduler=scheduler)
    try:
        yield own
    finally:
        own.close()


def _auto_batch_size(num: int, client: Client | None) -> int:
    if client is None:
        return max(1, min(_MAX_AUTO_BATCH, num))
    try:
        threads = max(1, sum(client.nthreads().values()))
    except Exception:  # pragma: no cover - a scheduler without workers yet
        threads = 1
    return max(1, min(_MAX_AUTO_BATCH, math.ceil(num / (threads * _BATCHES_PER_THREAD))))


# --------------------------------------------------------------------------- solve_many
def solve_many(
    problems: Sequence[AttentionProblem] | AttentionProblem,
    *,
    backend: str | dimod.Sampler = "exact",
    num_reads: int | None = None,
    seed: int | None = 0,
    client: Client | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    retries: int = 2,
    progress: bool = True,
    backend_options: Mapping[str, Any] | None = None,
) -> ManyResult:
    """Solve every problem, on a Dask cluster when one is given or asked for.

    Args:
        problems: an :class:`AttentionProblem` (each batch item is a problem) or a sequence
            of them (of any shapes); problems are numbered ``0..P-1`` in that order.
        backend: a backend name (built on each worker with ``backend_options``) or a
            picklable ``dimod.Sampler``.
        num_reads: reads per problem, where the backend accepts it.
        seed: problem ``i`` gets ``seed + i`` (see :func:`problem_seed`); ``None`` unseeded.
        client: an existing ``distributed.Client`` (left open).
        workers: start a ``LocalCluster`` of this many processes (closed afterwards).
        scheduler: connect to this scheduler address (closed afterwards).
        batch_size: problems per task; default about four tasks per worker thread (at most
            256 problems), or everything in one batch when serial. Results do not depend on it.
        retries: task retries on errors (``client.submit(retries=...)``) and client-side
            resubmissions of a batch whose worker died (``KilledWorker``).
        progress: show a tqdm bar that advances as batches finish.
        backend_options: constructor options for a named backend.

    Returns:
        A :class:`ManyResult`; failed problems are listed in ``failures`` with their index.
    """
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise InvalidInputError(f"retries must be an integer >= 0, got {retries!r}", fix="pass e.g. retries=2")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}", fix="pass e.g. 64")
    if not isinstance(backend, str) and not hasattr(backend, "sample"):
        raise InvalidInputError(
            f"backend must be a name or a dimod.Sampler, got {type(backend).__name__}",
            fix="pass e.g. backend='exact'",
        )
    singles = _flatten(problems)
    num = len(singles)
    name = backend if isinstance(backend, str) else type(backend).__name__
    t0 = time.perf_counter()
    outcomes: dict[int, _Outcome] = {}
    tqdm = optional_import("tqdm", purpose="progress bars").tqdm
    with _client_scope(client, workers, scheduler) as active:
        size = int(batch_size) if batch_size is not None else _auto_batch_size(num, active)
        batches = [
            list(zip(range(s, min(s + size, num)), singles[s : s + size], strict=True)) for s in range(0, num, size)
        ]
        args = (backend, num_reads, seed, dict(backend_options or {}))
        bar = tqdm(total=num, unit="problem", desc=f"solve {name}", disable=not progress, leave=False)
        resubmitted = 0
        try:
            if active is None:
                for batch in batches:
                    for outcome in _solve_batch(batch, *args):
                        outcomes[outcome.index] = outcome
                    bar.update(len(batch))
            else:
                resubmitted = _run_on_cluster(active, batches, args, retries, outcomes, bar)
        finally:
            bar.close()
        mode = "serial" if active is None else "distributed"
    return _assemble(
        num,
        outcomes,
        info={
            "backend": name,
            "seed": seed,
            "num_reads": num_reads,
            "mode": mode,
            "batch_size": size,
            "batches": len(batches),
            "resubmitted": resubmitted,
            "wall_time_s": time.perf_counter() - t0,
        },
    )


def _run_on_cluster(
    client: Client,
    batches: list[list[tuple[int, AttentionProblem]]],
    args: tuple[Any, ...],
    retries: int,
    outcomes: dict[int, _Outcome],
    bar: Any,
) -> int:
    distributed = optional_import("distributed", purpose="solving on a Dask cluster")
    killed_worker = distributed.KilledWorker
    batch_of: dict[Any, int] = {}  # future key -> batch number
    attempts = [0] * len(batches)
    futures = []
    for i, batch in enumerate(batches):
        fut = client.submit(_solve_batch, batch, *args, retries=retries, pure=False)
        batch_of[fut.key] = i
        futures.append(fut)
    resubmitted = 0
    pending = distributed.as_completed(futures)
    for fut in pending:
        i = batch_of[fut.key]
        try:
            results = fut.result()
        except killed_worker as exc:
            if attempts[i] < retries:  # its worker died (again): run the batch once more
                attempts[i] += 1
                resubmitted += 1
                new = client.submit(_solve_batch, batches[i], *args, retries=retries, pure=False)
                batch_of[new.key] = i
                pending.add(new)
                continue
            results = _batch_failed(batches[i], exc, note=f" (worker died; {retries} resubmissions exhausted)")
        except Exception as exc:  # the task itself failed after its retries
            results = _batch_failed(batches[i], exc)
        for outcome in results:
            outcomes[outcome.index] = outcome
        bar.update(len(batches[i]))
        fut.release()
    return resubmitted


def _batch_failed(batch: Sequence[tuple[int, AttentionProblem]], exc: BaseException, note: str = "") -> list[_Outcome]:
    return [_Outcome(i, None, math.nan, None, math.nan, (type(exc).__name__, f"{exc}{note}")) for i, _ in batch]


def _assemble(num: int, outcomes: dict[int, _Outcome], *, info: dict[str, Any]) -> ManyResult:
    samples: list[NDArray[np.int8] | None] = []
    weights: list[NDArray[np.float64] | None] = []
    energies = np.full(num, np.nan)
    times = np.full(num, np.nan)
    failures: list[tuple[int, str, str]] = []
    for i in range(num):
        out = outcomes.get(i) or _Outcome(i, None, math.nan, None, math.nan, ("MissingResult", "no result returned"))
        samples.append(out.samples)
        weights.append(out.weights)
        energies[i] = out.energy
        times[i] = out.solve_time_s
        if out.error is not None:
            failures.append((i, *out.error))
    return ManyResult(
        samples=samples, energies=energies, weights=weights, failures=failures, info={**info, "solve_time_s": times}
    )

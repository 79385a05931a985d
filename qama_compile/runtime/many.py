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
resubmitted up to ``retries`` times (the one policy of :mod:`qama_compile.runtime.executor`).
See docs/scaling.md.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 4, 2, 3, 4)), bits=1)
>>> result = solve_many(problem, backend="exact", seed=0, batch_size=2, progress=False)
>>> result.num_problems, result.failures, result.energies.shape
(4, [], (4,))
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..base.optional import optional_import
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from .executor import TaskOutcome, client_scope, run_tasks
from .registry import as_sampler
from .solve import solve

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ManyResult", "problem_seed", "solve_many"]

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
def _solve_batch(args: tuple[Sequence[tuple[int, AttentionProblem]], Any, int | None, int | None, Any]) -> list[Any]:
    """Solve one batch of single problems; per problem ``(index, SolveResult | None, error | None)``.

    Runs on a worker (or here when serial). The backend is built once per batch; a problem
    that raises is recorded and the others go on.
    """
    batch, backend, num_reads, seed, options = args
    try:
        sampler, _ = as_sampler(backend, options)
    except Exception as exc:  # the backend cannot be built: every problem of the batch fails
        return [(i, None, (type(exc).__name__, str(exc))) for i, _ in batch]
    out: list[Any] = []
    for index, problem in batch:
        try:
            out.append(
                (index, solve(problem, backend=sampler, num_reads=num_reads, seed=problem_seed(seed, index)), None)
            )
        except Exception as exc:  # report and go on with the rest
            out.append((index, None, (type(exc).__name__, str(exc))))
    return out


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
    backend: Any = "exact",
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
            picklable sampler.
        num_reads: reads per problem, where the backend accepts it.
        seed: problem ``i`` gets ``seed + i`` (see :func:`problem_seed`); ``None`` unseeded.
        client: an existing ``distributed.Client`` (left open).
        workers: start a ``LocalCluster`` of this many processes (closed afterwards).
        scheduler: connect to this scheduler address (closed afterwards).
        batch_size: problems per task; default about four tasks per worker thread (at most
            256 problems), or everything in one batch when serial. Results do not depend on it.
        retries: resubmissions of a batch whose worker died (the executor's one policy,
            :mod:`qama_compile.runtime.executor`).
        progress: show a tqdm bar that advances as batches finish.
        backend_options: constructor options for a named backend.

    Returns:
        A :class:`ManyResult`; failed problems are listed in ``failures`` with their index.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}", fix="pass e.g. 64")
    if not isinstance(backend, str) and not (hasattr(backend, "sample") or hasattr(backend, "sample_ir")):
        raise InvalidInputError(
            f"backend must be a name or a sampler, got {type(backend).__name__}", fix="pass e.g. backend='exact'"
        )
    singles = _flatten(problems)
    num = len(singles)
    name = backend if isinstance(backend, str) else type(backend).__name__
    t0 = time.perf_counter()
    tqdm = optional_import("tqdm", purpose="progress bars").tqdm
    results: dict[int, Any] = {}
    errors: dict[int, tuple[str, str]] = {}
    with client_scope(client, workers=workers, scheduler=scheduler) as active:
        size = int(batch_size) if batch_size is not None else _auto_batch_size(num, active)
        batches = [
            list(zip(range(s, min(s + size, num)), singles[s : s + size], strict=True)) for s in range(0, num, size)
        ]
        options = dict(backend_options or {})
        bar = tqdm(total=num, unit="problem", desc=f"solve {name}", disable=not progress, leave=False)

        def done(outcome: TaskOutcome[list[Any]]) -> None:
            batch = batches[outcome.index]
            if outcome.error is not None:  # the whole batch was lost (its worker kept dying)
                errors.update({i: outcome.error for i, _ in batch})
            else:
                for i, res, err in outcome.value or []:
                    if err is None:
                        results[i] = res
                    else:
                        errors[i] = err
            bar.update(len(batch))

        try:
            outcomes = run_tasks(
                _solve_batch,
                [(b, backend, num_reads, seed, options) for b in batches],
                client=active,
                retries=retries,
                on_done=done,
            )
        finally:
            bar.close()
        mode = "serial" if active is None else "distributed"
    return _assemble(
        num,
        results,
        errors,
        info={
            "backend": name,
            "seed": seed,
            "num_reads": num_reads,
            "mode": mode,
            "batch_size": size,
            "batches": len(batches),
            "resubmitted": sum(o.attempts - 1 for o in outcomes),
            "wall_time_s": time.perf_counter() - t0,
        },
    )


def _assemble(
    num: int, results: dict[int, Any], errors: dict[int, tuple[str, str]], *, info: dict[str, Any]
) -> ManyResult:
    samples: list[NDArray[np.int8] | None] = []
    weights: list[NDArray[np.float64] | None] = []
    energies = np.full(num, np.nan)
    times = np.full(num, np.nan)
    failures: list[tuple[int, str, str]] = []
    for i in range(num):
        res = results.get(i)
        if res is None:
            samples.append(None)
            weights.append(None)
            failures.append((i, *errors.get(i, ("MissingResult", "no result returned"))))
            continue
        samples.append(res.samples[0])
        weights.append(res.weights[0])
        energies[i] = float(res.energies[0])
        times[i] = float(sum(res.info.wall_time_s))
    return ManyResult(
        samples=samples, energies=energies, weights=weights, failures=failures, info={**info, "solve_time_s": times}
    )

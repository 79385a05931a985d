"""Solve a decomposition: block-coordinate descent with subproblems that fit a backend or target.

For a block ``S`` with the rest fixed at ``x_R`` the subproblem of the QUBO
``E(x) = c + a.x + x^T U x`` (``U`` strictly upper triangular) is::

    E(x_S | x_R) = x_S^T U_SS x_S + (a_S + (U_SR + U_RS^T) x_R) . x_S + const(x_R)

(:func:`~qama_compile.passes.reduce.condition` builds it, batched over problems). Each
block is handed to the sampler through :func:`~qama_compile.runtime.sampling.sample_batch`;
its best sample is accepted only if the full energy does not increase, so the energy after
every block (``history``) is monotone non-increasing. The partition comes from
:func:`~qama_compile.passes.decompose.plan_blocks` (or a
:class:`~qama_compile.passes.reports.DecomposePlan` from the compiler). See
docs/decomposition.md.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 3, 3, 4)), bits=2)
>>> result = solve_decomposed(problem.ir, sampler="exact", max_variables=6, seed=0)
>>> [len(b) for b in result.info["blocks"]], result.info["strategy"]
([6, 6, 6], 'head')
>>> bool(np.all(np.diff(result.history, axis=1) <= 0))
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dimod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from ..passes.decompose import DecomposePlan, Strategy, alternate_plans, plan_blocks
from ..passes.reduce import condition
from .registry import as_sampler
from .sampling import SEED_MAX, sample_batch

__all__ = ["DecomposeResult", "solve_decomposed"]


@dataclass(frozen=True, eq=False)
class DecomposeResult:
    """Output of :func:`solve_decomposed`.

    Attributes:
        samples: best binary assignment per problem, ``[B, V]`` (int8).
        energies: its energy, ``[B]`` (recomputed from the IR).
        history: energy after every block visit, ``[B, steps]`` (non-increasing per row;
            column 0 is the energy of the start; with restarts, the best over restarts).
        info: ``blocks`` (index lists), ``strategy``, ``sweeps_run``, ``sampler_calls``,
            ``accepted`` (moves that changed the assignment, per problem), ``wall_time_s``.
    """

    samples: NDArray[np.int8]
    energies: NDArray[np.float64]
    history: NDArray[np.float64]
    info: dict[str, Any] = field(default_factory=dict)


def _block_seed(seed: int | None, sweep: int, block: int, rows: int) -> int | None:
    """A seed for one block visit; ``+ row`` must stay below 2**31 for every problem row."""
    if seed is None:
        return None
    state = np.random.SeedSequence([int(seed), sweep, block]).generate_state(1)[0]
    return int(state) % (SEED_MAX - rows + 1)


def _initial(initial: ArrayLike | None, b: int, v: int) -> NDArray[np.int8]:
    if initial is None:
        return np.zeros((b, v), dtype=np.int8)
    x = np.asarray(initial)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != v or x.shape[0] not in (1, b):
        raise InvalidInputError(
            f"initial must be [{v}] or [{b}, {v}] binary, got shape {np.shape(initial)}",
            fix="pass one 0/1 assignment per problem",
        )
    if not np.all((x == 0) | (x == 1)):
        raise InvalidInputError("initial must be binary (0/1)", fix="convert spins with (s + 1) // 2")
    return np.broadcast_to(x, (b, v)).astype(np.int8)


def solve_decomposed(
    ir: QuadraticIR,
    *,
    sampler: dimod.Sampler | str,
    max_variables: int,
    strategy: Strategy = "auto",
    sweeps: int = 10,
    restarts: int = 1,
    alternate: bool = True,
    num_reads: int | None = None,
    seed: int | None = None,
    initial: ArrayLike | None = None,
    plan: DecomposePlan | None = None,
    tol: float = 1e-9,
    sampler_options: Mapping[str, Any] | None = None,
    sample_options: Mapping[str, Any] | None = None,
) -> DecomposeResult:
    """Minimise every problem of ``ir`` by block-coordinate descent with subproblems that fit.

    Args:
        ir: BINARY or SPIN IR (a SPIN IR is solved in its QUBO form; samples are binary).
        sampler: a backend name (see :func:`qama_compile.available_backends`) or any
            ``dimod.Sampler``; it solves every subproblem through
            :func:`~qama_compile.runtime.sampling.sample_batch`, so a backend with a batched
            ``sample_ir`` (``exact``, ``cim``) takes all problems and restarts of a block in
            one call.
        max_variables: largest subproblem (e.g. the backend's or target's limit).
        strategy: ``"head"``, ``"tokens"`` or ``"auto"`` (see :func:`plan_blocks`).
        sweeps: at most this many passes over all blocks; stops once a full cycle of
            partitions lowers no problem's energy by more than ``tol`` (one sweep if one
            block holds everything).
        restarts: independent descents per problem, run as one expanded batch: the first
            starts from ``initial``, the others from seeded uniform random assignments;
            the lowest final energy wins and ``history`` is the best-so-far over restarts.
        alternate: cycle the sweeps through the primary plan and the partitions of
            :func:`alternate_plans` (blocks straddling the primary boundaries).
        num_reads: reads per subproblem, where the sampler accepts it.
        seed: base seed; the block visit ``(sweep, k)`` gets a seed derived from
            ``(seed, sweep, k)`` (problem rows then get ``+ row`` on the dimod route). Same
            seed, same result.
        initial: starting assignment ``[V]`` or ``[B, V]`` (0/1); default all zeros.
        plan: a precomputed :class:`DecomposePlan` (e.g. from :class:`DecomposePass`).
        tol: improvement below this does not count as progress for stopping.
        sampler_options: constructor options when ``sampler`` is a name.
        sample_options: extra keywords for ``sampler.sample``.
    """
    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)) or sweeps < 1:
        raise InvalidInputError(f"sweeps must be a positive integer, got {sweeps!r}", fix="pass e.g. sweeps=10")
    qubo = ir.to_binary()
    b, v = qubo.batch_size, qubo.num_variables
    plan = plan if plan is not None else plan_blocks(qubo, max_variables=max_variables, strategy=strategy)
    covered = np.sort(np.concatenate(plan.blocks)) if plan.blocks else np.zeros(0, dtype=np.int64)
    if not np.array_equal(covered, np.arange(v)):
        raise InvalidInputError(
            f"the plan's blocks must cover each of the {v} variables exactly once",
            fix="build the plan with plan_blocks(ir, ...) for this IR",
        )
    if plan.blocks and max(plan.sizes) > max_variables:
        raise InvalidInputError(
            f"the plan has a block of {max(plan.sizes)} variables, over max_variables={max_variables}",
            fix="build the plan with the same max_variables",
        )
    smp, name = as_sampler(sampler, sampler_options)
    backend_limit = (getattr(smp, "properties", None) or {}).get("max_variables")
    if backend_limit is not None and plan.blocks and max(plan.sizes) > int(backend_limit):
        raise InvalidInputError(
            f"subproblems of up to {max(plan.sizes)} variables exceed the {name!r} backend limit of "
            f"{backend_limit} variables",
            fix=f"pass max_variables <= {backend_limit}",
        )
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise InvalidInputError(f"restarts must be a positive integer, got {restarts!r}", fix="pass e.g. restarts=4")
    t0 = time.perf_counter()
    r = int(restarts)
    # restart j of problem p is row p * r + j of an expanded batch: all restarts run together
    owner = np.repeat(np.arange(b), r)
    trial = np.tile(np.arange(r), b)
    big = qubo.select(owner) if r > 1 else qubo
    x = np.repeat(_initial(initial, b, v), r, axis=0)
    if r > 1:
        rng = np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 0x5EED]))
        random_start = rng.integers(0, 2, size=x.shape, dtype=np.int8)
        x[trial > 0] = random_start[trial > 0]
    energy = big.energies(x[:, None, :])[:, 0]
    history = [energy.copy()]
    accepted = np.zeros(b * r, dtype=np.int64)
    calls = 0
    sweeps_run = 0
    max_sweeps = 1 if len(plan.blocks) == 1 else int(sweeps)
    plans = [plan, *alternate_plans(qubo, plan)] if alternate else [plan]
    everything = np.arange(v)
    extra = dict(sample_options or {})
    stalled = 0
    for sweep in range(max_sweeps):
        sweeps_run += 1
        start_energy = energy.copy()
        for k, block in enumerate(plans[sweep % len(plans)].blocks):
            rest = np.setdiff1d(everything, block, assume_unique=True)
            sub = condition(big, rest, x[:, rest])  # [B*R, |S|]; its energies are full energies
            candidate = x.copy()
            out = sample_batch(
                sub, smp, num_reads=num_reads, seed=_block_seed(seed, sweep, k, sub.batch_size), name=name, **extra
            )
            calls += 1 if out.route == "batched" else sub.batch_size
            candidate[:, block] = out.best()[0]
            new_energy = big.energies(candidate[:, None, :])[:, 0]
            take = new_energy <= energy  # accept only if the full energy does not increase
            accepted += take & np.any(candidate != x, axis=1)
            x[take] = candidate[take]
            energy = np.where(take, new_energy, energy)
            history.append(energy.copy())
        stalled = 0 if np.any(energy < start_energy - tol) else stalled + 1
        if stalled >= len(plans):  # a full cycle of partitions without progress
            break
    per_trial = energy.reshape(b, r)
    best = np.argmin(per_trial, axis=1)  # first restart wins ties
    pick = np.arange(b) * r + best
    trace = np.stack(history, axis=1).reshape(b, r, -1).min(axis=1)  # best so far over restarts
    return DecomposeResult(
        samples=x[pick],
        energies=energy[pick],
        history=trace,
        info={
            "backend": name,
            "strategy": plan.strategy,
            "max_variables": plan.max_variables,
            "blocks": [blk.tolist() for blk in plan.blocks],
            "sweeps_run": sweeps_run,
            "restarts": r,
            "alternates": {pl.strategy: [blk.tolist() for blk in pl.blocks] for pl in plans[1:]},
            "best_restart": best,
            "restart_energies": per_trial,
            "sampler_calls": calls,
            "accepted": accepted.reshape(b, r).sum(axis=1),
            "seed": seed,
            "num_reads": num_reads,
            "wall_time_s": time.perf_counter() - t0,
        },
    )

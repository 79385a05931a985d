"""Solve a batch of QAMA problems on a backend and decode the masks.

Every sample goes through :func:`~qama_compile.runtime.sampling.sample_batch`, so every
energy a backend returns is recomputed from the IR and checked. With a ``target`` the batch
is compiled first and each problem's physical samples are decoded on their own (chains
unembedded, ancilla gauge undone) before their logical energies are recomputed. With
``decompose=True`` a problem too large for the target (or the backend) is solved block by
block (:func:`~qama_compile.runtime.decompose.solve_decomposed`).

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> result = solve(problem, backend="exact")
>>> bool(np.isclose(result.energies[0], problem.energies(result.samples[:, None])[0, 0]))
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..compiler.compiled import CompiledProblem
from ..compiler.driver import compile as compile_problem
from ..compiler.driver import plan_decomposition
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, ProblemTooLargeError
from ..passes.reduce import ground_state_triviality
from ..targets.target import Target
from .decompose import solve_decomposed
from .registry import as_sampler
from .sampling import BatchSamples, best_reads, check_num_reads, check_seed, default_num_reads, sample_batch

__all__ = ["SolveInfo", "SolveResult", "solve"]


@dataclass(frozen=True)
class SolveInfo:
    """Facts about one :func:`solve` call (typed; ``as_dict()`` for JSON).

    Attributes:
        backend: the backend's name.
        num_reads: reads per problem (the backend's ``default_num_reads`` when not given).
        seed: the base seed (problem ``b`` gets ``seed + b`` on the dimod route).
        route: ``"batched"`` (one ``sample_ir`` call), ``"dimod"`` (one ``sample`` per
            problem) or ``"decomposed"``.
        wall_time_s: per problem, the sampler's wall time.
        target: the target name, when compiled for one.
        physical_qubits: qubits of the compiled problem, when compiled.
        chain_break_fraction: per problem, when compiled.
        backend_info: what the backend reported (one mapping per call).
        trivial: per problem, whether strict roof duality alone fixes every variable to a
            ground state that selects every token (no sampler was needed; empty when not
            checked), see :func:`qama_compile.passes.reduce.ground_state_triviality`.
        note: one line saying so when some problem is trivial, else ``None``.
    """

    backend: str
    num_reads: int | None
    seed: int | None
    route: str
    wall_time_s: tuple[float, ...]
    target: str | None = None
    physical_qubits: int | None = None
    chain_break_fraction: tuple[float, ...] = ()
    backend_info: tuple[Mapping[str, Any], ...] = ()
    trivial: tuple[bool, ...] = ()
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        from ..base.jsonutil import to_jsonable

        out: dict[str, Any] = to_jsonable(self.__dict__)
        return out


@dataclass(frozen=True, eq=False)
class SolveResult:
    """Best solution per problem, decoded, with every read.

    Attributes:
        samples: best binary assignment per problem, ``[B, V]``.
        energies: its energy, ``[B]``.
        weights: token weights ``[B, H, N]`` in [0, 1].
        info: a :class:`SolveInfo`.
        read_samples: per problem, every read as logical binary samples ``[S, V]``.
        read_energies: per problem, their logical energies ``[S]`` (recomputed).
        read_counts: per problem, each read's occurrences ``[S]``.
        samplesets: one ``dimod.SampleSet`` per problem (the backend's own on the dimod
            route; physical samples when compiled for a target).
    """

    samples: NDArray[np.int8]
    energies: NDArray[np.float64]
    weights: NDArray[np.float64]
    info: SolveInfo
    read_samples: tuple[NDArray[np.int8], ...] = ()
    read_energies: tuple[NDArray[np.float64], ...] = ()
    read_counts: tuple[NDArray[np.int64], ...] = ()
    samplesets: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def masks(self) -> NDArray[np.float64]:
        """Pairwise masks ``[B, H, N, N]`` = ``w_i w_j``."""
        return AttentionProblem.masks(self.weights)


def _decode_each(compiled: CompiledProblem, physical: BatchSamples) -> tuple[list[Any], list[Any], list[float]]:
    """Decode problem ``b``'s physical reads with problem ``b``'s decoders only."""
    samples, energies, cbf = [], [], []
    for b, x in enumerate(physical.samples):  # one problem at a time: no whole-batch decode per problem
        logical, info = compiled.decode(x[None], vartype=compiled.physical.vartype, problems=[b])
        samples.append(logical[0])
        energies.append(info["logical_energies"][0])
        found = info.get("chain_break_fraction")
        cbf.append(0.0 if found is None else float(np.asarray(found).reshape(-1)[0]))
    return samples, energies, cbf


def _compile_kwargs(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``compile_options`` checked against :func:`qama_compile.compile`'s keyword options."""
    import inspect

    given = dict(options or {})
    accepted = set(inspect.signature(compile_problem).parameters) - {"problem", "target", "seed"}
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise InvalidInputError(
            f"unknown compile option(s): {', '.join(unknown)}",
            fix=f"use the options of qama_compile.compile: {', '.join(sorted(accepted))}",
        )
    return given


def _triviality(problem: AttentionProblem) -> dict[str, Any]:
    """``SolveInfo`` fields ``trivial`` and ``note`` for ``problem`` (empty when not checked)."""
    report = ground_state_triviality(problem.ir)
    if not report.checked:
        return {}
    note = report.message()
    if note is not None and problem.normalize == "none":
        note += "; normalize='none' makes every within-head coupling ferromagnetic: try normalize='standardise'"
    return {"trivial": report.trivial, "note": note}


def solve(
    problem: AttentionProblem,
    *,
    backend: Any = "exact",
    num_reads: int | None = None,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    target: str | Target | None = None,
    decompose: bool = False,
    check_trivial: bool = True,
    compile_options: Mapping[str, Any] | None = None,
    **sample_options: Any,
) -> SolveResult:
    """Sample every problem of the batch on ``backend`` and decode the best sample.

    Args:
        problem: from :func:`qama_compile.lower_attention`.
        backend: a registered name (see :func:`qama_compile.available_backends`) or any
            ``dimod.Sampler`` / :class:`~qama_compile.runtime.sampling.BatchSampler`.
        num_reads: reads per problem (passed where the backend accepts it); ``None``: the
            backend's documented default (:func:`~qama_compile.runtime.sampling.default_num_reads`).
        seed: base seed; same seed, same result (problem ``b`` gets ``seed + b`` on the
            dimod route; a batched backend gets ``seed``; compilation is seeded too).
        backend_options: constructor options when ``backend`` is a name.
        target: a target name or :class:`~qama_compile.targets.Target`: the batch is
            compiled (:func:`qama_compile.compile`), the backend samples the physical
            problem, and each problem's samples are decoded.
        decompose: when the problem does not fit ``target`` (or, without a target, the
            backend's ``max_variables``), solve it by block-coordinate descent over
            subproblems that fit (the plan of :func:`qama_compile.compiler.plan_decomposition`);
            the subproblems are sampled logically.
        compile_options: more keyword options of :func:`qama_compile.compile` for the
            compilation with ``target`` (e.g. ``{"chain_strength": "scaled"}`` or
            ``{"allow_precision_loss": True}``); its ``seed`` is ``seed``.
        check_trivial: run strict roof duality on the logical problem and say in
            ``info.trivial`` / ``info.note`` when it alone fixes a ground state that selects
            every token (skipped above
            :data:`~qama_compile.passes.reduce.TRIVIALITY_MAX_COUPLERS` couplers).
        **sample_options: passed to the backend's ``sample`` / ``sample_ir``.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=1)
    >>> res = solve(problem, backend="exact", target="cim-550", seed=0)
    >>> res.info.target, res.info.chain_break_fraction
    ('cim-550', (0.0,))
    """
    if not isinstance(problem, AttentionProblem):
        raise InvalidInputError(
            f"solve() takes an AttentionProblem, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    reads = check_num_reads(num_reads)
    seed = check_seed(seed, batch_size=problem.batch_size)
    sampler, name = as_sampler(backend, backend_options)
    reads = default_num_reads(sampler) if reads is None else reads
    triviality = _triviality(problem) if check_trivial else {}
    if decompose:
        result = _solve_decomposed(problem, sampler, name, reads, seed, target, sample_options)
        if result is not None:
            return dataclasses.replace(result, info=dataclasses.replace(result.info, **triviality))
    if target is None:
        sampled = problem.ir
        out = sample_batch(sampled, sampler, num_reads=reads, seed=seed, name=name, **sample_options)
        read_samples, read_energies = list(out.samples), list(out.energies)
        extra: dict[str, Any] = {}
    else:
        compiled = compile_problem(problem, target=target, seed=seed, **_compile_kwargs(compile_options))
        sampled = compiled.physical
        out = sample_batch(sampled, sampler, num_reads=reads, seed=seed, name=name, **sample_options)
        read_samples, read_energies, cbf = _decode_each(compiled, out)
        extra = {
            "target": compiled.target.name,
            "physical_qubits": compiled.num_qubits,
            "chain_break_fraction": tuple(cbf),
        }
    samples, energies = best_reads(read_samples, read_energies)
    info = SolveInfo(
        backend=name,
        num_reads=reads,
        seed=seed,
        route=out.route,
        wall_time_s=out.wall_time_s,
        backend_info=out.info,
        **extra,
        **triviality,
    )
    return SolveResult(
        samples=samples,
        energies=energies,
        weights=problem.weights(samples[:, None, :])[:, 0],
        info=info,
        read_samples=tuple(read_samples),
        read_energies=tuple(read_energies),
        read_counts=out.counts,
        samplesets=out.to_samplesets(sampled),
    )


def _solve_decomposed(
    problem: AttentionProblem,
    sampler: Any,
    name: str,
    reads: int | None,
    seed: int | None,
    target: str | Target | None,
    sample_options: Mapping[str, Any],
) -> SolveResult | None:
    """Block-coordinate descent when the problem is too large; ``None`` when it fits as a whole."""
    limit = (getattr(sampler, "properties", None) or {}).get("max_variables")
    if target is not None:
        plan = plan_decomposition(problem, target=target)
        if limit is not None and plan.max_variables > int(limit):
            plan = plan_decomposition(problem, target=target, max_variables=int(limit))
    elif limit is not None:
        from ..passes.decompose import plan_blocks

        plan = plan_blocks(problem.ir, max_variables=int(limit))
        if len(plan.blocks) == 1:
            return None
    else:
        raise ProblemTooLargeError(
            f"decompose=True needs a limit, but backend {name!r} states no max_variables and no target was given",
            fix="pass target=... (its capacity is the limit)",
        )
    if not plan.needed:
        return None
    result = solve_decomposed(
        problem.ir,
        sampler=sampler,
        max_variables=plan.max_variables,
        plan=plan,
        num_reads=reads,
        seed=seed,
        sample_options=sample_options,
    )
    info = SolveInfo(
        backend=name,
        num_reads=reads,
        seed=seed,
        route="decomposed",
        wall_time_s=(float(result.info["wall_time_s"]) / max(problem.batch_size, 1),) * problem.batch_size,
        target=None if target is None else (target if isinstance(target, str) else target.name),
        backend_info=({"decomposition": result.info},),
    )
    return SolveResult(
        samples=result.samples,
        energies=result.energies,
        weights=problem.weights(result.samples[:, None, :])[:, 0],
        info=info,
        read_samples=tuple(s[None] for s in result.samples),
        read_energies=tuple(np.array([e]) for e in result.energies),
        read_counts=tuple(np.ones(1, dtype=np.int64) for _ in range(problem.batch_size)),
    )

"""Solve a batch of QAMA problems on a backend and decode the masks.

Every energy a backend returns is recomputed from the IR and checked.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> from qama_compile.runtime.solve import solve
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> result = solve(problem, backend="exact")
>>> bool(np.isclose(result.energies[0], problem.energies(result.samples[:, None])[0, 0]))
True
"""

from __future__ import annotations

import contextlib
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ..errors import BackendError, InvalidInputError
from .registry import get_backend
from .sampling import check_samplable

#: Largest seed every seeded backend accepts (dwave-samplers' SA checks ``0 <= seed < 2**31``).
SEED_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class SolveResult:
    """Best solution per problem, decoded, with the raw sample sets.

    Attributes:
        samples: best binary assignment per problem, ``[B, V]``.
        energies: its energy, ``[B]``.
        weights: token weights ``[B, H, N]`` in [0, 1].
        samplesets: one ``dimod.SampleSet`` per problem (all reads; physical samples when
            a ``target`` was given).
        info: backend name, options, wall time per problem; with a target also ``target``,
            ``physical_qubits`` and ``chain_break_fraction`` (one per problem).
        read_samples: per problem, every read as logical binary samples ``[S, V]``.
        read_energies: per problem, their logical energies ``[S]`` (recomputed).
        read_counts: per problem, each read's ``num_occurrences`` ``[S]``.
    """

    samples: NDArray[np.int8]
    energies: NDArray[np.float64]
    weights: NDArray[np.float64]
    samplesets: list[dimod.SampleSet]
    info: dict[str, Any] = field(default_factory=dict)
    read_samples: list[NDArray[np.int8]] = field(default_factory=list)
    read_energies: list[NDArray[np.float64]] = field(default_factory=list)
    read_counts: list[NDArray[np.int64]] = field(default_factory=list)

    @property
    def masks(self) -> NDArray[np.float64]:
        """Pairwise masks ``[B, H, N, N]`` = ``w_i w_j``."""
        return AttentionProblem.masks(self.weights)


def sample_kwargs(sampler: dimod.Sampler, *, num_reads: int | None, seed: int | None) -> dict[str, Any]:
    """The ``num_reads`` / ``seed`` keywords this sampler accepts (others are dropped)."""
    accepted = set(getattr(sampler, "parameters", {}) or {})
    with contextlib.suppress(TypeError, ValueError):  # builtins have no signature
        accepted |= set(inspect.signature(sampler.sample).parameters)
    out: dict[str, Any] = {}
    if num_reads is not None:
        if not isinstance(num_reads, (int, np.integer)) or isinstance(num_reads, bool) or num_reads < 1:
            raise InvalidInputError(
                f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1"
            )
        if "num_reads" in accepted:
            out["num_reads"] = int(num_reads)
    if seed is not None and "seed" in accepted:
        out["seed"] = int(seed)
    return out


def checked_samples(
    ir: QuadraticIR, index: int, bqm: dimod.BinaryQuadraticModel, sampleset: dimod.SampleSet, *, backend: str
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Binary samples ``[S, V]`` in IR variable order and their recomputed energies.

    Raises :class:`BackendError` when an energy the backend reported differs from the
    energy recomputed from the IR.
    """
    order = list(bqm.variables)
    if len(sampleset) == 0:
        raise BackendError(f"backend {backend!r} returned no samples", backend=backend)
    raw = np.asarray(sampleset.record.sample)
    col = {v: i for i, v in enumerate(sampleset.variables)}
    try:
        raw = raw[:, [col[v] for v in order]]
    except KeyError as exc:
        raise BackendError(f"backend {backend!r} returned samples missing variable {exc}", backend=backend) from exc
    binary = ((raw + 1) // 2 if sampleset.vartype is dimod.SPIN else raw).astype(np.int8)
    energies = ir.select([index]).energies(binary)[0]
    reported = np.asarray(sampleset.record.energy, dtype=np.float64)
    scale = 1.0 + np.abs(energies).max()
    if not np.allclose(reported, energies, rtol=0, atol=1e-6 * scale):
        worst = int(np.argmax(np.abs(reported - energies)))
        raise BackendError(
            f"backend {backend!r} reported energy {reported[worst]!r} for a sample whose energy is {energies[worst]!r}",
            fix="report this backend bug; its samples cannot be trusted",
            backend=backend,
        )
    return binary, energies


def solve(
    problem: AttentionProblem,
    *,
    backend: str | dimod.Sampler = "exact",
    num_reads: int | None = None,
    seed: int | None = None,
    backend_options: dict[str, Any] | None = None,
    target: Any = None,
    **sample_options: Any,
) -> SolveResult:
    """Sample every problem of the batch on ``backend`` and decode the best sample.

    Args:
        problem: from :func:`qama_compile.lower_attention`.
        backend: a registered name (see :func:`qama_compile.available_backends`) or any
            ``dimod.Sampler``.
        num_reads: reads per problem (passed where the backend accepts it).
        seed: base seed; problem ``b`` gets ``seed + b`` so batches are reproducible.
        backend_options: constructor options when ``backend`` is a name.
        target: a hardware target name or :class:`qama_compile.targets.Target`. The batch is
            compiled with :func:`qama_compile.compiler.compile` (``seed`` seeds it), the
            backend samples the physical problem (energies checked against the physical IR),
            samples are decoded (chains unembedded, scaling undone) and their logical
            energies recomputed; ``info["chain_break_fraction"]`` has one value per problem.
        **sample_options: passed to ``sampler.sample``.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=1)
    >>> res = solve(problem, backend="exact", target="cim-550", seed=0)
    >>> res.info["target"], res.info["chain_break_fraction"]
    ('cim-550', [0.0])
    """
    if not isinstance(problem, AttentionProblem):
        raise InvalidInputError(
            f"solve() takes an AttentionProblem, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    if not isinstance(backend, str) and not callable(getattr(backend, "sample", None)):
        raise InvalidInputError(
            f"backend must be a backend name or a dimod.Sampler, got {type(backend).__name__}",
            fix="pass e.g. backend='exact' (see qama_compile.available_backends())",
        )
    if seed is not None and (
        not isinstance(seed, (int, np.integer))
        or isinstance(seed, bool)
        or not 0 <= seed <= SEED_MAX - (problem.batch_size - 1)
    ):
        raise InvalidInputError(
            f"seed must be an integer in 0..{SEED_MAX - (problem.batch_size - 1)} (problem b gets seed + b), "
            f"got {seed!r}",
            fix="pass a non-negative integer seed below 2**31",
            seed=seed,
        )
    if num_reads is not None and (
        not isinstance(num_reads, (int, np.integer)) or isinstance(num_reads, bool) or num_reads < 1
    ):
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
    # empty batches, NaN coefficients and the memory of the reads, before a sampler allocates them
    # (with a target the physical problem is larger: chains add qubits)
    check_samplable(
        problem.ir,
        backend=backend if isinstance(backend, str) else type(backend).__name__,
        reads=None if num_reads is None else int(num_reads),
    )
    sampler = get_backend(backend, **(backend_options or {})) if isinstance(backend, str) else backend
    name = backend if isinstance(backend, str) else type(backend).__name__
    compiled = None
    info: dict[str, Any] = {"backend": name, "num_reads": num_reads, "seed": seed}
    if target is not None:
        from ..compiler.driver import compile as compile_problem

        compiled = compile_problem(problem, target=target, seed=seed)
        physical_binary = compiled.physical.to_binary()  # same energy for every assignment
        info.update(
            {"target": compiled.target.name, "physical_qubits": compiled.num_qubits, "chain_break_fraction": []}
        )
    best_samples, best_energies, samplesets, times = [], [], [], []
    read_samples, read_energies, read_counts = [], [], []
    for b in range(problem.batch_size):  # one backend call per problem
        bqm = problem.to_bqm(b) if compiled is None else compiled.to_bqm(b)
        kwargs = sample_kwargs(sampler, num_reads=num_reads, seed=None if seed is None else seed + b)
        t0 = time.perf_counter()
        ss = sampler.sample(bqm, **kwargs, **sample_options)
        ss.resolve()
        times.append(time.perf_counter() - t0)
        if compiled is None:
            binary, energies = checked_samples(problem.ir, b, bqm, ss, backend=name)
        else:
            physical, _ = checked_samples(physical_binary, b, bqm, ss, backend=name)
            logical, decoded = compiled.decode(physical, vartype="BINARY")  # [B, S, V], row b is ours
            binary = logical[b].astype(np.int8)
            energies = problem.ir.select([b]).energies(binary)[0]
            cbf = decoded.get("chain_break_fraction")
            info["chain_break_fraction"].append(0.0 if cbf is None else float(np.asarray(cbf).reshape(-1)[b]))
        best = int(np.argmin(energies))
        best_samples.append(binary[best])
        best_energies.append(energies[best])
        samplesets.append(ss)
        read_samples.append(binary)
        read_energies.append(energies)
        read_counts.append(np.asarray(ss.record.num_occurrences, dtype=np.int64))
    samples = np.stack(best_samples)
    weights = problem.weights(samples[:, None, :])[:, 0]
    info["wall_time_s"] = times
    return SolveResult(
        samples=samples,
        energies=np.asarray(best_energies),
        weights=weights,
        samplesets=samplesets,
        info=info,
        read_samples=read_samples,
        read_energies=read_energies,
        read_counts=read_counts,
    )

"""One sampling path: every problem of an IR batch on one sampler, energies recomputed and checked.

:func:`sample_batch` is the only place that calls a sampler: :func:`qama_compile.solve`, the
decomposition solver, :func:`qama_compile.solve_many` and the PyTorch operator all go
through it. It takes one of two routes:

* the **batched** route, for any sampler that implements the optional
  :class:`BatchSampler` protocol (a ``sample_ir`` method): the whole batch in one call;
* the **dimod** route for every other ``dimod.Sampler``: one ``sample`` call per problem,
  problem ``b`` seeded ``seed + b``.

Either way the samples come back in the IR's vartype, every energy is recomputed from the
IR, and a sampler whose reported energies disagree raises
:class:`~qama_compile.errors.BackendError`.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> from qama_compile.runtime.registry import get_backend
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 2, 3, 4)), bits=1)
>>> out = sample_batch(problem.ir, get_backend("sa"), num_reads=4, seed=0)
>>> out.route, len(out.samples), out.samples[0].shape
('dimod', 2, (4, 6))
>>> best_x, best_e = out.best()
>>> bool(np.allclose(best_e, problem.ir.energies(best_x[:, None])[:, 0]))
True
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import dimod
import numpy as np
from numpy.typing import NDArray

from ..base.memory import check_memory, sampling_bytes
from ..core.convert import ir_to_bqm
from ..core.ir import QuadraticIR
from ..errors import BackendError, InvalidInputError

__all__ = [
    "SEED_MAX",
    "BatchSampler",
    "BatchSamples",
    "accepts_progress",
    "best_reads",
    "check_energies",
    "check_num_reads",
    "check_samplable",
    "check_seed",
    "default_num_reads",
    "estimate_time_s",
    "sample_batch",
    "sample_kwargs",
]

#: Largest seed every seeded backend accepts (dwave-samplers' SA checks ``0 <= seed < 2**31``).
SEED_MAX = 2**31 - 1

Route = Literal["batched", "dimod"]

#: ``progress(done, total)`` in the backend's own unit (states, round trips, evaluations).
ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class BatchSampler(Protocol):
    """Optional protocol: a sampler that solves a whole IR batch in one call.

    Any object with this method (ours or a third party's; no registration or base class)
    gets the batched route of :func:`sample_batch`. The contract:

    * ``samples`` is ``[B, R, V]`` in ``ir.vartype`` (0/1 for BINARY, -1/+1 for SPIN), in
      the IR's variable order, ``R >= 1`` reads per problem;
    * ``energies`` is ``[B, R]``, the energies of those samples including ``ir.offset``
      (they are recomputed and compared; a mismatch is a :class:`BackendError`);
    * ``info`` is a mapping of facts about the run (kept as ``BatchSamples.info``);
    * the same ``seed`` gives the same samples.
    """

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int, seed: int | None, **options: Any
    ) -> tuple[NDArray[Any], NDArray[Any], Mapping[str, Any]]:
        """Sample every problem of ``ir``; see the class docstring for the contract."""
        ...


@dataclass(frozen=True, eq=False)
class BatchSamples:
    """Every read of every problem of a batch, checked.

    Attributes:
        samples: per problem, ``[S_b, V]`` int8 samples in the IR's vartype.
        energies: per problem, ``[S_b]`` energies recomputed from the IR.
        counts: per problem, ``[S_b]`` occurrences of each sample (1 unless the sampler
            aggregates).
        wall_time_s: per problem, the sampler's wall time (a batched call's time is split
            evenly).
        route: ``"batched"`` or ``"dimod"``.
        backend: the backend's name.
        info: the sampler's own facts: one mapping for a batched call, one per problem on
            the dimod route (each ``SampleSet.info``).
        samplesets: the ``dimod.SampleSet`` per problem on the dimod route, else empty.
    """

    samples: tuple[NDArray[np.int8], ...]
    energies: tuple[NDArray[np.float64], ...]
    counts: tuple[NDArray[np.int64], ...]
    wall_time_s: tuple[float, ...]
    route: Route
    backend: str
    info: tuple[Mapping[str, Any], ...] = ()
    samplesets: tuple[dimod.SampleSet, ...] = field(default=(), repr=False)

    @property
    def batch_size(self) -> int:
        return len(self.samples)

    def to_samplesets(self, ir: QuadraticIR) -> tuple[dimod.SampleSet, ...]:
        """One ``dimod.SampleSet`` per problem (the sampler's own on the dimod route; built from
        the arrays, labelled like ``ir``, on the batched route)."""
        if self.samplesets:
            return self.samplesets
        labels = ir.label_tuples()
        vartype = dimod.SPIN if ir.vartype == "SPIN" else dimod.BINARY
        info = dict(self.info[0]) if self.info else {}
        return tuple(
            dimod.SampleSet.from_samples((x, labels), vartype=vartype, energy=e, num_occurrences=c, info=info)
            for x, e, c in zip(self.samples, self.energies, self.counts, strict=True)
        )

    def best(self) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
        """The lowest-energy sample of each problem ``[B, V]`` and its energy ``[B]``."""
        return best_reads(self.samples, self.energies)


def best_reads(
    samples: Sequence[NDArray[Any]], energies: Sequence[NDArray[np.float64]]
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Per problem, the read of lowest energy (the first on ties): ``[B, V]`` and ``[B]``.

    >>> best_reads([np.array([[0, 1], [1, 1]])], [np.array([0.5, -1.0])])
    (array([[1, 1]], dtype=int8), array([-1.]))
    """
    picks = [int(np.argmin(e)) for e in energies]
    x = np.stack([s[k] for s, k in zip(samples, picks, strict=True)]).astype(np.int8)
    e = np.array([en[k] for en, k in zip(energies, picks, strict=True)], dtype=np.float64)
    return x, e


# --------------------------------------------------------------------------- optional backend facilities
def accepts_progress(sampler: Any) -> bool:
    """Whether ``sampler`` takes a ``progress`` callback (a :data:`ProgressCallback`) when sampling.

    Backends that do (``exact``: states scanned; ``cim``: round trips; ``qaoa``: optimizer
    evaluations) list ``progress`` in their ``parameters``.
    """
    return "progress" in (getattr(sampler, "parameters", None) or {})


def estimate_time_s(sampler: Any, ir: QuadraticIR, *, num_reads: int | None = None, **options: Any) -> float | None:
    """The backend's own estimate of the seconds ``ir`` will take (``None``: it gives none).

    Backends may implement ``estimate_time_s(ir, *, num_reads, **options)`` from a cost
    model (the shipped ones: :mod:`qama_backends.cost`); ``inf`` means it cannot run at all.

    >>> from qama_compile.runtime.registry import get_backend
    >>> from qama_compile.ir import QuadraticIR
    >>> ir = QuadraticIR.from_coo(linear=[[1.0] * 40], rows=[0], cols=[1], data=[[1.0]])
    >>> estimate_time_s(get_backend("exact"), ir), estimate_time_s(object(), ir)
    (inf, None)
    """
    method = getattr(sampler, "estimate_time_s", None)
    if not callable(method):
        return None
    value = method(ir, num_reads=num_reads, **options)
    return None if value is None else float(value)


# --------------------------------------------------------------------------- argument checks
def default_num_reads(sampler: Any) -> int | None:
    """Reads per problem a backend does when none are asked for: its ``default_num_reads``.

    Every shipped backend states one (docs/cli.md lists them: ``exact`` 1, the heuristics
    100, ``qaoa`` its ``shots``); a sampler without the attribute keeps its own default
    (``None``).

    >>> from qama_compile.runtime.registry import get_backend
    >>> default_num_reads(get_backend("exact")), default_num_reads(get_backend("sa")), default_num_reads(object())
    (1, 100, None)
    """
    value = getattr(sampler, "default_num_reads", None)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1:
        return int(value)
    return None


def check_num_reads(num_reads: Any) -> int | None:
    """``num_reads`` as an int (``None`` stays ``None``: the backend's default)."""
    if num_reads is None:
        return None
    if not isinstance(num_reads, (int, np.integer)) or isinstance(num_reads, bool) or num_reads < 1:
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
    return int(num_reads)


def check_seed(seed: Any, *, batch_size: int = 1) -> int | None:
    """A seed valid for every problem of the batch (problem ``b`` may get ``seed + b``)."""
    top = SEED_MAX - max(batch_size - 1, 0)
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= top):
        raise InvalidInputError(
            f"seed must be an integer in 0..{top} (problem b gets seed + b), got {seed!r}",
            fix="pass a non-negative integer seed below 2**31",
            seed=seed,
        )
    return None if seed is None else int(seed)


def sample_kwargs(sampler: Any, *, num_reads: int | None, seed: int | None) -> dict[str, Any]:
    """The ``num_reads`` / ``seed`` keywords ``sampler.sample`` accepts (others are dropped)."""
    accepted = set(getattr(sampler, "parameters", {}) or {})
    with contextlib.suppress(TypeError, ValueError):  # builtins have no signature
        accepted |= set(inspect.signature(sampler.sample).parameters)
    out: dict[str, Any] = {}
    if num_reads is not None and "num_reads" in accepted:
        out["num_reads"] = int(num_reads)
    if seed is not None and "seed" in accepted:
        out["seed"] = int(seed)
    return out


def check_energies(
    recomputed: NDArray[np.float64], reported: NDArray[Any] | None, *, backend: str
) -> NDArray[np.float64]:
    """``recomputed``, after checking the backend's ``reported`` energies agree with it."""
    if reported is None:
        return recomputed
    rep = np.asarray(reported, dtype=np.float64)
    if rep.shape != recomputed.shape:
        raise BackendError(
            f"backend {backend!r} reported {rep.shape} energies for {recomputed.shape} samples",
            fix="report this backend bug; its samples cannot be trusted",
            backend=backend,
        )
    scale = 1.0 + (np.abs(recomputed).max() if recomputed.size else 0.0)
    bad = ~np.isclose(rep, recomputed, rtol=0.0, atol=1e-6 * scale)
    if bad.any():
        worst = np.unravel_index(int(np.argmax(np.abs(rep - recomputed))), rep.shape)
        raise BackendError(
            f"backend {backend!r} reported energy {float(rep[worst])!r} for a sample whose energy is "
            f"{float(recomputed[worst])!r}",
            fix="report this backend bug; its samples cannot be trusted",
            backend=backend,
        )
    return recomputed


def _check_values(x: NDArray[Any], vartype: str, backend: str) -> NDArray[np.int8]:
    lo = -1 if vartype == "SPIN" else 0
    if x.size and not np.all((x == lo) | (x == 1)):
        raise BackendError(
            f"backend {backend!r} returned values other than {lo}/1 for a {vartype} problem",
            fix="return samples in the IR's vartype (BatchSampler contract)",
            backend=backend,
        )
    return x.astype(np.int8)


def check_samplable(ir: QuadraticIR, *, backend: str, reads: int | None) -> None:
    """Refuse, before any backend runs: an empty batch, problems without variables, NaN or
    infinite coefficients (a backend would return NaN energies and look broken), and reads
    whose memory (:func:`qama_compile.base.memory.sampling_bytes`) exceeds the budget.
    """
    if ir.batch_size == 0 or ir.num_variables == 0:
        raise InvalidInputError(
            f"nothing to sample: the batch has {ir.batch_size} problem(s) of {ir.num_variables} variables",
            fix="pass at least one problem with at least one variable (at least one token)",
        )
    for part in ("linear", "offset", "blocks", "data"):
        if not np.isfinite(getattr(ir, part)).all():
            raise InvalidInputError(
                f"the problem's {part} coefficients contain NaN or infinity; no backend can sample it",
                fix="check the inputs: NaN or infinity in q, k, v (or in J, h) propagates into the QUBO",
                tensor=part,
            )
    need = sampling_bytes(
        backend,
        variables=ir.num_variables,
        couplers=ir.num_couplers,
        reads=reads,
        batch=ir.batch_size,
        sparse=ir.num_sparse_couplers,
    )
    check_memory(
        need,
        what=f"{'the default reads' if reads is None else f'num_reads={reads} reads'} of {ir.num_variables} "
        f"variables ({ir.batch_size} problem(s) on {backend})",
        fix="use fewer reads per call",
    )


# --------------------------------------------------------------------------- the two routes
def _batched(
    ir: QuadraticIR, sampler: BatchSampler, *, num_reads: int | None, seed: int | None, name: str, options: Any
) -> BatchSamples:
    t0 = time.perf_counter()
    reads = 1 if num_reads is None else num_reads
    raw, reported, info = sampler.sample_ir(ir, num_reads=reads, seed=seed, **options)
    wall = time.perf_counter() - t0
    x = np.asarray(raw)
    b, v = ir.batch_size, ir.num_variables
    if x.ndim != 3 or x.shape[0] != b or x.shape[2] != v or x.shape[1] < 1:
        raise BackendError(
            f"backend {name!r} sample_ir returned samples of shape {x.shape}, expected [B, R, V] = [{b}, R, {v}]",
            fix="return [B, R, V] samples (BatchSampler contract)",
            backend=name,
        )
    x8 = _check_values(x, ir.vartype, name)
    energies = check_energies(ir.energies(x8), reported, backend=name)
    ones = np.ones(x8.shape[1], dtype=np.int64)
    return BatchSamples(
        samples=tuple(x8),
        energies=tuple(energies),
        counts=tuple(ones for _ in range(b)),
        wall_time_s=tuple(wall / max(b, 1) for _ in range(b)),
        route="batched",
        backend=name,
        info=(dict(info or {}),),
    )


def _per_problem(
    ir: QuadraticIR,
    sampler: Any,
    *,
    num_reads: int | None,
    seed: int | None,
    name: str,
    options: Mapping[str, Any],
) -> BatchSamples:
    samples, energies, counts, times, infos, sets = [], [], [], [], [], []
    labels = ir.label_tuples()
    for b in range(ir.batch_size):  # dimod samplers take one BQM per call
        bqm = ir_to_bqm(ir, b, vartype=ir.vartype)
        kwargs = sample_kwargs(sampler, num_reads=num_reads, seed=None if seed is None else seed + b)
        t0 = time.perf_counter()
        ss = sampler.sample(bqm, **kwargs, **options)
        ss.resolve()
        times.append(time.perf_counter() - t0)
        if len(ss) == 0:
            raise BackendError(f"backend {name!r} returned no samples", backend=name)
        col = {var: i for i, var in enumerate(ss.variables)}
        try:
            raw = np.asarray(ss.record.sample)[:, [col[var] for var in labels]]
        except KeyError as exc:
            raise BackendError(f"backend {name!r} returned samples missing variable {exc}", backend=name) from exc
        if ss.vartype is not bqm.vartype:  # a sampler may answer in the other vartype
            raw = (raw + 1) // 2 if ss.vartype is dimod.SPIN else 2 * raw - 1
        x8 = _check_values(raw, ir.vartype, name)
        recomputed = ir.select([b]).energies(x8)[0]
        energies.append(check_energies(recomputed, np.asarray(ss.record.energy), backend=name))
        samples.append(x8)
        counts.append(np.asarray(ss.record.num_occurrences, dtype=np.int64))
        infos.append(dict(ss.info))
        sets.append(ss)
    return BatchSamples(
        samples=tuple(samples),
        energies=tuple(energies),
        counts=tuple(counts),
        wall_time_s=tuple(times),
        route="dimod",
        backend=name,
        info=tuple(infos),
        samplesets=tuple(sets),
    )


def sample_batch(
    ir: QuadraticIR,
    sampler: dimod.Sampler | BatchSampler,
    *,
    num_reads: int | None = None,
    seed: int | None = None,
    name: str | None = None,
    batched: bool | None = None,
    **sample_options: Any,
) -> BatchSamples:
    """Sample every problem of ``ir`` on ``sampler`` (see the module docstring).

    Args:
        ir: the batch, in either vartype; samples come back in that vartype.
        sampler: a ``dimod.Sampler``, or any object with ``sample_ir`` (:class:`BatchSampler`).
        num_reads: reads per problem (``None``: the sampler's default, 1 on the batched route).
        seed: same seed, same samples; on the dimod route problem ``b`` gets ``seed + b``.
        name: the backend name for messages (default: the sampler's class name).
        batched: ``None`` (default) takes the batched route when the sampler offers it;
            ``False`` forces the dimod route; ``True`` requires the batched route.
        **sample_options: passed to ``sample_ir`` or ``sample``.
    """
    if not isinstance(ir, QuadraticIR):
        raise InvalidInputError(f"sample_batch takes a QuadraticIR, got {type(ir).__name__}", fix="pass problem.ir")
    reads = check_num_reads(num_reads)
    seed = check_seed(seed, batch_size=ir.batch_size)
    label = name or type(sampler).__name__
    check_samplable(ir, backend=label, reads=reads)
    if isinstance(sampler, BatchSampler) and batched is not False:
        return _batched(ir, sampler, num_reads=reads, seed=seed, name=label, options=sample_options)
    if batched is True:
        raise InvalidInputError(
            f"backend {label!r} has no batched sample_ir method", fix="pass batched=None to use its dimod sample()"
        )
    if not callable(getattr(sampler, "sample", None)):
        raise InvalidInputError(
            f"sampler must be a dimod.Sampler or a BatchSampler, got {type(sampler).__name__}",
            fix="pass e.g. qama_compile.get_backend('sa')",
        )
    return _per_problem(ir, sampler, num_reads=reads, seed=seed, name=label, options=sample_options)

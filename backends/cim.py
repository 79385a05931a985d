"""A fast coherent Ising machine (CIM) emulator: a ``dimod.Sampler`` and a batched array API.

The physics and the integrator live in :mod:`qama_backends.cim_dynamics`; this module adds
the dimod adapter (:class:`CIMSampler`), the batched array entry points for other parts of
the toolkit (:func:`sample_ising_arrays`, :func:`sample_ir`) and the emulated hardware time
model (:data:`MACHINES`). Equations, defaults and measured figures: docs/backends/cim.md.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel.from_ising({"a": 0.5}, {("a", "b"): -1.0, ("b", "c"): 1.0})
>>> ss = CIMSampler().sample(bqm, num_reads=8, seed=1)
>>> float(ss.first.energy), ss.info["method"]
(-2.5, 'cac')

Batched arrays (``B`` problems x ``R`` replicas in one matrix product per step):

>>> import numpy as np
>>> h = np.zeros((2, 3)); J = np.zeros((2, 3, 3)); J[:, 0, 1] = J[:, 1, 0] = [-1.0, 1.0]
>>> spins, energies, info = sample_ising_arrays(h, J, num_reads=4, seed=0)
>>> spins.shape, energies.min(axis=1).tolist()
((2, 4, 3), [-1.0, -1.0])
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import dimod
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, MissingDependencyError, ProblemTooLargeError

from . import cost
from .cim_dynamics import (
    METHODS,
    CouplingMatrix,
    Schedule,
    coupling_scale,
    default_num_steps,
    default_schedule,
    run_dynamics,
)

__all__ = ["MACHINES", "CIMSampler", "Machine", "dense_couplings_from_ir", "sample_ir", "sample_ising_arrays"]


@dataclass(frozen=True)
class Machine:
    """A modelled measurement-feedback CIM: one Euler step = one cavity round trip.

    Attributes:
        name: preset key.
        spins: pulses (spins) the ring holds.
        round_trip_s: cavity round-trip period in seconds (fibre length x group index / c).
        reference: where the figures come from (see docs/backends/cim.md).
    """

    name: str
    spins: int
    round_trip_s: float
    reference: str


#: Modelled machines. Round-trip periods follow from the fibre-ring lengths reported in the
#: papers (~4.9 us per km of silica fibre); see docs/backends/cim.md for the derivation.
MACHINES: dict[str, Machine] = {
    "mcmahon2016": Machine("mcmahon2016", 100, 5.0e-6, "McMahon et al., Science 354, 614 (2016)"),
    "inagaki2016": Machine("inagaki2016", 2000, 5.0e-6, "Inagaki et al., Science 354, 603 (2016)"),
    "honjo2021": Machine("honjo2021", 100_512, 25.0e-6, "Honjo et al., Sci. Adv. 7, eabh0952 (2021)"),
}
DEFAULT_MACHINE = "inagaki2016"
DEFAULT_MAX_VARIABLES = 100_512
_SCHEDULE_OPTIONS = tuple(f for f in Schedule.__dataclass_fields__ if f != "method")
_DENSE_BYTES = 512 << 20  # per batch chunk of float32 J (plus one float64 copy)
_TORCH_MIN_VARIABLES = 64
_SMALL_GEMM = 1 << 25  # R * V * V multiply-adds per step below which torch runs single-threaded


# ---------------------------------------------------------------------------- helpers
def _resolve_machine(machine: str | Machine) -> Machine:
    if isinstance(machine, Machine):
        return machine
    if machine not in MACHINES:
        raise InvalidInputError(
            f"unknown CIM machine {machine!r}",
            fix=f"use one of {', '.join(MACHINES)} or a Machine(...)",
            name=machine,
            known=list(MACHINES),
        )
    return MACHINES[machine]


def _want_torch(use_torch: bool | str | None, num_variables: int, sparse: bool) -> bool:
    if use_torch is None or use_torch == "auto":
        if sparse or num_variables < _TORCH_MIN_VARIABLES:
            return False
        return importlib.util.find_spec("torch") is not None
    if use_torch is True:
        try:
            import torch  # noqa: F401  (availability probe)
        except ImportError as exc:
            raise MissingDependencyError(
                "use_torch=True needs PyTorch",
                fix="pip install 'qama-compile[torch]' or pass use_torch=False",
                package="torch",
            ) from exc
        return not sparse
    if use_torch is False:
        return False
    raise InvalidInputError(f"use_torch must be True, False or 'auto', got {use_torch!r}", fix="pass a bool or 'auto'")


@contextlib.contextmanager
def _threads(num_threads: int | None, torch_used: bool) -> Iterator[None]:
    """Limit BLAS / torch threads for the run (restored afterwards)."""
    if num_threads is None:
        yield
        return
    if not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise InvalidInputError(
            f"num_threads must be a positive integer, got {num_threads!r}", fix="pass num_threads >= 1"
        )
    stack = contextlib.ExitStack()
    with stack:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl ships with scipy/sklearn stacks
            pass
        else:
            stack.enter_context(threadpool_limits(int(num_threads)))
        if torch_used:
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(int(num_threads))
            stack.callback(torch.set_num_threads, before)
        yield


def _check_reads(num_reads: Any) -> int:
    if isinstance(num_reads, bool) or not isinstance(num_reads, (int, np.integer)) or num_reads < 1:
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
    return int(num_reads)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer or None, got {seed!r}", fix="pass seed=0, 1, ...")
    return int(seed)


def _as_problems(h: ArrayLike, J: Any) -> tuple[NDArray[np.float64], CouplingMatrix]:
    ha = np.asarray(h, dtype=np.float64)
    if ha.ndim == 1:
        ha = ha[None]
    if ha.ndim != 2:
        raise InvalidInputError(f"h must be [B, V] (or [V]), got shape {ha.shape}", fix="add the batch axis")
    b, v = ha.shape
    if sp.issparse(J):
        if b != 1 or J.shape != (v, v):
            raise InvalidInputError(
                f"a sparse J must be [V, V] = ({v}, {v}) with a batch of one, got J {J.shape} and h {ha.shape}",
                fix="pass dense J [B, V, V] for batches",
            )
        jm: CouplingMatrix = sp.csr_matrix(J, dtype=np.float64)
        diag = jm.diagonal()
        asym = abs(jm - jm.T)
        bad_sym = bool(asym.nnz and asym.max() > 1e-9 * (1 + abs(jm).max()))
        finite = bool(np.all(np.isfinite(jm.data)))
    else:
        ja = np.asarray(J, dtype=np.float64)
        if ja.ndim == 2:
            ja = ja[None]
        if ja.shape != (b, v, v):
            raise InvalidInputError(f"J must be [B, V, V] = ({b}, {v}, {v}), got {ja.shape}", fix="match h's shape")
        diag = np.diagonal(ja, axis1=1, axis2=2)
        finite = bool(np.all(np.isfinite(ja)))
        bad_sym = finite and not bool(np.allclose(ja, np.swapaxes(ja, 1, 2), rtol=1e-9, atol=1e-12))
        jm = ja
    if not finite or not np.all(np.isfinite(ha)):
        raise InvalidInputError("h or J contains NaN or infinity", fix="pass finite coefficients")
    if np.any(diag != 0):
        raise InvalidInputError(
            "J must have a zero diagonal (s_i^2 = 1 is a constant)", fix="move J_ii into the offset"
        )
    if bad_sym:
        raise InvalidInputError(
            "J must be symmetric with both triangles filled (E = h.s + s^T J s / 2)",
            fix="pass U + U.T for an upper-triangular U",
        )
    return ha, jm


# ---------------------------------------------------------------------------- array API
def sample_ising_arrays(
    h: ArrayLike,
    J: Any,
    *,
    num_reads: int = 100,
    seed: int | None = None,
    method: str = "cac",
    num_steps: int | None = None,
    dt: float | None = None,
    polish: bool = True,
    use_torch: bool | str | None = "auto",
    num_threads: int | None = None,
    machine: str | Machine = DEFAULT_MACHINE,
    progress: Callable[[int, int], None] | None = None,
    **schedule_options: Any,
) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
    """Sample ``B`` Ising problems ``E = h.s + s^T J s / 2`` (dimod's sign convention).

    Args:
        h: fields ``[B, V]`` (or ``[V]``).
        J: symmetric zero-diagonal couplings ``[B, V, V]`` (``J_ij = J_ji`` = the dimod
            coupling of the pair), or a scipy.sparse ``[V, V]`` matrix for ``B = 1``.
        num_reads: replicas per problem (all integrated together).
        seed: same seed, same samples.
        method: ``"cac"`` (default), ``"ahc"`` or ``"basic"``.
        num_steps, dt: round trips and Euler step (defaults scale with ``V``).
        polish: greedy single-flip descent on the best states (reported in ``info``).
        use_torch: dense products with torch when installed (``"auto"``: for ``V >= 64``).
        num_threads: limit BLAS/torch threads for this call (default: the libraries' own,
            except one thread for torch products under ``2**25`` multiply-adds per step).
        machine: a key of :data:`MACHINES` (or a :class:`Machine`) for the emulated time.
        progress: called as ``progress(steps_done, steps_total)`` every ``check_every`` round
            trips (steps of all problem chunks).
        **schedule_options: any other :class:`~qama_backends.cim_dynamics.Schedule` field.

    Returns:
        ``(spins [B, R, V] int8 in {-1, +1}, energies [B, R] float64 without offset, info)``.
    """
    t0 = time.perf_counter()
    reads = _check_reads(num_reads)
    seed = _check_seed(seed)
    ha, jm = _as_problems(h, J)
    b, v = ha.shape
    if v > DEFAULT_MAX_VARIABLES:
        raise ProblemTooLargeError(
            f"{v} spins exceed the emulator limit of {DEFAULT_MAX_VARIABLES}",
            fix="decompose the problem",
            size=v,
            limit=DEFAULT_MAX_VARIABLES,
            unit="variables",
        )
    mach = _resolve_machine(machine)
    overrides = dict(schedule_options)
    if num_steps is not None:
        overrides["num_steps"] = num_steps
    if dt is not None:
        overrides["dt"] = dt
    unknown = set(overrides) - set(_SCHEDULE_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"unknown CIM option(s): {', '.join(sorted(unknown))}",
            fix="use num_reads, seed, method, polish, use_torch, num_threads, machine or "
            + ", ".join(_SCHEDULE_OPTIONS),
        )
    schedule = default_schedule(method, v, **overrides)
    sparse = sp.issparse(jm)
    torch_used = _want_torch(use_torch, v, sparse)
    spins = np.ones((b, reads, v), dtype=np.int8)
    energies = np.zeros((b, reads))
    scale = coupling_scale(ha, jm)
    flips = np.zeros((b, reads), dtype=np.int64)
    checks = polish_iters = 0
    if v:
        per_problem = max(1, reads * v * 4 * 6 + v * v * 12)
        chunk = max(1, min(b, _DENSE_BYTES // per_problem)) if not sparse else 1
        seeds = np.random.SeedSequence(seed).spawn((b + chunk - 1) // chunk)
        threads = num_threads
        if threads is None and torch_used and reads * v * v < _SMALL_GEMM:
            threads = 1  # small products do not scale past one thread; on shared CPUs two are ~10x slower
        with _threads(threads, torch_used):
            chunks = (b + chunk - 1) // chunk
            for k, start in enumerate(range(0, b, chunk)):  # chunks of problems (memory bound), not variables
                stop = min(b, start + chunk)
                jpart = jm if sparse else jm[start:stop]  # type: ignore[index]
                tick = (
                    None if progress is None else lambda done, total, k=k: progress(k * total + done, chunks * total)  # type: ignore[misc]
                )
                res = run_dynamics(
                    ha[start:stop],
                    jpart,
                    num_reads=reads,
                    schedule=schedule,
                    seed=np.random.default_rng(seeds[k]),
                    use_torch=torch_used,
                    polish=polish,
                    scale=scale[start:stop],
                    progress=tick,
                )
                spins[start:stop] = res.spins
                energies[start:stop] = res.energies
                flips[start:stop] = res.polish_flips
                checks, polish_iters = res.energy_checks, max(polish_iters, res.polish_iterations)
    wall = time.perf_counter() - t0
    info: dict[str, Any] = {
        "backend": "cim",
        "method": schedule.method,
        "steps": schedule.num_steps,
        "round_trips_per_read": schedule.num_steps,
        "energy_checks": checks,
        "wall_time_s": wall,
        "machine": mach.name,
        "round_trip_s": mach.round_trip_s,
        "emulated_time_per_read_s": schedule.num_steps * mach.round_trip_s,
        "emulated_hardware_time_s": schedule.num_steps * mach.round_trip_s * reads * b,
        "fits_machine": v <= mach.spins,
        "scale": scale.tolist(),
        "scaling": "h and J divided by sqrt((||J||_F^2 + ||h||^2) / V) per problem",
        "schedule": asdict(schedule),
        "polish": bool(polish),
        "polish_flips_mean": float(flips.mean()) if flips.size else 0.0,
        "polish_iterations": polish_iters,
        "torch": torch_used,
        "sparse": sparse,
        "seed": seed,
    }
    return spins, energies, info


def dense_couplings_from_ir(ir: QuadraticIR) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The Ising form of ``ir`` as dense arrays ``(h [B, V], J [B, V, V] symmetric, offset [B])``.

    >>> ir = QuadraticIR.from_coo(linear=[[1.0, 0.0]], rows=[0], cols=[1], data=[[4.0]])
    >>> h, J, off = dense_couplings_from_ir(ir)
    >>> h.tolist(), J[0].tolist(), off.tolist()
    ([[1.5, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [1.5])
    """
    spin = ir.to_spin()
    b, v = spin.batch_size, spin.num_variables
    upper = np.zeros((b, v, v))
    g, n = spin.block_count, spin.block_size
    if g:
        gi, ii, jj = np.meshgrid(np.arange(g), np.arange(n), np.arange(n), indexing="ij")
        upper[:, (gi * n + ii).ravel(), (gi * n + jj).ravel()] += spin.blocks.reshape(b, -1)
    if spin.rows.size:
        np.add.at(upper, (slice(None), spin.rows, spin.cols), spin.data)  # type: ignore[arg-type]
    return spin.linear.copy(), upper + np.swapaxes(upper, 1, 2), spin.offset.copy()


def _sparse_couplings_from_ir(ir: QuadraticIR) -> sp.csr_matrix:
    spin = ir.to_spin()
    r, c, d = spin.coo(0)
    v = spin.num_variables
    upper = sp.coo_matrix((d, (r, c)), shape=(v, v)).tocsr()
    return (upper + upper.T).tocsr()


def sample_ir(
    ir: QuadraticIR,
    *,
    num_reads: int = 100,
    seed: int | None = None,
    sparse: bool | None = None,
    **options: Any,
) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
    """Sample every problem of a :class:`~qama_compile.ir.QuadraticIR` batch at once.

    The IR is converted with :meth:`~qama_compile.ir.QuadraticIR.to_spin`; its dense blocks and
    COO couplings become one symmetric ``J`` per problem (scipy.sparse when ``B = 1`` and the
    problem is large and sparse, or ``sparse=True``).

    Returns:
        ``(samples [B, R, V] int8 in the IR's vartype, energies [B, R] (recomputed from the IR,
        offset included), info)``; ``options`` as for :func:`sample_ising_arrays`.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
    >>> x, e, info = sample_ir(problem.ir, num_reads=16, seed=0)
    >>> x.shape, sorted(np.unique(x).tolist()), bool(np.allclose(e, problem.ir.energies(x)))
    ((1, 16, 12), [0, 1], True)
    """
    if not isinstance(ir, QuadraticIR):
        raise InvalidInputError(f"sample_ir takes a QuadraticIR, got {type(ir).__name__}", fix="pass problem.ir")
    v, b = ir.num_variables, ir.batch_size
    if sparse is None:
        density = 2 * ir.num_couplers / max(v * v, 1)
        sparse = b == 1 and v > 2048 and density < 0.05
    spin_ir = ir.to_spin()
    if sparse:
        if b != 1:
            raise InvalidInputError("sparse=True needs a batch of one problem", fix="use ir.select([i]) per problem")
        h, J, offset = spin_ir.linear.copy(), _sparse_couplings_from_ir(ir), spin_ir.offset.copy()
    else:
        h, J, offset = dense_couplings_from_ir(ir)
    spins, _, info = sample_ising_arrays(h, J, num_reads=num_reads, seed=seed, **options)
    samples = spin_ir.convert_samples(spins, to=ir.vartype)  # spin_ir is SPIN: -1/+1 -> the IR's vartype
    energies = ir.energies(samples)
    info["offset"] = offset.tolist()
    info["vartype"] = ir.vartype
    return samples.astype(np.int8), energies, info


# ---------------------------------------------------------------------------- dimod sampler
class CIMSampler(dimod.Sampler):  # type: ignore[misc]
    """Measurement-feedback coherent Ising machine emulator (CAC / AHC / basic), all-to-all.

    Args:
        machine: modelled machine for the emulated hardware time (:data:`MACHINES`).
        max_variables: refuse larger problems (default: the 100,512 spins of Honjo 2021).
        use_torch: ``"auto"`` (torch for dense problems of >= 64 spins when installed),
            ``True`` or ``False``.
        num_threads: BLAS/torch threads per call (``None``: the libraries' defaults).

    >>> import dimod
    >>> dimod.testing.asserts.assert_sampler_api(CIMSampler())
    """

    #: Reads (replicas) per problem when none are asked for.
    default_num_reads = 100

    def __init__(
        self,
        *,
        machine: str | Machine = DEFAULT_MACHINE,
        max_variables: int = DEFAULT_MAX_VARIABLES,
        use_torch: bool | str | None = "auto",
        num_threads: int | None = None,
    ) -> None:
        self.machine = _resolve_machine(machine)
        self.max_variables = int(max_variables)
        self.use_torch = use_torch
        self.num_threads = num_threads

    @property
    def parameters(self) -> dict[str, list[Any]]:
        params: dict[str, list[Any]] = {
            "num_reads": [],
            "seed": [],
            "method": [],
            "polish": [],
            "use_torch": [],
            "num_threads": [],
            "progress": [],
        }
        params.update({name: [] for name in _SCHEDULE_OPTIONS})
        return params

    @property
    def properties(self) -> dict[str, Any]:
        return {
            "max_variables": self.max_variables,
            "native_graph": None,
            "connectivity": "all-to-all",
            "methods": list(METHODS),
            "machine": asdict(self.machine),
            "description": (
                "coherent Ising machine emulator (measurement-feedback; chaotic amplitude control, "
                "amplitude heterogeneity correction or plain pump ramp), vectorised over replicas"
            ),
        }

    def estimate_time_s(self, ir: QuadraticIR, *, num_reads: int | None = None, **options: Any) -> float:
        """``B * R * steps * (V^2 + 8V) * c`` seconds (model: :mod:`qama_backends.cost`)."""
        b, v, _ = cost.work(ir)
        reads = self.default_num_reads if num_reads is None else int(num_reads)
        steps = options.get("num_steps") or default_num_steps(str(options.get("method", "cac")), v)
        return b * reads * int(steps) * (v * v + 8 * v) * cost.calibrated("cim", _step_cost)

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int = 100, seed: int | None = None, **options: Any
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        """Every problem of ``ir`` in one integration (the ``BatchSampler`` protocol of
        :mod:`qama_compile.runtime.sampling`); see :func:`sample_ir` for the return value."""
        if ir.num_variables > self.max_variables:
            raise ProblemTooLargeError(
                f"{ir.num_variables} variables exceed this CIM's limit of {self.max_variables} spins",
                fix="decompose the problem or raise max_variables",
                size=ir.num_variables,
                limit=self.max_variables,
                unit="variables",
            )
        options.setdefault("use_torch", self.use_torch)
        options.setdefault("num_threads", self.num_threads)
        options.setdefault("machine", self.machine)
        return sample_ir(ir, num_reads=num_reads, seed=seed, **options)

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        num_reads: int = 100,
        seed: int | None = None,
        method: str = "cac",
        num_steps: int | None = None,
        dt: float | None = None,
        polish: bool = True,
        use_torch: bool | str | None = None,
        num_threads: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        **schedule_options: Any,
    ) -> dimod.SampleSet:
        """Sample ``bqm`` (SPIN or BINARY; BINARY is converted to SPIN and back).

        Returns ``num_reads`` samples (the best state each replica saw, polished) whose
        energies are recomputed with ``bqm.energies``; ``info`` holds steps, wall time, the
        emulated hardware time, method and scaling.
        """
        t0 = time.perf_counter()
        reads = _check_reads(num_reads)
        v = bqm.num_variables
        if v > self.max_variables:
            raise ProblemTooLargeError(
                f"{v} variables exceed this CIM's limit of {self.max_variables} spins",
                fix="decompose the problem or raise max_variables",
                size=v,
                limit=self.max_variables,
                unit="variables",
            )
        order = list(bqm.variables)
        spin_bqm = bqm if bqm.vartype is dimod.SPIN else bqm.change_vartype(dimod.SPIN, inplace=False)
        lin, (r, c, d), *_ = spin_bqm.to_numpy_vectors(variable_order=order)
        density = 2 * len(d) / max(v * v, 1)
        J: Any
        if v > 2048 and density < 0.05:
            upper = sp.coo_matrix((np.asarray(d, dtype=np.float64), (r, c)), shape=(v, v)).tocsr()
            J = (upper + upper.T).tocsr()
        else:
            J = np.zeros((1, v, v))
            np.add.at(J, (0, r, c), d)  # type: ignore[arg-type]
            np.add.at(J, (0, c, r), d)  # type: ignore[arg-type]
        spins, _, info = sample_ising_arrays(
            np.asarray(lin, dtype=np.float64)[None],
            J,
            num_reads=reads,
            seed=seed,
            method=method,
            num_steps=num_steps,
            dt=dt,
            polish=polish,
            use_torch=self.use_torch if use_torch is None else use_torch,
            num_threads=self.num_threads if num_threads is None else num_threads,
            machine=self.machine,
            progress=progress,
            **schedule_options,
        )
        samples = spins[0]
        if bqm.vartype is dimod.BINARY:
            samples = ((samples + 1) // 2).astype(np.int8)
        energies = bqm.energies((samples, order)) if v else np.full(reads, bqm.offset, dtype=np.float64)
        info = dict(info, wall_time_s=time.perf_counter() - t0, num_variables=v)
        return dimod.SampleSet.from_samples((samples, order), vartype=bqm.vartype, energy=energies, info=info)


def _step_cost() -> float:
    """Seconds per (read x round trip x (V^2 + 8V)): 32 reads x 100 steps of a dense 64-spin problem."""
    h, J, _ = dense_couplings_from_ir(cost.random_ir(64))
    sample_ising_arrays(h, J, num_reads=2, num_steps=10, seed=0)  # warm up (torch import, threads)
    t = cost.timed(lambda: sample_ising_arrays(h, J, num_reads=32, num_steps=100, seed=0))
    return t / (32 * 100 * (64 * 64 + 8 * 64))


# ---------------------------------------------------------------------------- quick benchmark
def _tts99(wall_s: float, reads: int, hits: int) -> float:
    """Time to solution at 99% from ``hits`` of ``reads`` independent reads in ``wall_s``."""
    per_read = wall_s / reads
    p = hits / reads
    if p <= 0:
        return math.inf
    if p >= 1:
        return per_read
    return per_read * math.log(0.01) / math.log(1 - p)


def benchmark_sk(
    sizes: tuple[int, ...] = (256, 1024),
    *,
    seed: int = 0,
    num_threads: int | None = 1,
    cim_steps: dict[int, tuple[int, ...]] | None = None,
    sa_sweeps: dict[int, tuple[int, ...]] | None = None,
) -> list[dict[str, Any]]:
    """Time to target of ``cim`` vs dwave-samplers SA on dense +-1 SK instances, same run.

    The target is the best energy any run found; TTS99 = per-read time x ln(0.01)/ln(1-p),
    minimised over the budgets tried, for the exact target (gap 0) and a 1% gap. SA runs
    single-threaded, so ``num_threads=1`` is the like-for-like setting. Not a unit test.
    """
    from dwave.samplers import SimulatedAnnealingSampler

    cim_steps = cim_steps or {256: (200, 400, 800), 1024: (400, 800, 1600)}
    sa_sweeps = sa_sweeps or {256: (100, 300, 1000), 1024: (100, 300, 1000)}
    rows: list[dict[str, Any]] = []
    warm = dimod.BinaryQuadraticModel.from_ising({}, {(0, 1): 1.0})
    SimulatedAnnealingSampler().sample(warm, num_reads=1, seed=0)
    dense_warm = dimod.BinaryQuadraticModel(np.zeros(64), np.triu(np.ones((64, 64)), 1), 0.0, "SPIN")
    CIMSampler(num_threads=num_threads).sample(dense_warm, num_reads=2, num_steps=2)  # imports torch before timing
    for n in sizes:
        rng = np.random.default_rng(seed)
        bqm = dimod.BinaryQuadraticModel(np.zeros(n), np.triu(rng.choice([-1.0, 1.0], size=(n, n)), 1), 0.0, "SPIN")
        runs: list[tuple[str, int, float, NDArray[np.float64]]] = []
        for sweeps in sa_sweeps.get(n, (100, 1000)):
            reads = 100 if n <= 256 else 20
            t0 = time.perf_counter()
            ss = SimulatedAnnealingSampler().sample(bqm, num_reads=reads, num_sweeps=sweeps, seed=seed + 1)
            runs.append(("sa", sweeps, time.perf_counter() - t0, np.asarray(ss.record.energy, dtype=float)))
        for steps in cim_steps.get(n, (400, 800)):
            t0 = time.perf_counter()
            ss = CIMSampler(num_threads=num_threads).sample(bqm, num_reads=100, seed=seed, num_steps=steps)
            runs.append(("cim", steps, time.perf_counter() - t0, np.asarray(ss.record.energy, dtype=float)))
        target = min(float(e.min()) for *_, e in runs)
        for gap in (0.0, 0.01):
            level = target + gap * abs(target)
            best: dict[str, tuple[float, int]] = {}
            for name, budget, wall, e in runs:
                tts = _tts99(wall, e.size, int((e <= level + 1e-9).sum()))
                if name not in best or tts < best[name][0]:
                    best[name] = (tts, budget)
            rows.append(
                {
                    "n": n,
                    "gap": gap,
                    "target": level,
                    "cim_tts_s": best["cim"][0],
                    "cim_steps": best["cim"][1],
                    "sa_tts_s": best["sa"][0],
                    "sa_sweeps": best["sa"][1],
                    "sa_over_cim": best["sa"][0] / best["cim"][0] if best["cim"][0] > 0 else math.inf,
                    "runs": [
                        (name, budget, round(wall, 3), float(e.min()), float(e.mean()))
                        for name, budget, wall, e in runs
                    ],
                }
            )
    return rows


if __name__ == "__main__":  # pragma: no cover - manual benchmark
    import json
    import sys

    chosen = tuple(int(a) for a in sys.argv[1:]) or (256, 1024)
    for row in benchmark_sk(chosen):
        print(json.dumps(row))

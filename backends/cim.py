"""A fast coherent Ising machine (CIM) emulator: a ``dimod.Sampler``, a batched IR sampler and an array API.

The physics and the integrator live in :mod:`qama_backends.cim_dynamics`, the structured
coupling products (dense, QAMA blocks + sparse penalty, sparse graphs) in
:mod:`qama_backends.cim_couplings`, the polish in :mod:`qama_backends.cim_polish` and the
numpy/torch device choice in :mod:`qama_backends.cim_arrays`. This module adds the dimod
adapter (:class:`CIMSampler`), the batched entry points (:func:`sample_ir`,
:func:`sample_ising_arrays`) and the emulated hardware time model (:data:`MACHINES`).
Equations, defaults and measured figures: docs/backends/cim.md.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel.from_ising({"a": 0.5}, {("a", "b"): -1.0, ("b", "c"): 1.0})
>>> ss = CIMSampler().sample(bqm, num_reads=8, seed=1)
>>> float(ss.first.energy), ss.info["method"]
(-2.5, 'dsb')

Batched arrays (``B`` problems x ``R`` replicas in one set of array operations per step):

>>> import numpy as np
>>> h = np.zeros((2, 3)); J = np.zeros((2, 3, 3)); J[:, 0, 1] = J[:, 1, 0] = [-1.0, 1.0]
>>> spins, energies, info = sample_ising_arrays(h, J, num_reads=4, seed=0)
>>> spins.shape, energies.min(axis=1).tolist()
((2, 4, 3), [-1.0, -1.0])
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import dimod
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from . import cost
from .cim_arrays import limit_threads, resolve_ops
from .cim_couplings import SPARSE_DENSITY, Couplings
from .cim_dynamics import DEFAULT_METHOD, METHODS, Schedule, default_schedule, run_dynamics

__all__ = ["MACHINES", "CIMSampler", "Machine", "couplings_from_ir", "sample_ir", "sample_ising_arrays"]


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
STRUCTURES = ("auto", "dense", "blocks", "sparse")
_SCHEDULE_OPTIONS = tuple(f for f in Schedule.__dataclass_fields__ if f != "method")
# Working memory per chunk of problems: a batch is integrated a few problems at a time so that
# the replicas' arrays stay in cache (64 problems of 512 variables x 16 replicas: 1.8x faster
# than all at once); the chunks' generators are spawned from the seed.
_CHUNK_BYTES = 8 << 20
_SMALL_DENSE = 128  # up to this many variables an IR is multiplied as one dense matrix


# ---------------------------------------------------------------------------- checks
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


def _check_structure(structure: str) -> str:
    if structure not in STRUCTURES:
        raise InvalidInputError(
            f"structure must be one of {', '.join(STRUCTURES)}, got {structure!r}", fix="pass structure='auto'"
        )
    return structure


def _check_size(v: int, limit: int) -> None:
    if v > limit:
        raise ProblemTooLargeError(
            f"{v} variables exceed this CIM's limit of {limit} spins",
            fix="decompose the problem or raise max_variables",
            size=v,
            limit=limit,
            unit="variables",
        )


def _schedule(
    method: str, v: int, num_steps: int | None, dt: float | None, options: dict[str, Any], *, sparse: bool = False
) -> Schedule:
    overrides = dict(options)
    if num_steps is not None:
        overrides["num_steps"] = num_steps
    if dt is not None:
        overrides["dt"] = dt
    unknown = set(overrides) - set(_SCHEDULE_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"unknown CIM option(s): {', '.join(sorted(unknown))}",
            fix="use num_reads, seed, method, polish, structure, device, use_torch, num_threads, machine or "
            + ", ".join(_SCHEDULE_OPTIONS),
        )
    return default_schedule(method, v, sparse=sparse, **overrides)


def _checked_arrays(h: ArrayLike, J: Any, *, check: bool) -> tuple[NDArray[np.float64], Any]:
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
        jm: Any = sp.csr_matrix(J, dtype=np.float64)
        if check:
            diag, finite = jm.diagonal(), bool(np.all(np.isfinite(jm.data)))
            asym = abs(jm - jm.T)
            bad_sym = bool(asym.nnz and asym.max() > 1e-9 * (1 + abs(jm).max()))
    else:
        jm = np.asarray(J, dtype=np.float64)
        if jm.ndim == 2:
            jm = jm[None]
        if jm.shape != (b, v, v):
            raise InvalidInputError(f"J must be [B, V, V] = ({b}, {v}, {v}), got {jm.shape}", fix="match h's shape")
        if check:
            diag = np.diagonal(jm, axis1=1, axis2=2)
            finite = bool(np.isfinite(jm).all())
            bad_sym = finite and bool(
                jm.size and np.abs(jm - np.swapaxes(jm, 1, 2)).max() > 1e-9 * (1.0 + np.abs(jm).max())
            )
    if not check:
        return ha, jm
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


# ---------------------------------------------------------------------------- the common run
def _run(
    couplings: Couplings,
    *,
    num_reads: int,
    seed: int | None,
    schedule: Schedule,
    polish: bool,
    device: str | None,
    use_torch: bool | str | None,
    num_threads: int | None,
    machine: Machine,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
    """Integrate ``couplings`` (in chunks of problems if memory asks for it); info as documented.

    ``progress(done, total)`` counts round trips over all chunks.
    """
    t0 = time.perf_counter()
    ops = resolve_ops(device, use_torch=use_torch)
    b, v = couplings.h.shape
    reads = num_reads
    spins = np.ones((b, reads, v), dtype=np.int8)
    energies = np.zeros((b, reads))
    flips = np.zeros((b, reads), dtype=np.int64)
    scale = np.ones(b)
    stiffness = np.zeros(b)
    checks = polish_iters = 0
    dt_eff = schedule.dt
    if v and b:
        per_problem = reads * v * 4 * 10 + _couplings_bytes(couplings) // max(b, 1)
        chunk = max(1, min(b, _CHUNK_BYTES // max(per_problem, 1)))
        chunks = (b + chunk - 1) // chunk
        seeds = np.random.SeedSequence(seed).spawn(chunks)
        with limit_threads(num_threads, torch_used=ops.name == "torch"):
            for k, start in enumerate(range(0, b, chunk)):  # chunks of problems (memory bound), not variables
                stop = min(b, start + chunk)
                part = couplings if (start, stop) == (0, b) else couplings.select(slice(start, stop))
                tick = None if progress is None else functools.partial(_chunk_progress, progress, k, chunks)
                res = run_dynamics(
                    part,
                    num_reads=reads,
                    schedule=schedule,
                    seed=np.random.default_rng(seeds[k]),
                    ops=ops,
                    polish=polish,
                    progress=tick,
                )
                spins[start:stop] = res.spins
                energies[start:stop] = res.energies
                flips[start:stop] = res.polish_flips
                scale[start:stop] = res.normalisation.scale
                stiffness[start:stop] = res.normalisation.stiffness
                checks, polish_iters = res.energy_checks, max(polish_iters, res.polish_iterations)
                dt_eff = min(dt_eff, res.dt) if k else res.dt
    info: dict[str, Any] = {
        "backend": "cim",
        "method": schedule.method,
        "steps": schedule.num_steps,
        "round_trips_per_read": schedule.num_steps,
        "energy_checks": checks,
        "wall_time_s": time.perf_counter() - t0,
        "machine": machine.name,
        "round_trip_s": machine.round_trip_s,
        "emulated_time_per_read_s": schedule.num_steps * machine.round_trip_s,
        "emulated_hardware_time_s": schedule.num_steps * machine.round_trip_s * reads * b,
        "fits_machine": v <= machine.spins,
        "scale": scale.tolist(),
        "stiffness": stiffness.tolist(),
        "scaling": "h and J divided by |lambda_min(J)| / 2 per problem (Lanczos estimate)",
        "dt_effective": dt_eff,
        "schedule": {f: getattr(schedule, f) for f in Schedule.__dataclass_fields__},
        "polish": bool(polish),
        "polish_flips_mean": float(flips.mean()) if flips.size else 0.0,
        "polish_iterations": polish_iters,
        "structure": couplings.kind,
        "sparse": couplings.sparse is not None,
        "torch": ops.name == "torch",
        "device": ops.device,
        "seed": seed,
    }
    return spins, energies, info


def _chunk_progress(progress: Callable[[int, int], None], k: int, chunks: int, done: int, total: int) -> None:
    progress(k * total + done, chunks * total)


def _couplings_bytes(c: Couplings) -> int:
    """float32 bytes of the coupling product (what the dynamics keep per chunk)."""
    total = 0
    if c.dense is not None:
        total += c.dense.size * 4
    if c.blocks is not None:
        total += c.blocks.size * 4
    if c.sparse is not None:
        vals = c.sparse_values.size if c.sparse_values is not None else c.sparse.nnz
        total += vals * 8
    return total


# ---------------------------------------------------------------------------- array API
def sample_ising_arrays(
    h: ArrayLike,
    J: Any,
    *,
    num_reads: int = 100,
    seed: int | None = None,
    method: str = DEFAULT_METHOD,
    num_steps: int | None = None,
    dt: float | None = None,
    polish: bool = True,
    structure: str = "auto",
    check: bool = True,
    device: str | None = "auto",
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
        method: ``"dsb"`` (default: discrete simulated bifurcation), ``"cac"`` (chaotic
            amplitude control), ``"ahc"`` or ``"basic"`` (see docs/backends/cim.md).
        num_steps, dt: round trips and Euler step (defaults scale with ``V``).
        polish: greedy single-flip descent on the best states (reported in ``info``).
        structure: ``"auto"`` (CSR when at most 10 % of ``J`` is non-zero), ``"dense"`` or
            ``"sparse"``.
        check: verify ``J`` is finite, symmetric and zero on the diagonal (``O(B V^2)``);
            pass ``False`` for arrays you built that way.
        device: ``"auto"`` (a CUDA device when torch sees one, else numpy on the CPU),
            ``"cpu"``, ``"cuda"``, ``"cuda:N"``; ``use_torch=True`` runs torch on the CPU.
        num_threads: limit BLAS/torch threads for this call (default: the libraries' own).
        machine: a key of :data:`MACHINES` (or a :class:`Machine`) for the emulated time.
        progress: called as ``progress(round_trips_done, round_trips_total)`` at every check.
        **schedule_options: any other :class:`~qama_backends.cim_dynamics.Schedule` field.

    Returns:
        ``(spins [B, R, V] int8 in {-1, +1}, energies [B, R] float64 without offset, info)``.
    """
    reads = _check_reads(num_reads)
    seed = _check_seed(seed)
    structure = _check_structure(structure)
    ha, jm = _checked_arrays(h, J, check=check)
    v = ha.shape[1]
    _check_size(v, DEFAULT_MAX_VARIABLES)
    mach = _resolve_machine(machine)
    _schedule(method, v, num_steps, dt, schedule_options)  # bad options fail before any work
    if sp.issparse(jm):
        couplings = (
            Couplings.from_dense(ha, jm.toarray()[None]) if structure == "dense" else Couplings.from_sparse(ha, jm)
        )
    else:
        couplings = Couplings.from_dense(
            ha, jm, sparse=None if structure in ("auto", "blocks") else structure == "sparse"
        )
    schedule = _schedule(method, v, num_steps, dt, schedule_options, sparse=couplings.kind == "sparse")
    return _run(
        couplings,
        num_reads=reads,
        seed=seed,
        schedule=schedule,
        polish=polish,
        device=device,
        use_torch=use_torch,
        num_threads=num_threads,
        machine=mach,
        progress=progress,
    )


def couplings_from_ir(ir: QuadraticIR, *, structure: str = "auto") -> tuple[Couplings, NDArray[np.float64]]:
    """The Ising form of ``ir`` as :class:`~qama_backends.cim_couplings.Couplings` and its offset ``[B]``.

    ``"auto"`` keeps the IR's structure: dense blocks (QAMA heads) stay blocks (the IR's own
    array, not copied: a BINARY IR's spin couplings are its blocks times 1/4), the COO
    couplings become one CSR pattern shared by the batch; an IR of at most 128 variables, or
    without blocks and with couplings on more than 10 % of the pairs, is multiplied densely.
    Nothing is re-validated: an IR is finite, upper-triangular and in range by construction.

    >>> ir = QuadraticIR.from_coo(linear=[[1.0, 0.0]], rows=[0], cols=[1], data=[[4.0]])
    >>> c, off = couplings_from_ir(ir, structure="dense")
    >>> c.h.tolist(), c.dense[0].tolist(), off.tolist()
    ([[1.5, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [1.5])
    """
    structure = _check_structure(structure)
    b, v = ir.batch_size, ir.num_variables
    g, n = ir.block_count, ir.block_size
    blocks = ir.blocks if g else None
    rows, cols = ir.rows, ir.cols
    if ir.vartype == "SPIN":
        h, offset, factor, data = ir.linear, ir.offset, 1.0, ir.data
    else:  # x = (s + 1) / 2:  Q x_i x_j = Q/4 (s_i s_j + s_i + s_j + 1),  a x = a/2 (s + 1)
        touch = np.zeros((b, v))
        quad = ir.data.sum(axis=1)
        if blocks is not None:
            touch[:, : g * n] = (blocks.sum(axis=3) + blocks.sum(axis=2)).reshape(b, g * n)
            quad = quad + touch[:, : g * n].sum(axis=1) / 2
        if rows.size:
            np.add.at(touch.T, rows, ir.data.T)
            np.add.at(touch.T, cols, ir.data.T)
        h = ir.linear / 2 + touch / 4
        offset = ir.offset + ir.linear.sum(axis=1) / 2 + quad / 4
        factor, data = 0.25, ir.data / 4
    if structure == "auto":
        dense_fraction = 2 * ir.num_couplers / max(v * v, 1)
        if v <= _SMALL_DENSE:  # one small matrix product beats many tiny block products
            structure = "dense"
        else:
            structure = "blocks" if blocks is not None or dense_fraction <= SPARSE_DENSITY else "dense"
    if structure == "sparse" and blocks is not None:  # the blocks' entries join the sparse part
        gi, ii, jj = np.nonzero(np.any(blocks != 0, axis=0))
        rows = np.concatenate([rows, gi * n + ii])
        cols = np.concatenate([cols, gi * n + jj])
        data = np.concatenate([data, factor * blocks[:, gi, ii, jj]], axis=1)
        blocks = None
    c = Couplings.from_upper_coo(
        h, rows, cols, data, blocks_upper=blocks, block_factor=factor, dense=structure == "dense"
    )
    return c, offset


def sample_ir(
    ir: QuadraticIR,
    *,
    num_reads: int = 100,
    seed: int | None = None,
    method: str = DEFAULT_METHOD,
    num_steps: int | None = None,
    dt: float | None = None,
    polish: bool = True,
    structure: str = "auto",
    device: str | None = "auto",
    use_torch: bool | str | None = "auto",
    num_threads: int | None = None,
    machine: str | Machine = DEFAULT_MACHINE,
    progress: Callable[[int, int], None] | None = None,
    **schedule_options: Any,
) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
    """Sample every problem of a :class:`~qama_compile.ir.QuadraticIR` batch in one integration.

    The IR's structure is kept (:func:`couplings_from_ir`): a QAMA problem's heads are
    multiplied block by block and its head penalty as one sparse matrix for the whole batch.

    Returns:
        ``(samples [B, R, V] int8 in the IR's vartype, energies [B, R] (float64, offset
        included), info)``; options as for :func:`sample_ising_arrays`.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
    >>> x, e, info = sample_ir(problem.ir, num_reads=16, seed=0)
    >>> x.shape, sorted(np.unique(x).tolist()), bool(np.allclose(e, problem.ir.energies(x))), info["structure"]
    ((1, 16, 12), [0, 1], True, 'dense')
    """
    if not isinstance(ir, QuadraticIR):
        raise InvalidInputError(f"sample_ir takes a QuadraticIR, got {type(ir).__name__}", fix="pass problem.ir")
    reads = _check_reads(num_reads)
    seed = _check_seed(seed)
    mach = _resolve_machine(machine)
    _schedule(method, ir.num_variables, num_steps, dt, schedule_options)  # bad options fail before any work
    couplings, offset = couplings_from_ir(ir, structure=structure)
    schedule = _schedule(method, ir.num_variables, num_steps, dt, schedule_options, sparse=couplings.kind == "sparse")
    spins, energies, info = _run(
        couplings,
        num_reads=reads,
        seed=seed,
        schedule=schedule,
        polish=polish,
        device=device,
        use_torch=use_torch,
        num_threads=num_threads,
        machine=mach,
        progress=progress,
    )
    samples = spins if ir.vartype == "SPIN" else ((spins + 1) >> 1).astype(np.int8)
    info["offset"] = offset.tolist()
    info["vartype"] = ir.vartype
    return samples, energies + offset[:, None], info


# ---------------------------------------------------------------------------- dimod sampler
class CIMSampler(dimod.Sampler):  # type: ignore[misc]
    """Measurement-feedback coherent Ising machine emulator (CAC / AHC / basic / dSB), all-to-all.

    Args:
        machine: modelled machine for the emulated hardware time (:data:`MACHINES`).
        max_variables: refuse larger problems (default: the 100,512 spins of Honjo 2021).
        device: ``"auto"`` (CUDA when torch sees a device, else numpy on the CPU), ``"cpu"``,
            ``"cuda"`` or ``"cuda:N"``.
        use_torch: ``"auto"`` (torch exactly on CUDA devices), ``True`` (also on the CPU) or
            ``False``.
        num_threads: BLAS/torch threads per call (``None``: the libraries' defaults).

    >>> import dimod
    >>> dimod.testing.asserts.assert_sampler_api(CIMSampler())
    """

    def __init__(
        self,
        *,
        machine: str | Machine = DEFAULT_MACHINE,
        max_variables: int = DEFAULT_MAX_VARIABLES,
        device: str | None = "auto",
        use_torch: bool | str | None = "auto",
        num_threads: int | None = None,
    ) -> None:
        self.machine = _resolve_machine(machine)
        self.max_variables = int(max_variables)
        self.device = device
        self.use_torch = use_torch
        self.num_threads = num_threads

    @property
    def parameters(self) -> dict[str, list[Any]]:
        params: dict[str, list[Any]] = {
            "num_reads": [],
            "seed": [],
            "method": [],
            "polish": [],
            "structure": [],
            "device": [],
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
                "amplitude heterogeneity correction, plain pump ramp, or discrete simulated bifurcation), "
                "vectorised over replicas and problems"
            ),
        }

    #: Reads per problem when none are asked for (runtime.sampling.default_num_reads).
    default_num_reads = 100

    def estimate_time_s(self, ir: QuadraticIR, *, num_reads: int | None = None, **options: Any) -> float:
        """``B * R * steps * (V^2 + 8V) * c`` seconds: one dense product per round trip, an upper
        estimate for QAMA blocks and sparse graphs (model: :mod:`qama_backends.cost`)."""
        b, v, _ = cost.work(ir)
        reads = self.default_num_reads if num_reads is None else int(num_reads)
        method = str(options.get("method") or DEFAULT_METHOD)
        steps = options.get("num_steps") or default_schedule(method, max(v, 1)).num_steps
        return b * reads * int(steps) * (v * v + 8 * v) * cost.calibrated("cim", _step_cost)

    def _defaults(self, options: dict[str, Any]) -> dict[str, Any]:
        for key in ("device", "use_torch", "num_threads"):
            if options.get(key) is None:
                options[key] = getattr(self, key)
        options.setdefault("machine", self.machine)
        return options

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int = 100, seed: int | None = None, **options: Any
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        """Every problem of ``ir`` in one integration (the ``BatchSampler`` protocol of
        :mod:`qama_compile.runtime.sampling`); see :func:`sample_ir` for the return value."""
        _check_size(ir.num_variables, self.max_variables)
        return sample_ir(ir, num_reads=num_reads, seed=seed, **self._defaults(options))

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        num_reads: int = 100,
        seed: int | None = None,
        method: str = DEFAULT_METHOD,
        num_steps: int | None = None,
        dt: float | None = None,
        polish: bool = True,
        structure: str = "auto",
        device: str | None = None,
        use_torch: bool | str | None = None,
        num_threads: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        **schedule_options: Any,
    ) -> dimod.SampleSet:
        """Sample ``bqm`` (SPIN or BINARY; BINARY is converted to SPIN and back).

        Returns ``num_reads`` samples (the best state each replica saw, polished) whose
        energies are recomputed with ``bqm.energies``; ``info`` holds steps, wall time, the
        emulated hardware time, method, scaling and the coupling structure used.
        """
        t0 = time.perf_counter()
        reads = _check_reads(num_reads)
        seed = _check_seed(seed)
        structure = _check_structure(structure)
        v = bqm.num_variables
        _check_size(v, self.max_variables)
        _schedule(method, v, num_steps, dt, schedule_options)  # bad options fail before any work
        order = list(bqm.variables)
        spin_bqm = bqm if bqm.vartype is dimod.SPIN else bqm.change_vartype(dimod.SPIN, inplace=False)
        lin, (r, c, d), *_ = spin_bqm.to_numpy_vectors(variable_order=order)
        r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        if structure == "auto":
            structure = "sparse" if 2 * len(d) <= SPARSE_DENSITY * max(v * v, 1) else "dense"
        couplings = Couplings.from_upper_coo(
            np.asarray(lin, dtype=np.float64)[None],
            lo,
            hi,
            np.asarray(d, dtype=np.float64)[None],
            dense=structure != "sparse",
        )
        schedule = _schedule(method, v, num_steps, dt, schedule_options, sparse=couplings.kind == "sparse")
        spins, _, info = _run(
            couplings,
            num_reads=reads,
            seed=seed,
            schedule=schedule,
            polish=polish,
            device=self.device if device is None else device,
            use_torch=self.use_torch if use_torch is None else use_torch,
            num_threads=self.num_threads if num_threads is None else num_threads,
            machine=self.machine,
            progress=progress,
        )
        samples = spins[0]
        if bqm.vartype is dimod.BINARY:
            samples = ((samples + 1) // 2).astype(np.int8)
        energies = bqm.energies((samples, order)) if v else np.full(reads, bqm.offset, dtype=np.float64)
        info = dict(info, wall_time_s=time.perf_counter() - t0, num_variables=v)
        return dimod.SampleSet.from_samples((samples, order), vartype=bqm.vartype, energy=energies, info=info)


def _step_cost() -> float:
    """Seconds per (read x round trip x (V^2 + 8V)), measured on a dense 64-spin problem."""
    ir = cost.random_ir(64)
    t = cost.timed(lambda: sample_ir(ir, num_reads=32, num_steps=100, seed=0, polish=False))
    return t / (32 * 100 * (64 * 64 + 8 * 64))

"""QAOA on Qiskit Aer as a ``dimod.Sampler`` (registered as ``qaoa``).

The problem becomes an Ising ``SparsePauliOp`` (variable ``k`` is qubit ``k``,
``x_k = (1 - Z_k) / 2``, via :func:`qama_compile.core.convert.ir_to_pauli`), scaled by its
largest coefficient so the angles mean the same thing on every problem (the ground state
does not change). qiskit-optimization's ``QAOA`` (``minimum_eigensolvers.QAOA``) then
optimises ``p`` layers with a classical optimizer (COBYLA by default) on the
``qiskit_aer.primitives.SamplerV2``; the ansatz is transpiled by a preset pass manager
(``generate_preset_pass_manager``) given to ``QAOA(pass_manager=...)``. The sample set is
the final measured distribution: every distinct bitstring with its shot count as
``num_occurrences`` and its energy recomputed from the BQM.

Limits: the statevector of ``n`` qubits takes ``16 * 2^n`` bytes. Problems above
``max_qubits`` (default 24) or whose statevector does not fit in the available memory are
refused with :class:`ProblemTooLargeError` before anything is built.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0, 2: 0.5}, {(0, 1): -2.0, (1, 2): 1.0}, 0.0, "SPIN")
>>> ss = QAOASampler(reps=1, maxiter=20, shots=256).sample(bqm, seed=7)
>>> bool(ss.first.energy == min(dimod.ExactSolver().sample(bqm).record.energy))
True
>>> sorted(k for k in ss.info if k.startswith("circuit"))
['circuit_depth', 'circuit_two_qubit_gates']
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile.base.optional import optional_import
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from . import cost

DEFAULT_MAX_QUBITS = 24
_BYTES_PER_AMPLITUDE = 16  # complex128
_DEFAULT_BASIS = ("rz", "sx", "x", "cx")
_PARALLEL_QUBITS = 14  # Aer's default statevector_parallel_threshold

__all__ = ["DEFAULT_MAX_QUBITS", "QAOASampler", "available_memory", "statevector_bytes"]


def available_memory() -> int:
    """Bytes of physical memory available now (``os.sysconf``; 8 GiB if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def statevector_bytes(num_qubits: int) -> int:
    """Memory of one complex128 statevector: ``16 * 2^n`` bytes.

    >>> statevector_bytes(24) / 2**20
    256.0
    """
    return _BYTES_PER_AMPLITUDE * 2**num_qubits


class _RecordingPassManager:
    """Wraps a pass manager and keeps the last circuit it produced (for depth / gate counts)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last: Any = None

    def run(self, circuits: Any, *args: Any, **kwargs: Any) -> Any:
        out = self.inner.run(circuits, *args, **kwargs)
        self.last = out
        return out


class QAOASampler(dimod.Sampler):  # type: ignore[misc]
    """QAOA of depth ``reps`` with qiskit-optimization on the Aer ``SamplerV2``.

    Args:
        reps: QAOA depth ``p``.
        optimizer: ``"cobyla"`` (default), ``"nelder_mead"``, or any qiskit-optimization
            ``Optimizer`` / ``Minimizer`` callable (stochastic ones such as SPSA draw from
            qiskit-optimization's global generator, outside ``seed``).
        maxiter: optimizer iterations (for the named optimizers).
        shots: shots per circuit evaluation and for the final distribution.
        aggregation: ``None`` for the mean energy, or a CVaR fraction in (0, 1].
        optimization_level: of the preset pass manager (0-3).
        basis_gates: gates the circuit is transpiled to (two-qubit counts refer to them).
        max_qubits: practical limit; also refused when ``16 * 2^n`` bytes exceed the
            available memory.

    ``sample(bqm, *, seed=None, shots=None, reps=None, maxiter=None)``: ``seed`` seeds the
    initial angles, the transpiler and Aer (same seed, same sample set). ``num_reads`` is
    accepted as an alias of ``shots``.
    """

    def __init__(
        self,
        *,
        reps: int = 2,
        optimizer: Any = "cobyla",
        maxiter: int = 100,
        shots: int = 1024,
        aggregation: float | None = None,
        optimization_level: int = 1,
        basis_gates: tuple[str, ...] | list[str] = _DEFAULT_BASIS,
        max_qubits: int = DEFAULT_MAX_QUBITS,
    ) -> None:
        for name, value, low in (
            ("reps", reps, 1),
            ("maxiter", maxiter, 1),
            ("shots", shots, 1),
            ("max_qubits", max_qubits, 1),
            ("optimization_level", optimization_level, 0),
        ):
            _check_int(name, value, low)
        if optimization_level > 3:
            raise InvalidInputError(f"optimization_level must be 0..3, got {optimization_level}")
        if isinstance(optimizer, str) and optimizer.lower() not in ("cobyla", "nelder_mead"):
            raise InvalidInputError(
                f"unknown optimizer {optimizer!r}", fix="use 'cobyla', 'nelder_mead' or an Optimizer object"
            )
        if aggregation is not None and not 0 < float(aggregation) <= 1:
            raise InvalidInputError(f"aggregation (CVaR alpha) must be in (0, 1], got {aggregation}")
        self.reps = int(reps)
        self.optimizer = optimizer
        self.maxiter = int(maxiter)
        self.shots = int(shots)
        self.aggregation = aggregation
        self.optimization_level = int(optimization_level)
        self.basis_gates = tuple(basis_gates)
        self.max_qubits = int(max_qubits)

    @property
    def default_num_reads(self) -> int:
        """Reads (shots of the final distribution) when none are asked for: ``shots``."""
        return self.shots

    @property
    def parameters(self) -> dict[str, list[Any]]:
        return {"seed": [], "shots": [], "num_reads": [], "reps": [], "maxiter": [], "progress": []}

    @property
    def properties(self) -> dict[str, Any]:
        return {
            "max_variables": self.max_qubits,
            "native_graph": None,
            "description": f"QAOA p={self.reps} (qiskit-optimization) on the Qiskit Aer SamplerV2, statevector",
        }

    def estimate_time_s(self, ir: QuadraticIR, *, num_reads: int | None = None, **options: Any) -> float:
        """``B * maxiter * t(m) * 2^(n - m) * reps (2E + n) / (2E_m + m)`` seconds, ``m = min(n, 16)``.

        ``t(m)``: one measured optimizer evaluation of a dense ``m``-qubit, ``p = 1`` problem
        (model: :mod:`qama_backends.cost`). ``inf`` when the problem is above ``max_qubits``
        or its statevector does not fit.
        """
        b, n, e = cost.work(ir)
        if n > self.max_qubits or statevector_bytes(n) > available_memory():
            return float("inf")
        reps = int(options.get("reps") or self.reps)
        maxiter = int(options.get("maxiter") or self.maxiter)
        m = max(2, min(n, _CALIBRATION_QUBITS))
        per_eval = cost.calibrated(f"qaoa-{m}", lambda: _evaluation_seconds(m))
        work = 2.0 ** (n - m) * reps * (2 * e + n) / (m * (m - 1) + m)
        return b * maxiter * per_eval * max(work, 1.0 / m)

    # ------------------------------------------------------------------ limits
    def check_size(self, num_qubits: int) -> None:
        """Raise :class:`ProblemTooLargeError` if ``num_qubits`` cannot be simulated."""
        need, free = statevector_bytes(num_qubits), available_memory()
        if num_qubits > self.max_qubits or need > free:
            why = (
                f"above the practical limit of {self.max_qubits} qubits"
                if num_qubits > self.max_qubits
                else f"over the {free / 2**30:.1f} GiB of available memory"
            )
            raise ProblemTooLargeError(
                f"QAOA needs {num_qubits} qubits, one per variable; the statevector takes 16 * 2^{num_qubits} "
                f"bytes = {need / 2**30:.3g} GiB, {why}",
                fix="decompose the problem into smaller sub-problems, lower fewer tokens, or use a smaller "
                "bit width (--bits); or use a classical backend (sa, cim)",
                size=num_qubits,
                limit=self.max_qubits,
                unit="qubits",
            )

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        seed: int | None = None,
        shots: int | None = None,
        num_reads: int | None = None,
        reps: int | None = None,
        maxiter: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dimod.SampleSet:
        """Run QAOA on ``bqm`` and return the final distribution as a sample set.

        ``progress(evaluations, maxiter)`` is called after every cost-function evaluation.
        """
        n = bqm.num_variables
        self.check_size(n)  # before building anything
        given = shots if shots is not None else num_reads
        shots = self.shots if given is None else given
        reps = self.reps if reps is None else reps
        maxiter = self.maxiter if maxiter is None else maxiter
        for name, value in (("shots", shots), ("reps", reps), ("maxiter", maxiter)):
            _check_int(name, value, 1)
        t0 = time.perf_counter()
        order = list(bqm.variables)
        if n == 0:
            return dimod.SampleSet.from_samples_bqm(([[]], order), bqm, info={"backend": "qaoa"})

        SamplerV2 = optional_import("qiskit_aer.primitives", purpose="the qaoa backend").SamplerV2
        from qiskit_optimization.minimum_eigensolvers import QAOA

        op, scale = self._operator(bqm, order)
        rng = np.random.default_rng(seed)
        sub_seed = int(rng.integers(2**31 - 1))
        pm = _RecordingPassManager(self._pass_manager(sub_seed))
        qaoa = QAOA(
            SamplerV2(
                default_shots=shots,
                seed=sub_seed,
                # small circuits: one thread avoids OpenMP start-up cost on shared machines
                options={"backend_options": {"max_parallel_threads": 1 if n < _PARALLEL_QUBITS else 0}},
            ),
            self._optimizer(maxiter),
            reps=reps,
            initial_point=self._initial_point(reps, rng),
            aggregation=self.aggregation,
            pass_manager=pm,  # type: ignore[arg-type]
            callback=None if progress is None else _evaluation_callback(progress, maxiter),
        )
        result = qaoa.compute_minimum_eigenvalue(op)
        dist: Any = result.eigenstate  # QuasiDistribution over int keys, from `shots` shots
        keys = np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))
        probs = np.fromiter(dist.values(), dtype=np.float64, count=len(dist))
        counts = np.rint(probs * shots).astype(np.int64)
        keep = counts > 0
        keys, counts = keys[keep], counts[keep]
        binary = ((keys[:, None] >> np.arange(n)) & 1).astype(np.int8)  # bit k = qubit k = variable k
        samples = 2 * binary - 1 if bqm.vartype is dimod.SPIN else binary
        circuit = pm.last
        two_qubit = sum(1 for inst in circuit.data if inst.operation.num_qubits == 2) if circuit is not None else None
        info = {
            "backend": "qaoa",
            "reps": reps,
            "shots": shots,
            "optimizer_evaluations": int(result.cost_function_evals or 0),
            "optimizer_time_s": float(result.optimizer_time or 0.0),
            "optimal_point": [float(x) for x in np.asarray(result.optimal_point).reshape(-1)],
            "operator_scale": scale,
            "circuit_depth": None if circuit is None else int(circuit.depth()),
            "circuit_two_qubit_gates": two_qubit,
            "basis_gates": list(self.basis_gates),
            "wall_time_s": time.perf_counter() - t0,
        }
        ss = dimod.SampleSet.from_samples_bqm((samples, order), bqm, num_occurrences=counts, info=info)
        return ss

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _operator(bqm: dimod.BinaryQuadraticModel, order: list[Any]) -> tuple[Any, float]:
        from qama_compile.core.convert import ir_to_pauli
        from qama_compile.core.ir import QuadraticIR

        vectors: Any = bqm.to_numpy_vectors(variable_order=order)
        lin, (r, c, d), offset = vectors[0], vectors[1], vectors[2]
        ir = QuadraticIR.from_coo(
            linear=np.asarray(lin, dtype=np.float64),
            rows=r,
            cols=c,
            data=np.asarray(d, dtype=np.float64),
            offset=[float(offset)],
            vartype="SPIN" if bqm.vartype is dimod.SPIN else "BINARY",
        )
        op, _ = ir_to_pauli(ir)
        scale = float(np.max(np.abs(op.coeffs))) if op.size else 1.0
        scale = scale if scale > 0 else 1.0
        return op / scale, scale

    def _pass_manager(self, seed: int) -> Any:
        from qiskit.transpiler import generate_preset_pass_manager

        return generate_preset_pass_manager(
            optimization_level=self.optimization_level, basis_gates=list(self.basis_gates), seed_transpiler=seed
        )

    def _optimizer(self, maxiter: int) -> Any:
        if not isinstance(self.optimizer, str):
            return self.optimizer
        from qiskit_optimization.optimizers import COBYLA, NELDER_MEAD

        if self.optimizer.lower() == "cobyla":
            return COBYLA(maxiter=maxiter)
        return NELDER_MEAD(maxiter=maxiter)

    @staticmethod
    def _initial_point(reps: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """A seeded, annealing-like start: beta decreasing, gamma increasing (a linear ramp)
        with small jitter. Order of the ansatz parameters: ``beta[0..p-1], gamma[0..p-1]``."""
        frac = (np.arange(reps) + 0.5) / reps
        dt = 0.8
        betas = dt * (1 - frac) + rng.normal(scale=0.05, size=reps)
        gammas = dt * frac + rng.normal(scale=0.05, size=reps)
        return np.concatenate([betas, gammas])


def _evaluation_callback(progress: Callable[[int, int], None], maxiter: int) -> Callable[..., None]:
    def callback(count: int, *_: Any) -> None:
        progress(min(int(count), maxiter), maxiter)

    return callback


_CALIBRATION_QUBITS = 16


def _evaluation_seconds(num_qubits: int) -> float:
    """Seconds of one optimizer evaluation (4 evaluations, p = 1, 256 shots) of a dense random problem."""
    bqm = cost.random_bqm(num_qubits)
    QAOASampler(reps=1, maxiter=4, shots=16).sample(cost.random_bqm(4), seed=0)  # warm up: imports, transpiler
    return cost.timed(lambda: QAOASampler(reps=1, maxiter=4, shots=256).sample(bqm, seed=0)) / 4


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}", fix=f"pass {name} >= {low}")

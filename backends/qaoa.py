"""QAOA as a ``dimod.Sampler`` (registered as ``qaoa``): on Qiskit Aer, a device's noise, or any SamplerV2.

The problem becomes an Ising ``SparsePauliOp`` (variable ``k`` is qubit ``k``,
``x_k = (1 - Z_k) / 2``, via :func:`qama_compile.core.convert.ir_to_pauli`), scaled by its
largest coefficient so the angles mean the same thing on every problem (the ground state
does not change). qiskit-optimization's ``QAOA`` (``minimum_eigensolvers.QAOA``) then
optimises ``p`` layers with a classical optimizer (COBYLA by default) on the
``qiskit_aer.primitives.SamplerV2``; the ansatz is transpiled once by a preset pass manager
(``generate_preset_pass_manager``) inside the sampler
(:class:`~qama_backends.qiskit_device.TranspilingSampler`, which says why). The sample set is
the final measured distribution: every distinct bitstring with its shot count as
``num_occurrences`` and its energy recomputed from the BQM.

Where it runs: by default the ideal Aer ``SamplerV2``, with the ansatz transpiled to
``basis_gates`` on all-to-all connectivity. With ``device=`` (a Qiskit ``BackendV2`` such as
qiskit-ibm-runtime's ``FakeFez`` or qiskit's ``GenericBackendV2``, a ``Target`` read from one,
or the name ``"ibm-heron"``) the ansatz is routed to the device's coupling map and basis
(``generate_preset_pass_manager(backend=device)``) and sampled on Aer with the device's noise
model (:class:`~qama_backends.qiskit_device.DeviceNoiseSampler`). With ``sampler=`` any
Qiskit ``SamplerV2`` runs the circuits (e.g. ``qiskit_ibm_runtime.SamplerV2(mode=backend)``
for real hardware); they are transpiled to ``device``, else to the sampler's own backend
when it names one. ``info`` reports the depth and two-qubit gate count of the circuit
actually run, next to the all-to-all count of the same ansatz.

Limits: the statevector of ``n`` qubits takes ``16 * 2^n`` bytes. Problems above
``max_qubits`` (default 24) or whose statevector does not fit in the available memory are
refused with :class:`ProblemTooLargeError` before anything is built.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0, 2: 0.5}, {(0, 1): -2.0, (1, 2): 1.0}, 0.0, "SPIN")
>>> ss = QAOASampler(reps=1, maxiter=20, shots=256).sample(bqm, seed=7)
>>> bool(ss.first.energy == min(dimod.ExactSolver().sample(bqm).record.energy))
True
>>> sorted(k for k in ss.info if k.startswith("circuit"))
['circuit_depth', 'circuit_two_qubit_gates', 'circuit_two_qubit_gates_all_to_all']

On a device (here qiskit's generic 5-qubit line with its seeded error rates), routed and noisy:

>>> from qiskit.providers.fake_provider import GenericBackendV2
>>> path = [[0, 1], [1, 2], [2, 3], [3, 4]]
>>> line = GenericBackendV2(5, basis_gates=["cz", "rz", "sx", "x"], coupling_map=path, seed=0)
>>> ss = QAOASampler(reps=1, maxiter=10, shots=256, device=line).sample(bqm, seed=7)
>>> ss.info["device"], ss.info["noise_model"], len(ss.info["physical_qubits"]) >= 3
('generic_backend_5q', True, True)
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile.base.optional import optional_import
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from . import cost
from .qiskit_device import TranspilingSampler, active_qubits

DEFAULT_MAX_QUBITS = 24
_BYTES_PER_AMPLITUDE = 16  # complex128
_DEFAULT_BASIS = ("rz", "sx", "x", "cx")
_PARALLEL_QUBITS = 14  # Aer's default statevector_parallel_threshold
_NEGLIGIBLE_ANGLE = 1e-12  # relative to the largest coefficient

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
        basis_gates: gates the circuit is transpiled to without a device (two-qubit counts
            refer to them).
        max_qubits: practical limit; also refused when ``16 * 2^n`` bytes exceed the
            available memory.
        sampler: a Qiskit ``SamplerV2`` to run the circuits on instead of Aer (its seed, if
            any, is its own business).
        device: a Qiskit ``BackendV2``, a ``Target`` with a Qiskit device, or a target name
            (``"ibm-heron"``): route to its coupling map and basis; without ``sampler``,
            simulate its noise on Aer.
        noise: with ``device`` and no ``sampler``: simulate the device's noise (``False``:
            ideal simulation of the routed circuit).

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
        sampler: Any = None,
        device: Any = None,
        noise: bool = True,
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
        from .qiskit_device import resolve_device, sampler_device

        if sampler is not None and not callable(getattr(sampler, "run", None)):
            raise InvalidInputError(
                f"sampler must be a Qiskit SamplerV2, got {type(sampler).__name__}",
                fix="pass e.g. qiskit_aer.primitives.SamplerV2() or qiskit_ibm_runtime.SamplerV2(mode=backend)",
            )
        self.sampler = sampler
        self.device = resolve_device(device) if device is not None else sampler_device(sampler)
        self.noise = bool(noise)

    @property
    def default_num_reads(self) -> int:
        """Reads (shots of the final distribution) when none are asked for: ``shots``."""
        return self.shots

    @property
    def parameters(self) -> dict[str, list[Any]]:
        return {"seed": [], "shots": [], "num_reads": [], "reps": [], "maxiter": [], "progress": []}

    @property
    def properties(self) -> dict[str, Any]:
        if self.sampler is not None:
            where = f"the given {type(self.sampler).__name__}"
        elif self.device is not None:
            where = "the Qiskit Aer SamplerV2 with the device's noise model" if self.noise else "the Aer SamplerV2"
        else:
            where = "the Qiskit Aer SamplerV2, statevector"
        routed = f", routed to {self._device_name()}" if self.device is not None else ""
        return {
            "max_variables": min(self.max_qubits, int(self.device.num_qubits))
            if self.device is not None
            else self.max_qubits,
            "native_graph": None,
            "description": f"QAOA p={self.reps} (qiskit-optimization) on {where}{routed}",
        }

    def _device_name(self) -> str | None:
        from .qiskit_device import device_name

        return None if self.device is None else device_name(self.device)

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
        if self.device is not None and num_qubits > int(self.device.num_qubits):
            raise ProblemTooLargeError(
                f"QAOA needs {num_qubits} qubits, one per variable; device {self._device_name()} has "
                f"{self.device.num_qubits}",
                fix="decompose the problem into smaller sub-problems, lower fewer tokens, or use a smaller bit width",
                size=num_qubits,
                limit=int(self.device.num_qubits),
                unit="qubits",
            )
        # a sampler of the user's runs the circuits wherever it runs them: only the practical limit applies
        need, free = statevector_bytes(num_qubits), available_memory() if self.sampler is None else 2**62
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

        from qiskit_optimization.minimum_eigensolvers import QAOA

        op, scale = self._operator(bqm, order)
        rng = np.random.default_rng(seed)
        sub_seed = int(rng.integers(2**31 - 1))
        sampler = self._sampler(shots, sub_seed, n)
        # transpiled inside the sampler, not by QAOA(pass_manager=...): see TranspilingSampler
        routed = TranspilingSampler(sampler, self._pass_manager(sub_seed))
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Using Sampler V2 .* without a pass_manager", category=UserWarning
            )
            qaoa = QAOA(
                routed,
                self._optimizer(maxiter),
                reps=reps,
                initial_point=self._initial_point(reps, rng),
                aggregation=self.aggregation,
                callback=None if progress is None else _evaluation_callback(progress, maxiter),
            )
        result = qaoa.compute_minimum_eigenvalue(op)
        dist: Any = result.eigenstate  # QuasiDistribution over int keys, from `shots` shots
        keys = np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))
        probs = np.fromiter(dist.values(), dtype=np.float64, count=len(dist))
        counts = np.rint(probs * (getattr(dist, "shots", None) or shots)).astype(np.int64)
        keep = counts > 0
        keys, counts = keys[keep], counts[keep]
        binary = ((keys[:, None] >> np.arange(n)) & 1).astype(np.int8)  # bit k = qubit k = variable k
        samples = 2 * binary - 1 if bqm.vartype is dimod.SPIN else binary
        circuit = routed.last

        info = {
            "backend": "qaoa",
            "reps": reps,
            "shots": shots,
            "optimizer_evaluations": int(result.cost_function_evals or 0),
            "optimizer_time_s": float(result.optimizer_time or 0.0),
            "optimal_point": [float(x) for x in np.asarray(result.optimal_point).reshape(-1)],
            "operator_scale": scale,
            "circuit_depth": None if circuit is None else int(circuit.depth()),
            "circuit_two_qubit_gates": None if circuit is None else _two_qubit_gates(circuit),
            "circuit_two_qubit_gates_all_to_all": self._all_to_all_two_qubit_gates(qaoa.ansatz, sub_seed),
            "basis_gates": list(self._basis()),
            "device": self._device_name(),
            "physical_qubits": None if circuit is None or self.device is None else list(active_qubits([circuit])),
            "sampler": type(sampler).__name__,
            "noise_model": self.device is not None and self.sampler is None and self.noise,
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
        # Terms below 1e-12 of the largest are float noise (e.g. J_ij + J_ji of standardised
        # couplings that cancel); as circuit angles they only break qiskit's parameter hashing.
        # The sampled energies are recomputed from the exact problem, so nothing is lost.
        return (op / scale).simplify(atol=_NEGLIGIBLE_ANGLE), scale

    def _basis(self) -> tuple[str, ...]:
        if self.device is None:
            return self.basis_gates
        from qiskit.circuit import Gate

        qt = self.device.target
        return tuple(sorted(op for op in qt.operation_names if isinstance(qt.operation_from_name(op), Gate)))

    def _pass_manager(self, seed: int) -> Any:
        from qiskit.transpiler import generate_preset_pass_manager

        if self.device is not None:  # route to the device's coupling map and basis
            return generate_preset_pass_manager(
                optimization_level=self.optimization_level, backend=self.device, seed_transpiler=seed
            )
        return generate_preset_pass_manager(
            optimization_level=self.optimization_level, basis_gates=list(self.basis_gates), seed_transpiler=seed
        )

    def _all_to_all_two_qubit_gates(self, ansatz: Any, seed: int) -> int | None:
        """Two-qubit gates of the same ansatz in the same basis without a coupling map (no routing)."""
        if ansatz is None:
            return None
        from qiskit.transpiler import generate_preset_pass_manager

        pm = generate_preset_pass_manager(
            optimization_level=self.optimization_level, basis_gates=list(self._basis()), seed_transpiler=seed
        )
        return _two_qubit_gates(pm.run(ansatz))

    def _sampler(self, shots: int, seed: int, n: int) -> Any:
        if self.sampler is not None:
            return self.sampler
        if self.device is not None:
            from .qiskit_device import DeviceNoiseSampler

            return DeviceNoiseSampler(self.device, seed=seed, default_shots=shots, noise=self.noise)
        SamplerV2 = optional_import("qiskit_aer.primitives", purpose="the qaoa backend").SamplerV2
        return SamplerV2(
            default_shots=shots,
            seed=seed,
            # small circuits: one thread avoids OpenMP start-up cost on shared machines
            options={"backend_options": {"max_parallel_threads": 1 if n < _PARALLEL_QUBITS else 0}},
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


def _two_qubit_gates(circuit: Any) -> int:
    """Gates on two or more qubits (barriers and other directives excluded)."""
    return int(circuit.num_nonlocal_gates())


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

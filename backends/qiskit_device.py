"""Gate devices for the ``qaoa`` backend: which device a sampler runs on, and a noisy simulator of it.

* :func:`resolve_device`: a Qiskit ``BackendV2``, a qama ``Target`` read from one
  (``Target.from_qiskit_backend``, or the shipped ``ibm-heron``) or a target name -> the
  backend, whose coupling map and basis the QAOA circuit is transpiled to.
* :class:`DeviceNoiseSampler`: a ``SamplerV2`` that runs circuits transpiled for a device on
  Qiskit Aer with the device's noise model (``qiskit_aer.noise.NoiseModel.from_backend``:
  depolarizing gate errors, thermal relaxation from T1/T2 and durations, readout errors).
  The model is built only for the physical qubits a circuit uses (a routed 6-qubit QAOA
  circuit touches a handful of a 156-qubit device's qubits): the same errors on those
  qubits, so the same counts for the same seed, without converting every qubit's errors
  on every call (seconds per call on a 156-qubit device).

>>> from qiskit import QuantumCircuit
>>> from qiskit.providers.fake_provider import GenericBackendV2
>>> from qiskit.transpiler import generate_preset_pass_manager
>>> device = GenericBackendV2(5, coupling_map=[[0, 1], [1, 2], [2, 3], [3, 4]], seed=1)
>>> qc = QuantumCircuit(2)
>>> _ = qc.h(0), qc.cx(0, 1)
>>> qc.measure_all()
>>> isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=0).run(qc)
>>> counts = DeviceNoiseSampler(device, seed=3, default_shots=200).run([isa]).result()[0].data.meas.get_counts()
>>> sorted(counts, key=counts.get)[-2:] in (["00", "11"], ["11", "00"]), sum(counts.values())
(True, 200)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from qama_compile.errors import InvalidInputError

__all__ = [
    "DeviceNoiseSampler",
    "TranspilingSampler",
    "active_qubits",
    "device_name",
    "resolve_device",
    "restricted_noise_model",
]


def _is_backend(obj: Any) -> bool:
    return obj is not None and hasattr(obj, "target") and hasattr(obj, "num_qubits") and not isinstance(obj, type)


def resolve_device(device: Any) -> Any:
    """The Qiskit backend behind ``device``: a backend, or a ``Target`` holding one.

    A target *name* is resolved by the runtime before the backend is built
    (``get_backend("qaoa", device="ibm-heron")``): backends do not import the target layer.
    """
    if device is None or _is_backend(device):
        return device
    if isinstance(device, str):
        raise InvalidInputError(
            f"device {device!r} is a name; this backend takes a Qiskit backend or a Target",
            fix=f"build it with qama_compile.get_backend('qaoa', device={device!r}), which resolves target names, "
            f"or pass qama_compile.get_target({device!r})",
        )
    if hasattr(device, "device_factory"):
        found = device.device()
        if _is_backend(found):
            return found
        raise InvalidInputError(
            f"target {device.name!r} has no Qiskit device",
            fix="use a gate target read with Target.from_qiskit_backend(backend), 'ibm-heron', or pass the backend",
        )
    raise InvalidInputError(
        f"device must be a Qiskit BackendV2, a Target or a target name, got {type(device).__name__}",
        fix="pass e.g. device='ibm-heron' or device=qiskit_ibm_runtime.fake_provider.FakeFez()",
    )


def sampler_device(sampler: Any) -> Any:
    """The backend a Qiskit sampler runs on, when it says (``BackendSamplerV2.backend``, runtime ``mode``)."""
    for attr in ("backend", "mode", "_backend"):
        found = getattr(sampler, attr, None)
        if _is_backend(found):
            return found
    return None


def device_name(device: Any) -> str:
    return str(getattr(device, "name", type(device).__name__))


def active_qubits(circuits: Iterable[Any]) -> tuple[int, ...]:
    """The physical qubits the circuits' instructions touch (barriers excluded)."""
    used: set[int] = set()
    for qc in circuits:
        for inst in qc.data:
            if inst.operation.name == "barrier":
                continue
            used.update(qc.find_bit(q).index for q in inst.qubits)
    return tuple(sorted(used))


def _subset_backend(device: Any, qubits: Iterable[int]) -> Any:
    """A backend whose ``Target`` keeps the device's instruction properties on ``qubits`` only."""
    from qiskit.providers import BackendV2, Options
    from qiskit.transpiler import Target as QiskitTarget

    full = device.target
    keep = set(qubits)
    sub = QiskitTarget(num_qubits=full.num_qubits, dt=full.dt, qubit_properties=full.qubit_properties)
    for name in full.operation_names:
        op = full.operation_from_name(name)
        if isinstance(op, type):  # variadic control flow: no errors to model
            continue
        props = full[name]
        if props is None or None in props:  # ideal on every qubit
            sub.add_instruction(op, props, name=name)
            continue
        sub.add_instruction(op, {q: p for q, p in props.items() if set(q) <= keep}, name=name)

    class _Subset(BackendV2):  # type: ignore[misc]
        @property
        def target(self) -> Any:
            return sub

        @property
        def max_circuits(self) -> None:
            return None

        @classmethod
        def _default_options(cls) -> Any:
            return Options()

        def run(self, run_input: Any, **options: Any) -> Any:  # pragma: no cover - only read, never run
            raise NotImplementedError

    return _Subset(name=f"{device_name(device)}[{len(keep)} qubits]")


def restricted_noise_model(device: Any, qubits: Iterable[int]) -> Any:
    """``NoiseModel.from_backend`` of ``device``, for the errors on ``qubits`` only."""
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_backend(_subset_backend(device, qubits))


try:
    from qiskit.primitives import BaseSamplerV2 as _BaseSamplerV2
except ImportError:  # pragma: no cover - qiskit < 1.0
    _BaseSamplerV2 = object


class DeviceNoiseSampler(_BaseSamplerV2):  # type: ignore[misc, valid-type]
    """A ``SamplerV2`` simulating ``device``'s noise on Aer (noise of the qubits each circuit uses).

    Args:
        device: a Qiskit ``BackendV2`` with calibration in its ``Target``.
        seed: Aer's simulator seed (same seed, same counts).
        default_shots: shots when a pub does not say.
        noise: ``False`` simulates ideally (still on the device's routed circuit).
    """

    def __init__(self, device: Any, *, seed: int | None = None, default_shots: int = 1024, noise: bool = True) -> None:
        self.device = device
        self.seed = seed
        self.default_shots = int(default_shots)
        self.noise = bool(noise)
        self._samplers: dict[tuple[int, ...], Any] = {}
        self._lock = threading.Lock()
        self.last_active: tuple[int, ...] = ()

    def _sampler_for(self, qubits: tuple[int, ...]) -> Any:
        from qiskit_aer.primitives import SamplerV2

        with self._lock:
            if qubits not in self._samplers:
                options: dict[str, Any] = {"backend_options": {"max_parallel_threads": 1}}
                if self.noise:
                    options["backend_options"]["noise_model"] = restricted_noise_model(self.device, qubits)
                self._samplers[qubits] = SamplerV2(default_shots=self.default_shots, seed=self.seed, options=options)
            return self._samplers[qubits]

    def run(self, pubs: Any, *, shots: int | None = None) -> Any:
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        coerced = [SamplerPub.coerce(p) for p in pubs]
        qubits = active_qubits(p.circuit for p in coerced)
        self.last_active = qubits
        return self._sampler_for(qubits).run(coerced, shots=shots)


class TranspilingSampler(_BaseSamplerV2):  # type: ignore[misc, valid-type]
    """A ``SamplerV2`` that transpiles each circuit once with ``pass_manager`` and runs it on ``inner``.

    Why not QAOA's own ``pass_manager`` option: qiskit-optimization's ``SamplingVQE`` then
    applies the circuit's layout to the observable, yet scores the counts of the ``meas``
    register, whose bit ``k`` is logical qubit ``k`` wherever routing put it; on a device (a
    non-trivial layout) it would optimise the wrong function. Transpiling inside the sampler
    keeps the observable logical, as the counts are. The last transpiled circuit is kept in
    :attr:`last` (depth and gate counts of what actually ran).
    """

    def __init__(self, inner: Any, pass_manager: Any) -> None:
        self.inner = inner
        self.pass_manager = pass_manager
        self.last: Any = None
        self._cache: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def _transpiled(self, circuit: Any) -> Any:
        with self._lock:
            hit = self._cache.get(id(circuit))
            if hit is None or hit[0] is not circuit:
                hit = (circuit, self.pass_manager.run(circuit))
                self._cache[id(circuit)] = hit
            self.last = hit[1]
            return hit[1]

    def run(self, pubs: Any, *, shots: int | None = None) -> Any:
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        coerced = [SamplerPub.coerce(p) for p in pubs]
        routed = [SamplerPub(self._transpiled(p.circuit), p.parameter_values, p.shots) for p in coerced]
        return self.inner.run(routed, shots=shots)

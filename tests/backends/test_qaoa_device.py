"""``qaoa`` on devices: routed to a coupling map and basis, with the device's noise, or on any SamplerV2."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qama_backends.qaoa import QAOASampler
from qama_backends.qiskit_device import DeviceNoiseSampler, active_qubits, restricted_noise_model
from qiskit.providers.fake_provider import GenericBackendV2

from qama_compile import get_backend, lower_attention
from qama_compile.errors import InvalidInputError, ProblemTooLargeError
from qama_compile.runtime.solve import solve
from qama_compile.targets import Target, get_target

FAST = {"reps": 1, "maxiter": 8, "shots": 512}


def _six() -> Any:
    return lower_attention(*np.random.default_rng(4).normal(size=(3, 1, 3, 4)), bits=2)  # 1 x 3 x 2 = 6 qubits


def _check_routed(info: dict[str, Any], graph: Any, basis: tuple[str, ...]) -> None:
    assert info["circuit_depth"] > 0 and info["circuit_two_qubit_gates"] > 0
    assert info["circuit_two_qubit_gates"] >= info["circuit_two_qubit_gates_all_to_all"] > 0
    assert tuple(info["basis_gates"]) == basis
    qubits = info["physical_qubits"]
    assert len(qubits) >= 6 and set(qubits) <= set(graph.nodes)
    assert graph.subgraph(qubits).number_of_edges() >= len(qubits) - 1  # a connected patch of the chip


def _ground_found(result: Any, problem: Any) -> bool:
    """The exact ground state is among the reads with at least 4x the probability of uniform
    sampling, and the mean energy of the reads is below the mean over all states."""
    exact = solve(problem, backend="exact").energies[0]
    e, c = result.read_energies[0], result.read_counts[0]
    n = problem.ir.num_variables
    states = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.int8)
    uniform_mean = float(problem.ir.energies(states[None])[0].mean())
    p_ground = c[np.isclose(e, exact, atol=1e-9)].sum() / c.sum()
    return bool(p_ground >= 4 / 2**n and (e * c).sum() / c.sum() < uniform_mean)


def test_ibm_heron_device_end_to_end() -> None:
    """Done-when: a 6-qubit QAMA problem through QAOA on the ibm-heron device (FakeFez with the
    ibm extra, else GenericBackendV2 on the heavy-hex map), routed counts in info."""
    heron = get_target("ibm-heron")
    problem = _six()
    result = solve(problem, backend="qaoa", backend_options={**FAST, "device": "ibm-heron"}, seed=0)
    info = result.info.backend_info[0]
    assert info["device"] == heron.device().name and info["noise_model"] is True
    assert info["sampler"] == "DeviceNoiseSampler"
    _check_routed(info, heron.graph(), heron.basis_gates)
    assert _ground_found(result, problem)  # energies are rechecked by solve; the ground state is among the reads
    again = solve(problem, backend="qaoa", backend_options={**FAST, "device": heron}, seed=0)
    assert np.array_equal(again.energies, result.energies)  # same seed, same result
    assert [len(e) for e in again.read_energies] == [len(e) for e in result.read_energies]


def test_fake_fez_when_the_ibm_extra_is_installed() -> None:
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    fez = fake_provider.FakeFez()
    target = Target.from_qiskit_backend(fez)
    problem = _six()
    result = solve(problem, backend="qaoa", backend_options={**FAST, "device": fez}, seed=1)
    info = result.info.backend_info[0]
    assert info["device"] == "fake_fez" and info["noise_model"] is True
    _check_routed(info, target.graph(), target.basis_gates)
    assert _ground_found(result, problem)


def test_any_sampler_v2_runs_the_circuits() -> None:
    from qiskit.primitives import BackendSamplerV2, StatevectorSampler

    line = GenericBackendV2(8, basis_gates=["cz", "rz", "sx", "x"], coupling_map=[[i, i + 1] for i in range(7)], seed=2)
    problem = _six()
    on_backend = solve(
        problem,
        backend="qaoa",
        # a user's sampler draws its own shots: seeded here, or the test fails on rare draws
        backend_options={**FAST, "sampler": BackendSamplerV2(backend=line, options={"seed_simulator": 1})},
        seed=0,
    )
    info = on_backend.info.backend_info[0]
    assert info["sampler"] == "BackendSamplerV2" and info["device"] == line.name  # routed to the sampler's backend
    assert info["noise_model"] is False
    _check_routed(info, Target.from_qiskit_backend(line).graph(), ("cz", "rz", "sx", "x"))
    assert _ground_found(on_backend, problem)
    # regression: with a non-trivial layout the objective must still be the logical one
    ideal_routed = solve(problem, backend="qaoa", backend_options={**FAST, "device": line, "noise": False}, seed=0)
    assert _ground_found(ideal_routed, problem)
    ideal = solve(problem, backend="qaoa", backend_options={**FAST, "sampler": StatevectorSampler(seed=5)}, seed=0)
    info = ideal.info.backend_info[0]
    assert info["device"] is None and info["physical_qubits"] is None
    assert info["circuit_two_qubit_gates"] == info["circuit_two_qubit_gates_all_to_all"]  # nothing to route
    assert _ground_found(ideal, problem)
    with pytest.raises(InvalidInputError, match="SamplerV2"):
        QAOASampler(sampler=object())


def test_restricted_noise_model_gives_the_full_models_counts() -> None:
    from qiskit.circuit.library import qaoa_ansatz
    from qiskit.quantum_info import SparsePauliOp
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.primitives import SamplerV2

    device = GenericBackendV2(
        12, basis_gates=["cz", "rz", "sx", "x"], coupling_map=[[i, i + 1] for i in range(11)], seed=7
    )
    ansatz = qaoa_ansatz(SparsePauliOp.from_list([("ZZII", 1.0), ("IZZI", -0.5), ("ZIIZ", 0.7)]), reps=1)
    ansatz.measure_all()
    isa = generate_preset_pass_manager(1, backend=device, seed_transpiler=0).run(ansatz)
    bound = isa.assign_parameters([0.4, 0.9])
    used = active_qubits([bound])
    assert 4 <= len(used) < 12
    sub = restricted_noise_model(device, used)
    assert set(sub.noise_qubits) <= set(used) and sub.noise_qubits
    full = SamplerV2(
        default_shots=2000, seed=11, options={"backend_options": {"noise_model": NoiseModel.from_backend(device)}}
    )
    mine = DeviceNoiseSampler(device, seed=11, default_shots=2000)
    counts_full = full.run([bound]).result()[0].data.meas.get_counts()
    counts_mine = mine.run([bound]).result()[0].data.meas.get_counts()
    assert counts_mine == counts_full and mine.last_active == used
    ideal = DeviceNoiseSampler(device, seed=11, default_shots=2000, noise=False).run([bound]).result()[0]
    assert ideal.data.meas.get_counts() != counts_full  # the noise model does change the counts


def test_device_limits_and_bad_devices() -> None:
    tiny = GenericBackendV2(4, coupling_map=[[0, 1], [1, 2], [2, 3]], seed=0)
    with pytest.raises(ProblemTooLargeError, match="device generic_backend_4q has 4") as err:
        solve(_six(), backend="qaoa", backend_options={**FAST, "device": tiny})
    assert err.value.fields["limit"] == 4
    assert QAOASampler(device=tiny).properties["max_variables"] == 4
    with pytest.raises(InvalidInputError, match="has no Qiskit device"):
        get_backend("qaoa", device="cim-550")  # the runtime resolves the name to a target without a device
    with pytest.raises(InvalidInputError, match="is a name"):
        QAOASampler(device="ibm-heron")  # backends do not resolve target names themselves
    with pytest.raises(InvalidInputError, match="device must be a Qiskit BackendV2"):
        QAOASampler(device=3.5)

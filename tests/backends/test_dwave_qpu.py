"""``dwave``: the QPU path end to end on dwave-system's MockDWaveSampler; a clear error without credentials."""

from __future__ import annotations

from pathlib import Path

import dimod
import numpy as np
import pytest
from dwave.samplers import SimulatedAnnealingSampler
from dwave.system.testing import MockDWaveSampler
from qama_backends.dwave_qpu import DWaveBackend, find_token

from qama_compile import get_backend, lower_attention
from qama_compile.errors import BackendError, ProblemTooLargeError
from qama_compile.runtime.solve import solve


def _mock() -> MockDWaveSampler:
    # a seeded simulated-annealing substitute: a reproducible offline stand-in for the QPU
    return MockDWaveSampler(
        substitute_sampler=SimulatedAnnealingSampler(), substitute_kwargs={"seed": 0, "num_sweeps": 500}
    )


def test_without_credentials_says_how_to_configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(tmp_path / "missing.conf"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_token() is None
    with pytest.raises(BackendError, match="dwave config create") as err:
        get_backend("dwave")
    assert "DWAVE_API_TOKEN" in str(err.value) and err.value.fields["backend"] == "dwave"


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWAVE_API_TOKEN", "DEV-not-a-real-token")
    assert find_token() == "DEV-not-a-real-token"


def test_properties_come_from_the_child() -> None:
    qpu = DWaveBackend(child=_mock())
    props = qpu.properties
    assert props["native_graph"] == {"type": "chimera", "shape": [4, 4, 4]}
    assert props["max_variables"] == props["num_qubits"] == 128
    assert "EmbeddingComposite" in props["description"]
    assert {"num_reads", "chain_strength", "seed"} <= set(qpu.parameters)


def test_solve_end_to_end_offline_matches_exact() -> None:
    problem = lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 2, 3, 4)), bits=2)  # 2 x 12 variables
    result = solve(problem, backend=DWaveBackend(child=_mock()), num_reads=20, seed=1)
    exact = solve(problem, backend="exact")
    assert result.energies == pytest.approx(exact.energies, abs=1e-9)  # every energy rechecked by solve
    for ss in result.samplesets:
        assert 0.0 <= ss.info["chain_break_fraction"] <= 1.0
        assert ss.info["embedding_qubits"] >= 12 and ss.info["hardware_time_s"] > 0
        assert "chain_break_fraction" in ss.record.dtype.names


def test_fixed_embedding_and_chain_strength() -> None:
    child = _mock()
    bqm = dimod.BinaryQuadraticModel(
        {"a": 0.5, "b": -0.5, "c": 0.2}, {("a", "b"): -1.0, ("b", "c"): 0.8, ("a", "c"): 0.3}, 0.0, "SPIN"
    )
    # a triangle on Chimera: chain b over two coupled qubits of one unit cell
    embedding = {"a": [0], "b": [4, 1], "c": [5]}
    qpu = DWaveBackend(child=child, embedding=embedding, chain_strength=2.0)
    assert qpu.properties["max_variables"] == 3 and "Fixed" in qpu.properties["description"]
    ss = qpu.sample(bqm, num_reads=10)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert ss.info["embedding_qubits"] == 4
    assert ss.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)


def test_too_many_variables_for_the_chip() -> None:
    bqm = dimod.BinaryQuadraticModel({i: 1.0 for i in range(129)}, {}, 0.0, "BINARY")
    with pytest.raises(ProblemTooLargeError, match="129 variables"):
        DWaveBackend(child=_mock()).sample(bqm)


def test_compiled_for_a_target_goes_to_the_chip_directly() -> None:
    problem = lower_attention(*np.random.default_rng(5).normal(size=(3, 2, 3, 4)), bits=2)  # 12 variables
    child = MockDWaveSampler(
        topology_type="chimera",
        topology_shape=[16, 16, 4],
        substitute_sampler=SimulatedAnnealingSampler(),
        substitute_kwargs={"seed": 0, "num_sweeps": 1000},
    )
    result = solve(problem, backend=DWaveBackend(child=child), num_reads=50, seed=0, target="chimera-c16")
    ss = result.samplesets[0]
    assert ss.info["native"] is True and result.info.physical_qubits == ss.info["embedding_qubits"] > 12
    assert 0.0 <= result.info.chain_break_fraction[0] <= 1.0  # from the compiler's decoder
    assert result.energies[0] == pytest.approx(solve(problem, backend="exact").energies[0], abs=1e-9)

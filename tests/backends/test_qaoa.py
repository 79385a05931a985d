"""``qaoa``: qiskit-optimization QAOA on the Aer SamplerV2; limits before building; the p=2 bar."""

from __future__ import annotations

from typing import Literal

import dimod
import numpy as np
import pytest
import qama_backends.qaoa as qaoa_mod
from qama_backends.exact import ExactSampler
from qama_backends.qaoa import QAOASampler

from qama_compile import get_backend, lower_attention
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

# (heads, tokens, bits): 8..10 variables
_SHAPES = [(2, 2, 2), (1, 5, 2), (2, 5, 1), (3, 3, 1), (1, 4, 2), (2, 4, 1)]


def _fast() -> QAOASampler:
    return QAOASampler(reps=1, maxiter=8, shots=128)


def test_registered_and_declares_limits() -> None:
    sampler = get_backend("qaoa", reps=1)
    assert isinstance(sampler, QAOASampler)
    assert sampler.properties["max_variables"] == 24 and sampler.properties["native_graph"] is None
    assert "QAOA p=1" in sampler.properties["description"]


def test_refuses_beyond_the_statevector_limit_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("built something for a problem that is too large")

    monkeypatch.setattr(QAOASampler, "_operator", staticmethod(boom))
    bqm = dimod.BinaryQuadraticModel({i: 1.0 for i in range(30)}, {}, 0.0, "BINARY")
    with pytest.raises(ProblemTooLargeError, match="30 qubits") as err:
        QAOASampler().sample(bqm)
    assert err.value.fields == {"size": 30, "limit": 24, "unit": "qubits"}
    assert "decompose" in str(err.value) and "bit width" in str(err.value)
    # memory: a 20-qubit statevector (16 MiB) refused when the machine has 1 MiB free
    monkeypatch.setattr(qaoa_mod, "available_memory", lambda: 1 << 20)
    small = dimod.BinaryQuadraticModel({i: 1.0 for i in range(20)}, {}, 0.0, "BINARY")
    with pytest.raises(ProblemTooLargeError, match="available memory"):
        QAOASampler().sample(small)


def test_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="reps"):
        QAOASampler(reps=0)
    with pytest.raises(InvalidInputError, match="optimizer"):
        QAOASampler(optimizer="adam")
    with pytest.raises(InvalidInputError, match="aggregation"):
        QAOASampler(aggregation=1.5)


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
def test_samples_energies_counts_and_info(vartype: Literal["BINARY", "SPIN"]) -> None:
    bqm = dimod.generators.gnp_random_bqm(5, 0.7, vartype, random_state=2)
    bqm.offset = 0.75
    ss = _fast().sample(bqm, seed=3)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert ss.vartype is bqm.vartype
    assert int(ss.record.num_occurrences.sum()) == 128  # every shot, distinct states counted
    assert len(np.unique(ss.record.sample, axis=0)) == len(ss)
    info = ss.info
    assert info["circuit_depth"] > 0 and info["circuit_two_qubit_gates"] > 0
    assert 1 <= info["optimizer_evaluations"] <= 8 and info["wall_time_s"] > 0


def test_same_seed_same_result() -> None:
    bqm = dimod.generators.gnp_random_bqm(5, 0.7, "SPIN", random_state=4)
    a, b = _fast().sample(bqm, seed=5), _fast().sample(bqm, seed=5)
    assert a.info["optimal_point"] == b.info["optimal_point"]
    assert sorted(zip(a.record.energy.tolist(), a.record.num_occurrences.tolist(), strict=True)) == sorted(
        zip(b.record.energy.tolist(), b.record.num_occurrences.tolist(), strict=True)
    )


def test_num_reads_is_shots_and_labels_survive() -> None:
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 3, 4)), bits=2)
    bqm = problem.to_bqm(0)  # labels (head, token, bit)
    ss = _fast().sample(bqm, num_reads=64, seed=1)
    assert int(ss.record.num_occurrences.sum()) == 64 and set(ss.variables) == set(bqm.variables)
    dimod.testing.assert_sampleset_energies(ss, bqm)


@pytest.mark.slow
def test_p2_quality_bar_ground_state_among_samples_in_15_of_20() -> None:
    hits, lift = 0, []
    for i in range(20):
        rng = np.random.default_rng(1000 + i)
        h, n, bits = _SHAPES[i % len(_SHAPES)]
        problem = lower_attention(*rng.normal(size=(3, h, n, 4)), bits=bits)
        bqm = problem.to_bqm(0)
        assert 8 <= bqm.num_variables <= 10
        ground = ExactSampler().sample(bqm).first.energy
        ss = QAOASampler(reps=2, maxiter=15, shots=512).sample(bqm, seed=i)
        at_ground = np.isclose(ss.record.energy, ground, rtol=0, atol=1e-9)
        hits += bool(at_ground.any())
        p = ss.record.num_occurrences[at_ground].sum() / ss.record.num_occurrences.sum()
        lift.append(p * 2**bqm.num_variables)  # vs uniform random sampling
    assert hits >= 15, f"QAOA p=2 sampled the ground state in {hits}/20"
    assert np.median(lift) >= 4, f"median ground-state probability is only {np.median(lift):.1f}x uniform"


def test_progress_counts_optimizer_evaluations() -> None:
    bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0, 2: 0.5}, {(0, 1): -2.0, (1, 2): 1.0}, 0.0, "SPIN")
    seen: list[tuple[int, int]] = []
    QAOASampler(reps=1, maxiter=6, shots=64).sample(bqm, seed=0, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][1] == 6 and 1 <= seen[-1][0] <= 6
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert QAOASampler(shots=300).default_num_reads == 300

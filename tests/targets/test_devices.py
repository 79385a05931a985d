"""Targets read from devices: Target.from_sampler, Target.from_qiskit_backend, Target.with_defects."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
from dwave.cloud.testing.mocks import qpu_problem_timing_data
from dwave.system.testing import MockDWaveSampler
from qiskit.providers.fake_provider import GenericBackendV2

from qama_compile import compile, lower_attention
from qama_compile.core.graphs import lattice_id
from qama_compile.errors import InvalidInputError
from qama_compile.targets import Target, get_target


# --------------------------------------------------------------------------- D-Wave samplers
def test_from_sampler_reads_the_working_graph_and_every_reported_property() -> None:
    props = {"problem_timing_data": qpu_problem_timing_data("advantage"), "chip_id": "Mock_P6"}
    mock = MockDWaveSampler(
        topology_type="pegasus",
        topology_shape=[6],
        broken_nodes=[40, 41, 300],
        properties=props,
    )
    t = Target.from_sampler(mock)
    g = t.graph()
    assert g is not None and nx.is_frozen(g)
    assert t.name == "Mock_P6" and t.kind == "annealer" and t.topology == "pegasus"
    assert t.num_qubits == len(mock.nodelist) == g.number_of_nodes() and {40, 41, 300}.isdisjoint(g.nodes)
    assert g.number_of_edges() == len(mock.edgelist)
    assert (t.h_range, t.j_range, t.extended_j_range) == ((-4.0, 4.0), (-1.0, 1.0), (-2.0, 1.0))
    assert t.per_qubit_coupling_range == (-18.0, 15.0)
    timing = props["problem_timing_data"]
    assert t.timing["programming_us"] == timing["typical_programming_time"]
    assert t.timing["delay_per_sample_us"] == timing["qpu_delay_time_per_sample"]
    assert t.timing["anneal_us"] == 20.0 and (t.timing["anneal_us_min"], t.timing["anneal_us_max"]) == (0.5, 2000.0)
    y = np.asarray(timing["readout_time_model_parameters"][6:])  # pwl_log_log: log10 of the readout times
    assert t.timing["readout_us_min"] == pytest.approx(10 ** y.min()) and t.timing["readout_us_max"] == pytest.approx(
        10 ** y.max()
    )
    low, high = t.estimate_time_us(100)  # type: ignore[misc]
    assert low < high and low > timing["typical_programming_time"]
    assert t.graph_id.startswith("sha256:") and t.device() is mock
    assert t.summary()["per_qubit_coupling_range"] == [-18.0, 15.0] and t.summary()["has_device"] is True


def test_from_sampler_broken_couplers_and_graph_identity() -> None:
    full = MockDWaveSampler(topology_type="chimera", topology_shape=[4, 4, 4])
    cut = MockDWaveSampler(topology_type="chimera", topology_shape=[4, 4, 4], broken_edges=[(0, 4)])
    a, b = Target.from_sampler(full), Target.from_sampler(cut)
    assert a.graph_id == lattice_id("chimera", [4, 4, 4]) == "chimera(4,4)"  # the whole lattice: the generator's id
    assert b.graph_id.startswith("sha256:") and a != b and a.num_qubits == b.num_qubits == 128
    assert b.graph().number_of_edges() == a.graph().number_of_edges() - 1  # type: ignore[union-attr]
    assert not b.graph().has_edge(0, 4)  # type: ignore[union-attr]
    assert Target.from_sampler(cut) == b and hash(Target.from_sampler(cut)) == hash(b)
    # the shipped ideal Pegasus target and a whole-lattice sampler share the graph id (and caches)
    p16 = Target.from_sampler(MockDWaveSampler(topology_type="pegasus", topology_shape=[16]))
    assert p16.graph_id == get_target("dwave-advantage").graph_id == "pegasus(16)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.num_qubits = 3  # type: ignore[misc]


def test_from_sampler_clique_embeddings_avoid_broken_qubits() -> None:
    broken = list(range(0, 400, 7))
    t = Target.from_sampler(MockDWaveSampler(topology_type="pegasus", topology_shape=[8], broken_nodes=broken))
    ideal = Target.from_sampler(MockDWaveSampler(topology_type="pegasus", topology_shape=[8]))
    cap = t.largest_clique()
    assert cap is not None and 0 < cap <= ideal.largest_clique()  # type: ignore[operator]
    emb = t.clique_embedding(20)
    assert not {q for c in emb for q in c} & set(broken)
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 5, 4)), bits=2)  # 20 variables
    cp = compile(problem, target=t, seed=0)
    assert set(cp.physical.labels[:, 0].tolist()) <= set(t.graph().nodes)  # type: ignore[union-attr]


def test_from_sampler_needs_a_structured_sampler() -> None:
    from dwave.samplers import SimulatedAnnealingSampler

    with pytest.raises(InvalidInputError, match="not a structured sampler"):
        Target.from_sampler(SimulatedAnnealingSampler())
    import dimod

    structured = dimod.StructureComposite(dimod.ExactSolver(), [0, 1, 2], [(0, 1), (1, 2)])
    t = Target.from_sampler(structured, name="path-3")
    assert (t.name, t.topology, t.num_qubits, t.h_range) == ("path-3", "custom", 3, (-math.inf, math.inf))


# --------------------------------------------------------------------------- defects
def test_with_defects_is_seeded_and_changes_the_identity() -> None:
    adv = get_target("dwave-advantage")
    worn = adv.with_defects(0.02, seed=1)
    again = adv.with_defects(0.02, seed=1)
    other = adv.with_defects(0.02, seed=2)
    g, g0 = worn.graph(), adv.graph()
    assert g is not None and g0 is not None and nx.is_frozen(g)
    assert worn.num_qubits == g.number_of_nodes() == 5640 - round(0.02 * 5640)
    assert set(g.nodes) < set(g0.nodes) and all(g0.has_edge(u, v) for u, v in g.edges)
    assert g.number_of_edges() == g0.subgraph(g.nodes).number_of_edges()  # only the dead qubits' couplers go
    assert worn == again and worn.graph_id == again.graph_id
    assert worn != other and worn.graph_id != other.graph_id != adv.graph_id
    assert worn.name.startswith("dwave-advantage~defects(0.02") and "removed at random (seed 1)" in worn.description
    assert worn.device() is None and adv.with_defects(0.0).graph_id != adv.graph_id  # sha256, not the lattice id
    cap = worn.largest_clique()
    assert cap is not None and cap <= adv.largest_clique()  # type: ignore[operator]
    couplers = adv.with_defects(0.0, seed=3, coupler_fraction=0.01).graph()
    assert couplers is not None and couplers.number_of_edges() == g0.number_of_edges() - round(0.01 * 40484)


@pytest.mark.parametrize(
    "bad", [{"fraction": 1.0}, {"fraction": -0.1}, {"fraction": "x"}, {"seed": -1}, {"coupler_fraction": 2}]
)
def test_with_defects_validation(bad: dict) -> None:  # type: ignore[type-arg]
    args = {"fraction": 0.1, "seed": 0, **bad}
    with pytest.raises(InvalidInputError):
        get_target("chimera-c16").with_defects(args.pop("fraction"), **args)


def test_with_defects_needs_a_graph() -> None:
    with pytest.raises(InvalidInputError, match="no qubit graph"):
        get_target("cim-550").with_defects(0.1)


# --------------------------------------------------------------------------- Qiskit backends
def test_from_qiskit_backend_generic() -> None:
    cmap = [[0, 1], [1, 0], [1, 2], [2, 3], [3, 4], [4, 0]]
    backend = GenericBackendV2(5, basis_gates=["cz", "rz", "sx", "x"], coupling_map=cmap, seed=3)
    t = Target.from_qiskit_backend(backend)
    assert t.kind == "gate" and t.num_qubits == 5 and t.basis_gates == ("cz", "rz", "sx", "x")
    assert sorted(map(sorted, t.graph().edges)) == [[0, 1], [0, 4], [1, 2], [2, 3], [3, 4]]  # type: ignore[union-attr]
    errors = [backend.target["cz"][q].error for q in backend.target["cz"]]
    assert t.calibration["cz_error_median"] == pytest.approx(float(np.median(errors)))
    assert t.calibration["cz_error_max"] == pytest.approx(max(errors))
    assert "measure_error_median" in t.calibration and t.calibration["t1_us_median"] > 0
    assert t.timing["cz_us_median"] > 0 and t.device() is backend
    assert t.graph_id.startswith("sha256:") and t == Target.from_qiskit_backend(backend)
    assert t.fit(lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 4)), bits=2).ir).fits is True


def test_from_qiskit_backend_without_coupling_map_is_a_simulator() -> None:
    from qiskit_aer import AerSimulator

    t = Target.from_qiskit_backend(AerSimulator(), name="aer")
    assert t.kind == "simulator" and t.graph() is None and t.graph_id == "" and t.num_qubits > 20
    with pytest.raises(InvalidInputError, match="not a Qiskit BackendV2"):
        Target.from_qiskit_backend(object())


def test_ibm_heron_uses_the_fake_backend_when_installed() -> None:
    heron = get_target("ibm-heron")
    assert heron.num_qubits == 156 and heron.basis_gates == ("cz", "id", "rz", "sx", "x")
    device = heron.device()
    assert device is not None and device.num_qubits == 156
    try:
        import qiskit_ibm_runtime  # noqa: F401
    except ImportError:
        assert heron.graph_id == "heavy-hex(8,16)" and type(device).__name__ == "GenericBackendV2"
    else:
        assert type(device).__name__ == "FakeFez" and heron.graph_id.startswith("sha256:")
        assert 0 < heron.calibration["cz_error_median"] < 0.05 and heron.calibration["t1_us_median"] > 10
        assert heron.graph().number_of_edges() == 176  # type: ignore[union-attr]

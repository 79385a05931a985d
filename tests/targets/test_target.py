"""Targets: registry, shipped facts, graphs, user targets, validation."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.errors import InvalidInputError, ProblemTooLargeError, UnknownNameError
from qama_compile.targets import (
    REGISTRY,
    Target,
    TargetRegistry,
    available_targets,
    get_target,
    heavy_hex_edges,
    heron_coupling_map,
    register_target,
    statevector_qubit_limit,
)

SHIPPED = ["aer-statevector", "chimera-c16", "cim-100k", "cim-550", "dwave-advantage", "dwave-advantage2", "ibm-heron"]


def test_registry_lists_shipped_targets_and_unknown_names_list_them() -> None:
    assert set(SHIPPED) <= set(available_targets())
    with pytest.raises(UnknownNameError, match=r"known targets: .*dwave-advantage") as exc:
        get_target("no-such-machine")
    assert set(SHIPPED) <= set(exc.value.fields["known"])
    assert get_target("advantage").name == "dwave-advantage" and get_target("heron").name == "ibm-heron"
    t = get_target("cim-550")
    assert get_target(t) is t


@pytest.mark.parametrize(
    ("name", "nodes", "edges"),
    [
        ("dwave-advantage", 5640, 40484),
        ("dwave-advantage2", 4800, 45864),
        ("chimera-c16", 2048, 6016),
        ("ibm-heron", 156, 176),
    ],
)
def test_graphs_match_the_published_sizes(name: str, nodes: int, edges: int) -> None:
    t = get_target(name)
    g = t.graph()
    assert g is not None and g.number_of_nodes() == nodes == t.num_qubits and g.number_of_edges() == edges
    assert t.graph() is g  # cached
    assert t.sources and all(isinstance(s, str) and s for s in t.sources)


def test_shipped_ranges_and_bits() -> None:
    adv = get_target("dwave-advantage")
    assert (adv.h_range, adv.j_range, adv.extended_j_range) == ((-4.0, 4.0), (-1.0, 1.0), (-2.0, 1.0))
    assert adv.coupling_bits is None and adv.timing["programming_us"] > 0
    cim = get_target("cim-550")
    assert cim.kind == "cim" and cim.is_complete and cim.num_qubits == 550 and cim.coupling_bits == 8
    assert cim.quantization_levels() == 255 and cim.graph() is None and cim.coupler_count() == 550 * 549 // 2
    assert get_target("cim-100k").num_qubits == 100_512
    assert get_target("dwave-advantage2").topology == "zephyr"


def test_heavy_hex_is_heavy_hex() -> None:
    g = nx.Graph(heavy_hex_edges(8, 16))
    assert max(d for _, d in g.degree()) == 3 and nx.is_connected(g)
    assert sum(1 for _, d in g.degree() if d == 3) > 0
    cmap = heron_coupling_map()
    assert len(cmap.physical_qubits) == 156 and cmap.is_connected()


def test_statevector_limit_follows_from_memory() -> None:
    assert statevector_qubit_limit(16 * 2**30) == 30
    assert statevector_qubit_limit(16 * 2**30 - 1) == 29
    assert statevector_qubit_limit(8) == 0
    aer = get_target("aer-statevector")
    assert 16 * 2**aer.num_qubits <= aer.timing["available_memory_bytes"] < 16 * 2 ** (aer.num_qubits + 1)
    assert aer.summary()["h_range"] == [None, None]


def test_user_target_from_graph_and_register() -> None:
    g = nx.relabel_nodes(nx.cycle_graph(5), {i: f"q{i}" for i in range(5)})
    t = Target.from_graph("ring-5", g, h_range=(-2, 2), j_range=(-1, 1), coupling_bits=6)
    assert t.num_qubits == 5 and sorted(t.graph().nodes) == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert t.h_range == (-2.0, 2.0) and t.kind == "annealer" and t.quantization_levels() == 63
    with REGISTRY.scoped():
        register_target(t)
        assert get_target("ring-5") is t and "ring-5" in available_targets()
        with pytest.raises(InvalidInputError, match="already exists"):
            register_target(t)
    assert "ring-5" not in available_targets()  # the scope undid the registration
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.num_qubits = 6  # type: ignore[misc]
    with pytest.raises(nx.NetworkXError, match="Frozen"):
        t.graph().add_edge(0, 2)  # type: ignore[union-attr]  # a shared graph cannot be changed


def test_target_identity_includes_the_graph() -> None:
    """Two user targets of one name but different graphs are different targets with different caches."""
    ring = Target.from_graph("mine", nx.cycle_graph(8), h_range=(-1, 1), j_range=(-1, 1))
    path = Target.from_graph("mine", nx.path_graph(8), h_range=(-1, 1), j_range=(-1, 1))
    same = Target.from_graph("mine", nx.cycle_graph(8), h_range=(-1, 1), j_range=(-1, 1))
    assert ring != path and ring == same and hash(ring) == hash(same) and len({ring, path, same}) == 2
    assert ring.graph_id.startswith("sha256:") and ring.graph_id != path.graph_id
    assert ring.graph().number_of_edges() == 8 and path.graph().number_of_edges() == 7  # type: ignore[union-attr]
    assert ring.edge_array().shape == (8, 2) and path.edge_array().shape == (7, 2)
    assert len(ring.clique_embedding(3)) == 3  # a triangle embeds in a ring with one chain of 2
    with pytest.raises(ProblemTooLargeError):
        path.clique_embedding(3)  # ... and not in a path: the caches are not shared by name
    assert get_target("dwave-advantage").graph_id == "pegasus(16)"
    assert get_target("dwave-advantage") == get_target("pegasus")


def test_registry_objects_are_independent() -> None:
    mine = TargetRegistry.with_builtins()
    ring = Target.from_graph("ring-4", nx.cycle_graph(4), h_range=(-1, 1), j_range=(-1, 1))
    mine.register(ring)
    assert "ring-4" in mine.names() and "ring-4" not in available_targets()
    mine.unregister("ring-4")
    with pytest.raises(UnknownNameError):
        mine.unregister("ring-4")
    with pytest.raises(InvalidInputError, match="Target"):
        mine.register("ring-4")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "quantum-toaster"},
        {"h_range": (1.0, 2.0)},
        {"j_range": (0.0, 0.0)},
        {"coupling_bits": 1},
        {"num_qubits": -1},
    ],
)
def test_validation(bad: dict) -> None:  # type: ignore[type-arg]
    base = {"name": "x", "kind": "cim", "topology": "complete", "num_qubits": 4, "h_range": (-1, 1), "j_range": (-1, 1)}
    with pytest.raises(InvalidInputError):
        Target(**{**base, **bad})


def test_largest_clique_per_kind() -> None:
    assert get_target("chimera-c16").largest_clique() == 64
    assert get_target("cim-550").largest_clique() == 550
    assert math.isinf(get_target("ibm-heron").h_range[1])


def test_time_estimate_from_the_timing_model() -> None:
    low, high = get_target("dwave-advantage2").estimate_time_us(10, anneal_us=5.0)  # type: ignore[misc]
    assert low == pytest.approx(33600 + 10 * (5 + 60.6 + 17)) and high == pytest.approx(33600 + 10 * (5 + 60.6 + 101))
    assert get_target("cim-550").estimate_time_us() is None


def test_fit_reasons_per_kind() -> None:
    ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 8, 4)), bits=4).ir  # 64 variables
    fit = get_target("dwave-advantage").fit(ir)
    assert fit.fits is True and "K_180" in fit.reason and fit.clique_capacity == 180
    fit = get_target("chimera-c16").fit(ir)
    assert fit.fits is True and "64 variables <= largest clique K_64" in fit.reason
    bigger = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 9, 4)), bits=4).ir  # 72 variables
    fit = get_target("chimera-c16").fit(bigger)
    assert fit.fits is None and "72 variables > largest clique K_64" in fit.reason
    fit = get_target("cim-550").fit(ir, field_ancillas=1)
    assert fit.size_fits is True and fit.qubits_needed == 65  # the ancilla carries the fields
    assert fit.precision is not None and fit.precision.field_ancillas == 1
    auto = get_target("cim-550").fit(ir)  # 'auto': more ancillas share the fields
    assert auto.qubits_needed == 64 + get_target("cim-550").field_ancillas(ir) > 65
    if auto.precision is not None and auto.precision.fits is False:  # q=4 is too fine for 8 bits here
        assert auto.fits is False and auto.size_fits is True and "bits of coupler precision" in auto.reason
    small = Target(name="sv", kind="simulator", topology="none", num_qubits=20, h_range=(-1, 1), j_range=(-1, 1))
    fit = small.fit(ir)
    assert fit.fits is False and "64 qubits needed > 20" in fit.reason


def test_ancilla_and_capacity_rules() -> None:
    cim = get_target("cim-550")
    assert cim.ancilla_spins() == 1 and cim.ancilla_spins(has_fields=False) == 0
    assert cim.variable_capacity() == 549 and cim.variable_capacity(has_fields=False) == 550
    assert get_target("chimera-c16").variable_capacity() == 64 and get_target("chimera-c16").ancilla_spins() == 0
    from qama_compile.ir import QuadraticIR

    fieldless = QuadraticIR.from_coo(linear=[0.0, 0.0], rows=[0], cols=[1], data=[1.0], vartype="SPIN")
    with_field = QuadraticIR.from_coo(linear=[0.5, 0.0], rows=[0], cols=[1], data=[1.0], vartype="SPIN")
    assert not cim.needs_ancilla(fieldless) and cim.needs_ancilla(with_field)
    assert not get_target("dwave-advantage").needs_ancilla(with_field)  # native fields

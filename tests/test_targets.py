"""Targets: registry, shipped facts, graphs, user targets, validation."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import pytest

from qama_compile.errors import InvalidInputError, UnknownNameError
from qama_compile.targets.target import (
    Target,
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
    register_target(t)
    assert get_target("ring-5") is t and "ring-5" in available_targets()
    with pytest.raises(InvalidInputError, match="already exists"):
        register_target(t)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.num_qubits = 6  # type: ignore[misc]


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

"""Hardware targets: frozen descriptions of annealers, coherent Ising machines and gate devices.

* :mod:`~qama_compile.targets.target` - the :class:`Target` type and its capacity rules;
* :mod:`~qama_compile.targets.devices` - targets read from a D-Wave sampler or a Qiskit backend;
* :mod:`~qama_compile.targets.precision` - the coupler-precision rule;
* hardware graphs and clique caches are :mod:`qama_compile.core.graphs` and
  :mod:`qama_compile.core.cliques` (re-exported here).
* :mod:`~qama_compile.targets.builtin` - the shipped targets with their sources;
* :mod:`~qama_compile.targets.registry` - names -> targets.

>>> from qama_compile.targets import get_target
>>> t = get_target("dwave-advantage")
>>> t.kind, t.topology, t.num_qubits, t.h_range, t.extended_j_range, t.graph_id
('annealer', 'pegasus', 5640, (-4.0, 4.0), (-2.0, 1.0), 'pegasus(16)')
>>> get_target("cim-550").coupling_bits
8
"""

from __future__ import annotations

from ..core.graphs import (
    chimera_graph,
    graph_fingerprint,
    heavy_hex_edges,
    heavy_hex_graph,
    heron_coupling_map,
    pegasus_graph,
    zephyr_graph,
)
from .builtin import ALIASES, STATEVECTOR_BYTES_PER_AMPLITUDE, statevector_qubit_limit
from .registry import REGISTRY, TargetRegistry, available_targets, get_target, register_target
from .target import KINDS, Target, TargetKind

__all__ = [
    "ALIASES",
    "KINDS",
    "REGISTRY",
    "STATEVECTOR_BYTES_PER_AMPLITUDE",
    "Target",
    "TargetKind",
    "TargetRegistry",
    "available_targets",
    "chimera_graph",
    "get_target",
    "graph_fingerprint",
    "heavy_hex_edges",
    "heavy_hex_graph",
    "heron_coupling_map",
    "pegasus_graph",
    "register_target",
    "statevector_qubit_limit",
    "zephyr_graph",
]

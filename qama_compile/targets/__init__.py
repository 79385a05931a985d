"""Hardware targets: frozen descriptions of annealers, coherent Ising machines and gate devices.

>>> from qama_compile.targets import get_target
>>> get_target("dwave-advantage").topology
'pegasus'
"""

from __future__ import annotations

from .target import (
    ALIASES,
    STATEVECTOR_BYTES_PER_AMPLITUDE,
    Target,
    available_targets,
    chimera_graph,
    get_target,
    heavy_hex_edges,
    heron_coupling_map,
    pegasus_graph,
    register_target,
    statevector_qubit_limit,
    zephyr_graph,
)

__all__ = [
    "ALIASES",
    "STATEVECTOR_BYTES_PER_AMPLITUDE",
    "Target",
    "available_targets",
    "chimera_graph",
    "get_target",
    "heavy_hex_edges",
    "heron_coupling_map",
    "pegasus_graph",
    "register_target",
    "statevector_qubit_limit",
    "zephyr_graph",
]

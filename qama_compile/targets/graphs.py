"""Hardware graphs: D-Wave Pegasus/Zephyr/Chimera (from dwave-networkx), IBM heavy-hex, and
their identities.

Every graph a target uses has a *graph id*: for a generated family the generator and its
parameters (``"pegasus(16)"``), for any other graph ``"sha256:<digest>"`` of its sorted node
and edge lists (:func:`graph_fingerprint`). Two targets with the same id have the same
graph; caches and target equality use the id, never the target's name.

>>> g = frozen_graph(heavy_hex_graph())
>>> nx.is_frozen(g), g.number_of_nodes(), graph_fingerprint(g)[:7]
(True, 156, 'sha256:')
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import networkx as nx
import numpy as np

__all__ = [
    "chimera_graph",
    "frozen_graph",
    "graph_fingerprint",
    "heavy_hex_edges",
    "heavy_hex_graph",
    "heron_coupling_map",
    "pegasus_graph",
    "zephyr_graph",
]


def _dwave_graphs() -> Any:
    """``dwave.graphs`` (new name) or ``dwave_networkx`` (deprecated), whichever is installed."""
    try:
        import dwave.graphs as dg  # type: ignore[import-not-found]

        if hasattr(dg, "pegasus_graph"):
            return dg
    except ImportError:  # pragma: no cover - older Ocean
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import dwave_networkx as dnx
    return dnx


def pegasus_graph(m: int = 16) -> nx.Graph:
    """The ideal Pegasus ``P_m`` graph (Advantage: ``m = 16``)."""
    return _dwave_graphs().pegasus_graph(m)


def zephyr_graph(m: int = 12, t: int = 4) -> nx.Graph:
    """The ideal Zephyr ``Z_{m,t}`` graph (Advantage2: ``Z12``, ``t = 4``)."""
    return _dwave_graphs().zephyr_graph(m, t)


def chimera_graph(m: int = 16, t: int = 4) -> nx.Graph:
    """The ideal Chimera ``C_m`` graph with ``K_{t,t}`` cells (2000Q: ``C16``)."""
    return _dwave_graphs().chimera_graph(m, m, t)


def heavy_hex_edges(rows: int = 8, row_length: int = 16) -> list[tuple[int, int]]:
    """Edges of an IBM-style heavy-hex lattice: ``rows`` lines of ``row_length`` qubits joined by
    bridge qubits every fourth column (alternating offsets), so every qubit has degree <= 3.

    ``rows=8, row_length=16`` gives the 156-qubit Heron r2 size (8*16 + 7*4 bridges).

    >>> e = heavy_hex_edges(8, 16)
    >>> len({q for edge in e for q in edge}), len(e)
    (156, 176)
    """
    edges: list[tuple[int, int]] = []
    row_start = [r * (row_length + 4) for r in range(rows)]  # each row is followed by its 4 bridges
    for r in range(rows):
        base = row_start[r]
        edges += [(base + c, base + c + 1) for c in range(row_length - 1)]
        if r == rows - 1:
            break
        columns = range(3, row_length, 4) if r % 2 == 0 else range(1, row_length, 4)
        for k, c in enumerate(list(columns)[:4]):
            bridge = base + row_length + k
            edges += [(base + c, bridge), (bridge, row_start[r + 1] + c)]
    # relabel to consecutive integers (the last row has no bridges)
    nodes = sorted({q for e in edges for q in e})
    index = {q: i for i, q in enumerate(nodes)}
    return [(index[a], index[b]) for a, b in edges]


def heron_coupling_map() -> Any:
    """A 156-qubit heavy-hex ``qiskit.transpiler.CouplingMap`` (Heron r2 size), bidirectional."""
    from qiskit.transpiler import CouplingMap

    edges = heavy_hex_edges(8, 16)
    return CouplingMap([list(e) for e in edges] + [[b, a] for a, b in edges])


def heavy_hex_graph(rows: int = 8, row_length: int = 16) -> nx.Graph:
    """The heavy-hex lattice of :func:`heavy_hex_edges` as a graph (family ``heavy-hex``)."""
    g = nx.Graph()
    g.add_edges_from(heavy_hex_edges(rows, row_length))
    g.graph["family"] = "heavy-hex"
    return g


def frozen_graph(graph: nx.Graph) -> nx.Graph:
    """A frozen copy of ``graph`` with integer node labels (non-integer labels are renumbered in sorted order)."""
    if not isinstance(graph, nx.Graph):
        raise TypeError(f"graph must be a networkx.Graph, got {type(graph).__name__}")
    g = nx.Graph(graph)
    if any(not isinstance(n, (int, np.integer)) or isinstance(n, bool) for n in g.nodes):
        g = nx.convert_node_labels_to_integers(g, ordering="sorted")
    return nx.freeze(g)


def graph_fingerprint(graph: nx.Graph) -> str:
    """``"sha256:<hex>"`` of the sorted node list and the sorted (low, high) edge list.

    >>> a, b = nx.cycle_graph(6), nx.path_graph(6)
    >>> graph_fingerprint(a) == graph_fingerprint(nx.cycle_graph(6)), graph_fingerprint(a) == graph_fingerprint(b)
    (True, False)
    """
    nodes = np.sort(np.fromiter((int(n) for n in graph.nodes), dtype=np.int64, count=graph.number_of_nodes()))
    edges = np.asarray([(min(u, v), max(u, v)) for u, v in graph.edges()], dtype=np.int64).reshape(-1, 2)
    if edges.size:
        edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    digest = hashlib.sha256()
    digest.update(np.int64(nodes.size).tobytes() + nodes.tobytes())
    digest.update(edges.tobytes())
    return "sha256:" + digest.hexdigest()

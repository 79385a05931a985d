"""Hardware graphs: D-Wave Pegasus/Zephyr/Chimera (from dwave-networkx), IBM heavy-hex, the
working graph of a D-Wave sampler, and their identities.

They live in the core because two layers need them: targets describe machines with them,
and the device backends (``dwave``) embed into the sampler in hand without a target.

Every graph a target uses has a *graph id*: for a generated family the generator and its
parameters (``"pegasus(16)"``), for any other graph ``"sha256:<digest>"`` of its sorted node
and edge lists (:func:`graph_fingerprint`). Two targets with the same id have the same
graph; caches and target equality use the id, never the target's name.

>>> g = frozen_graph(heavy_hex_graph())
>>> nx.is_frozen(g), g.number_of_nodes(), graph_fingerprint(g)[:7]
(True, 156, 'sha256:')
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "LATTICES",
    "chimera_graph",
    "frozen_graph",
    "graph_fingerprint",
    "heavy_hex_edges",
    "heavy_hex_graph",
    "heron_coupling_map",
    "lattice_graph",
    "lattice_graph_id",
    "lattice_id",
    "pegasus_graph",
    "sampler_graph",
    "sampler_structure",
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


#: D-Wave lattice families ``minorminer.busclique`` embeds cliques in.
LATTICES = ("chimera", "pegasus", "zephyr")


# --------------------------------------------------------------------------- D-Wave lattices
def lattice_id(kind: str, shape: Sequence[int]) -> str:
    """The graph id of an ideal D-Wave lattice (as the shipped targets spell it).

    >>> lattice_id("pegasus", [16]), lattice_id("zephyr", [12, 4]), lattice_id("chimera", [16, 16, 4])
    ('pegasus(16)', 'zephyr(12,4)', 'chimera(16,4)')
    """
    dims = [int(s) for s in shape]
    if kind == "chimera" and len(dims) == 3 and dims[0] == dims[1]:
        dims = [dims[0], dims[2]]
    return f"{kind}({','.join(str(d) for d in dims)})"


def lattice_graph(
    kind: str,
    shape: Sequence[int],
    *,
    nodes: Sequence[int] | None = None,
    edges: Sequence[tuple[int, int]] | None = None,
) -> nx.Graph:
    """A Chimera / Pegasus / Zephyr graph with the generator's metadata (ideal, or the given nodes and edges)."""
    dg = _dwave_graphs()
    make = {"chimera": dg.chimera_graph, "pegasus": dg.pegasus_graph, "zephyr": dg.zephyr_graph}.get(kind)
    dims = [int(s) for s in shape]
    if make is None or not 1 <= len(dims) <= 3:
        raise InvalidInputError(f"unknown D-Wave lattice {kind}{dims}", fix="use chimera, pegasus or zephyr")
    return make(*dims, node_list=nodes, edge_list=edges, check_node_list=True, check_edge_list=True)


@functools.lru_cache(maxsize=8)
def _lattice_fingerprint(kind: str, shape: tuple[int, ...]) -> str:
    return graph_fingerprint(lattice_graph(kind, shape))


def lattice_graph_id(g: nx.Graph, kind: str | None, shape: Sequence[int] | None) -> str:
    """The lattice id when ``g`` is the whole ideal lattice, else the fingerprint."""
    fp = graph_fingerprint(g)
    if kind in LATTICES and shape is not None and fp == _lattice_fingerprint(kind, tuple(int(s) for s in shape)):
        return lattice_id(kind, shape)
    return fp


def sampler_structure(sampler: Any) -> tuple[list[int], list[tuple[int, int]]]:
    """The working qubits and couplers of a D-Wave structured sampler (``nodelist``/``edgelist``)."""
    nodes = getattr(sampler, "nodelist", None)
    edges = getattr(sampler, "edgelist", None)
    if nodes is None or edges is None:
        structure = getattr(sampler, "structure", None)
        if structure is None:
            raise InvalidInputError(
                f"{type(sampler).__name__} is not a structured sampler (no nodelist/edgelist or structure)",
                fix="pass a dwave.system.DWaveSampler (or MockDWaveSampler), not a composite that embeds",
            )
        nodes, edges = structure.nodelist, structure.edgelist
    try:
        return [int(q) for q in nodes], [(int(u), int(v)) for u, v in edges]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{type(sampler).__name__}'s qubits are not integers", fix="pass a D-Wave solver with integer qubit labels"
        ) from None


def sampler_graph(sampler: Any) -> tuple[nx.Graph, str]:
    """The frozen working graph of a D-Wave structured sampler and its graph id.

    The graph keeps the lattice metadata of the ``topology`` property (so
    ``minorminer.busclique`` can embed cliques in it); its id is the lattice's
    (``"pegasus(16)"``) when no qubit or coupler is missing, else its fingerprint.

    >>> from dwave.system.testing import MockDWaveSampler
    >>> g, gid = sampler_graph(MockDWaveSampler(topology_type="chimera", topology_shape=[2, 2, 4], broken_nodes=[0]))
    >>> g.number_of_nodes(), g.graph["family"], gid[:7]
    (31, 'chimera', 'sha256:')
    """
    props = dict(getattr(sampler, "properties", None) or {})
    nodes, edges = sampler_structure(sampler)
    topo = props.get("topology") or {}
    kind, shape = topo.get("type"), topo.get("shape")
    if kind in LATTICES and shape is not None:
        try:
            g = lattice_graph(kind, shape, nodes=nodes, edges=edges)
        except (ValueError, nx.NetworkXError) as exc:
            raise InvalidInputError(
                f"the solver's qubits/couplers are not those of a {kind} {list(shape)} lattice: {exc}",
                fix="check the solver's topology property",
            ) from None
    else:
        g = nx.Graph()
        g.add_nodes_from(nodes)
        g.add_edges_from(edges)
        g.graph["family"] = kind or "custom"
    frozen = frozen_graph(g)
    return frozen, lattice_graph_id(frozen, kind, shape)

"""What a hardware graph can hold: its edge array, its largest clique, clique embeddings.

Results are cached per *graph id* (see :mod:`qama_compile.core.graphs`), so two targets
with different graphs never share an entry, whatever their names. Clique embeddings come
from ``minorminer.busclique`` on D-Wave families (deterministic, cached) and from
``minorminer.find_embedding`` with a fixed seed on any other graph.

>>> import networkx as nx
>>> from qama_compile.core.graphs import chimera_graph, frozen_graph
>>> g = frozen_graph(chimera_graph(2))
>>> clique_capacity("chimera(2,4)", g), len(clique_embedding("chimera(2,4)", g, 4))
(8, 4)
"""

from __future__ import annotations

import threading

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from ..errors import ProblemTooLargeError

__all__ = ["clique_capacity", "clique_embedding", "edge_array"]

_BUSCLIQUE_FAMILIES = ("pegasus", "zephyr", "chimera")
_LOCK = threading.Lock()
_EDGES: dict[str, NDArray[np.int64]] = {}
_CAPACITY: dict[str, int | None] = {}
_CLIQUES: dict[tuple[str, int], tuple[tuple[int, ...], ...]] = {}


def _busclique_ok(g: nx.Graph) -> bool:
    return g.graph.get("family") in _BUSCLIQUE_FAMILIES


def edge_array(graph_id: str, g: nx.Graph) -> NDArray[np.int64]:
    """The graph's edges as a read-only ``[M, 2]`` int array (cached per graph id)."""
    with _LOCK:
        if graph_id not in _EDGES:
            edges = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
            edges.setflags(write=False)
            _EDGES[graph_id] = edges
        return _EDGES[graph_id]


def clique_capacity(graph_id: str, g: nx.Graph) -> int | None:
    """Size of the largest clique ``busclique`` embeds (``None`` for graphs of other families)."""
    if not _busclique_ok(g):
        return None
    with _LOCK:
        if graph_id in _CAPACITY:
            return _CAPACITY[graph_id]
    import minorminer.busclique as bc

    size = len(bc.busgraph_cache(g).largest_clique())
    with _LOCK:
        _CAPACITY[graph_id] = size
    return size


def clique_embedding(graph_id: str, g: nx.Graph, size: int) -> tuple[tuple[int, ...], ...]:
    """A clique embedding of ``K_size`` (the chain of variable ``i`` at index ``i``), cached.

    Raises:
        ProblemTooLargeError: the graph holds no ``K_size``.
    """
    key = (graph_id, int(size))
    with _LOCK:
        if key in _CLIQUES:
            return _CLIQUES[key]
    if _busclique_ok(g):
        import minorminer.busclique as bc

        emb = bc.find_clique_embedding(int(size), g, use_cache=True)
    else:  # a user graph: heuristic clique embedding, fixed seed so it is deterministic
        import minorminer

        if size <= 1:
            emb = {0: [min(g.nodes)]} if size == 1 and g.number_of_nodes() else {}
        else:
            emb = minorminer.find_embedding(nx.complete_graph(int(size)), g, random_seed=0)
    if len(emb) != size:
        cap = clique_capacity(graph_id, g)
        raise ProblemTooLargeError(
            f"no clique embedding of K_{size} on this graph" + (f" (largest clique: K_{cap})" if cap else ""),
            fix="reduce the problem (fewer tokens, heads or bits), use embedding='heuristic', or decompose",
            size=int(size),
            limit=cap,
            unit="clique variables",
        )
    chains = tuple(tuple(int(q) for q in emb[i]) for i in range(size))
    with _LOCK:
        _CLIQUES[key] = chains
    return chains

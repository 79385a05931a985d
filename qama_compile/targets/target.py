"""Hardware targets: frozen descriptions of annealers, coherent Ising machines and gate devices.

A :class:`Target` states what a compiler needs to know about a machine: its kind, qubit
graph (built lazily), qubit count, ``h`` and ``J`` ranges, coupling bit width and a timing
model. Every figure of a shipped target is cited in ``docs/targets.md`` and in
``Target.sources``.

>>> t = get_target("dwave-advantage")
>>> t.kind, t.topology, t.num_qubits, t.h_range, t.extended_j_range
('annealer', 'pegasus', 5640, (-4.0, 4.0), (-2.0, 1.0))
>>> get_target("cim-550").coupling_bits
8
>>> import networkx as nx
>>> mine = Target.from_graph("ring-8", nx.cycle_graph(8), h_range=(-1, 1), j_range=(-1, 1))
>>> mine.num_qubits, mine.graph().number_of_edges()
(8, 8)
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidInputError, UnknownNameError

if TYPE_CHECKING:
    import networkx as nx

TargetKind = Literal["annealer", "cim", "gate", "simulator"]
_KINDS = ("annealer", "cim", "gate", "simulator")

#: Bytes per amplitude of a complex128 statevector.
STATEVECTOR_BYTES_PER_AMPLITUDE = 16

_GRAPH_CACHE: dict[tuple[str, str, int], nx.Graph] = {}
_GRAPH_LOCK = threading.Lock()


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


def _heron_graph() -> nx.Graph:
    import networkx as nx

    g = nx.Graph()
    g.add_edges_from(heavy_hex_edges(8, 16))
    g.graph["family"] = "heavy-hex"
    return g


def _available_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is an Ocean dependency
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return 8 << 30


def statevector_qubit_limit(memory_bytes: int | None = None) -> int:
    """Largest ``n`` with ``16 * 2**n <= memory_bytes`` (default: available RAM now).

    >>> statevector_qubit_limit(16 * 2**20)
    20
    """
    mem = _available_memory() if memory_bytes is None else int(memory_bytes)
    if mem < STATEVECTOR_BYTES_PER_AMPLITUDE:
        return 0
    return math.floor(math.log2(mem / STATEVECTOR_BYTES_PER_AMPLITUDE))


def _json_range(r: tuple[float, float] | None) -> list[float | None] | None:
    """A range for JSON: infinite ends become ``None`` (unbounded)."""
    if r is None:
        return None
    return [None if math.isinf(v) else v for v in r]


@dataclass(frozen=True)
class Target:
    """A frozen description of a machine.

    Attributes:
        name: registry name.
        kind: ``"annealer"`` (sparse graph, minor-embedding), ``"cim"`` (all-to-all spins),
            ``"gate"`` (QAOA on a coupling map) or ``"simulator"``.
        topology: ``"pegasus"``, ``"zephyr"``, ``"chimera"``, ``"complete"``, ``"heavy-hex"``,
            ``"none"`` or a user name.
        num_qubits: qubits (annealer / gate), spins (CIM) or the simulator's qubit limit.
        h_range, j_range: allowed field and coupling values (Ising, dimod sign convention).
        extended_j_range: wider coupling range usable for some couplers (D-Wave), or ``None``.
        coupling_bits: bit width of the coupling (and field) DACs; ``None`` = analog.
        native_fields: whether the machine implements ``h`` directly; if not, the compiler
            adds an ancilla spin that carries the fields as couplings.
        timing: the timing model, microseconds unless the key says otherwise.
        sources: citations for the figures (see ``docs/targets.md``).
    """

    name: str
    kind: TargetKind
    topology: str
    num_qubits: int
    h_range: tuple[float, float]
    j_range: tuple[float, float]
    extended_j_range: tuple[float, float] | None = None
    coupling_bits: int | None = None
    native_fields: bool = True
    timing: Mapping[str, float] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    description: str = ""
    graph_factory: Callable[[], nx.Graph] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidInputError(f"target kind must be one of {_KINDS}, got {self.kind!r}")
        if self.num_qubits < 0:
            raise InvalidInputError(f"num_qubits must be >= 0, got {self.num_qubits}")
        for name in ("h_range", "j_range", "extended_j_range"):
            value = getattr(self, name)
            if value is None:
                continue
            lo, hi = (float(v) for v in value)
            if not lo <= 0 <= hi or lo == hi:
                raise InvalidInputError(
                    f"{name} must be an interval containing 0, got {value}",
                    fix="pass (low, high) with low <= 0 <= high",
                )
            object.__setattr__(self, name, (lo, hi))
        if self.coupling_bits is not None and not 2 <= int(self.coupling_bits) <= 32:
            raise InvalidInputError(f"coupling_bits must be in 2..32 or None, got {self.coupling_bits}")
        object.__setattr__(self, "timing", MappingProxyType(dict(self.timing)))
        object.__setattr__(self, "sources", tuple(self.sources))

    def __hash__(self) -> int:  # the timing mapping is not hashable; these fields identify a target
        return hash((self.name, self.kind, self.topology, self.num_qubits, self.h_range, self.j_range))

    # ------------------------------------------------------------------ graph
    @property
    def is_complete(self) -> bool:
        """All-to-all connectivity (no embedding needed)."""
        return self.topology == "complete"

    @property
    def has_graph(self) -> bool:
        return self.graph_factory is not None

    def graph(self) -> nx.Graph | None:
        """The hardware graph (built once per process and cached), or ``None`` if all-to-all / none.

        Treat the returned graph as read-only: it is shared.
        """
        if self.graph_factory is None:
            return None
        key = (self.name, self.topology, self.num_qubits)
        with _GRAPH_LOCK:
            g = _GRAPH_CACHE.get(key)
            if g is None:
                g = self.graph_factory()
                _GRAPH_CACHE[key] = g
        return g

    def largest_clique(self) -> int | None:
        """Largest fully connected problem the target takes without decomposition.

        Annealers: the largest busclique clique embedding (``None`` for custom graphs); CIMs:
        all spins; gate devices and simulators: all qubits.
        """
        if self.kind == "annealer":
            from ..passes.embed import clique_capacity

            return clique_capacity(self)
        return self.num_qubits

    def coupler_count(self) -> int | None:
        """Physical couplers of the graph; ``n(n-1)/2`` for all-to-all; ``None`` if unknown."""
        if self.is_complete:
            return self.num_qubits * (self.num_qubits - 1) // 2
        g = self.graph()
        return None if g is None else int(g.number_of_edges())

    def estimate_time_us(self, num_reads: int = 100, *, anneal_us: float | None = None) -> tuple[float, float] | None:
        """``(low, high)`` QPU access time in µs for ``num_reads`` from the timing model, or ``None``.

        Annealers: ``programming + reads * (anneal + readout + delay per sample)``, with the
        published readout range giving the low and high ends (D-Wave's QPU timing model).

        >>> get_target("dwave-advantage").estimate_time_us(100)   # 14100 + 100 * (20 + 20.5 + 17..235)
        (19850.0, 41650.0)
        """
        t = self.timing
        if self.kind != "annealer" or "programming_us" not in t:
            return None
        anneal = float(t.get("anneal_us", 20.0) if anneal_us is None else anneal_us)
        per = anneal + float(t.get("delay_per_sample_us", 0.0))
        low = t["programming_us"] + num_reads * (per + float(t.get("readout_us_min", 0.0)))
        high = t["programming_us"] + num_reads * (per + float(t.get("readout_us_max", 0.0)))
        return float(low), float(high)

    # ------------------------------------------------------------------ quantization grid
    def j_bounds(self, *, extended: bool = False) -> tuple[float, float]:
        """The coupling range, extended if asked and available."""
        return self.extended_j_range if (extended and self.extended_j_range) else self.j_range

    def quantization_levels(self) -> int | None:
        """Distinct signed levels of a coupling DAC (``2**bits - 1``, symmetric), ``None`` = analog."""
        return None if self.coupling_bits is None else 2 ** int(self.coupling_bits) - 1

    # ------------------------------------------------------------------ user targets
    @classmethod
    def from_graph(
        cls,
        name: str,
        graph: nx.Graph,
        *,
        h_range: tuple[float, float],
        j_range: tuple[float, float],
        extended_j_range: tuple[float, float] | None = None,
        coupling_bits: int | None = None,
        kind: TargetKind = "annealer",
        topology: str | None = None,
        native_fields: bool = True,
        timing: Mapping[str, float] | None = None,
        sources: tuple[str, ...] = ("user-defined",),
        description: str = "",
    ) -> Target:
        """A user target from a networkx graph (copied; node labels are the qubit ids)."""
        import networkx as nx

        if not isinstance(graph, nx.Graph):
            raise InvalidInputError(f"graph must be a networkx.Graph, got {type(graph).__name__}")
        g = nx.Graph(graph)
        if any(not isinstance(n, int) for n in g.nodes):
            g = nx.convert_node_labels_to_integers(g, ordering="sorted")
        return cls(
            name=name,
            kind=kind,
            topology=topology or g.graph.get("family", "custom"),
            num_qubits=g.number_of_nodes(),
            h_range=h_range,
            j_range=j_range,
            extended_j_range=extended_j_range,
            coupling_bits=coupling_bits,
            native_fields=native_fields,
            timing=timing or {},
            sources=sources,
            description=description,
            graph_factory=lambda: g,
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts (the graph is not built unless it is cheap)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "topology": self.topology,
            "num_qubits": self.num_qubits,
            "h_range": _json_range(self.h_range),
            "j_range": _json_range(self.j_range),
            "extended_j_range": _json_range(self.extended_j_range),
            "coupling_bits": self.coupling_bits,
            "native_fields": self.native_fields,
            "timing": dict(self.timing),
            "sources": list(self.sources),
            "description": self.description,
        }


# --------------------------------------------------------------------------- registry
DWAVE_SPECIFIC = "https://docs.dwavequantum.com/en/latest/quantum_research/solver_properties_specific.html"
DWAVE_ALL = "https://docs.dwavequantum.com/en/latest/quantum_research/solver_properties_all.html"
IBM_PROCESSORS = "https://quantum.cloud.ibm.com/docs/guides/processor-types"
HONJO_2021 = "Honjo et al., Sci. Adv. 7, eabh0952 (2021), https://pmc.ncbi.nlm.nih.gov/articles/PMC8480917"
QAMA_PAPER = "Du et al., QAMA, arXiv:2504.11083 (CIM hardware experiment), https://arxiv.org/abs/2504.11083"


def _aer_target() -> Target:
    limit = statevector_qubit_limit()
    return Target(
        name="aer-statevector",
        kind="simulator",
        topology="none",
        num_qubits=limit,
        h_range=(-math.inf, math.inf),
        j_range=(-math.inf, math.inf),
        coupling_bits=None,
        timing={"bytes_per_amplitude": STATEVECTOR_BYTES_PER_AMPLITUDE, "available_memory_bytes": _available_memory()},
        sources=("qiskit-aer statevector: 2**n complex128 amplitudes (16 bytes each)",),
        description="Qiskit Aer statevector simulator; qubit limit = floor(log2(available RAM / 16 B)) now",
    )


def _builtin() -> dict[str, Callable[[], Target]]:
    return {
        "dwave-advantage": lambda: Target(
            name="dwave-advantage",
            kind="annealer",
            topology="pegasus",
            num_qubits=5640,
            h_range=(-4.0, 4.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            coupling_bits=None,
            timing={
                "programming_us": 14100.0,
                "anneal_us": 20.0,
                "readout_us_min": 17.0,
                "readout_us_max": 235.0,
                "delay_per_sample_us": 20.5,
            },
            sources=(
                f"{DWAVE_SPECIFIC} (Advantage_system4.1: P16, 5627 working qubits, 40279 couplers, timing)",
                f"{DWAVE_ALL} (h_range, j_range, extended_j_range, default anneal 20 us)",
            ),
            description="D-Wave Advantage, ideal Pegasus P16 graph (5640 fabric qubits; real QPUs miss a few)",
            graph_factory=lambda: pegasus_graph(16),
        ),
        "dwave-advantage2": lambda: Target(
            name="dwave-advantage2",
            kind="annealer",
            topology="zephyr",
            num_qubits=4800,
            h_range=(-4.0, 4.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            coupling_bits=None,
            timing={
                "programming_us": 33600.0,
                "anneal_us": 20.0,
                "readout_us_min": 17.0,
                "readout_us_max": 101.0,
                "delay_per_sample_us": 60.6,
            },
            sources=(
                f"{DWAVE_SPECIFIC} (Advantage2_system1.7: Z12, 4592 working qubits, 41779 couplers, timing)",
                f"{DWAVE_ALL} (h_range, j_range, extended_j_range as documented for QPU solvers)",
            ),
            description="D-Wave Advantage2, ideal Zephyr Z12 graph (4800 fabric qubits, t=4)",
            graph_factory=lambda: zephyr_graph(12, 4),
        ),
        "chimera-c16": lambda: Target(
            name="chimera-c16",
            kind="annealer",
            topology="chimera",
            num_qubits=2048,
            h_range=(-2.0, 2.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            coupling_bits=None,
            timing={},
            sources=(
                "D-Wave 2000Q: Chimera C16 (16x16 K4,4 cells), ideal graph from dwave-graphs chimera_graph(16)",
                "h/J ranges: commonly reported 2000Q values, unverified here (docs/targets.md)",
            ),
            description="Legacy D-Wave 2000Q, ideal Chimera C16 graph (2048 qubits)",
            graph_factory=lambda: chimera_graph(16),
        ),
        "cim-550": lambda: Target(
            name="cim-550",
            kind="cim",
            topology="complete",
            num_qubits=550,
            h_range=(-1.0, 1.0),
            j_range=(-1.0, 1.0),
            coupling_bits=8,
            native_fields=False,
            timing={},
            sources=(QAMA_PAPER, "spin count and 8-bit signed couplings: project brief (DESIGN.md section 4)"),
            description="Fully connected 550-spin CIM, 8-bit signed couplings; fields via an ancilla spin",
        ),
        "cim-100k": lambda: Target(
            name="cim-100k",
            kind="cim",
            topology="complete",
            num_qubits=100_512,
            h_range=(-1.0, 1.0),
            j_range=(-1.0, 1.0),
            coupling_bits=8,
            native_fields=False,
            timing={},
            sources=(
                HONJO_2021 + " (100,512 DOPO spins, measurement-feedback coupling)",
                "8-bit couplings: assumption of this toolkit (docs/targets.md)",
            ),
            description="Measurement-feedback CIM class, 100,512 spins (Honjo et al. 2021)",
        ),
        "ibm-heron": lambda: Target(
            name="ibm-heron",
            kind="gate",
            topology="heavy-hex",
            num_qubits=156,
            h_range=(-math.inf, math.inf),
            j_range=(-math.inf, math.inf),
            coupling_bits=None,
            timing={},
            sources=(
                f"{IBM_PROCESSORS} (Heron r2: 156 qubits, heavy-hexagonal lattice)",
                "coupling map: heavy-hex rule (8 rows of 16 + 7x4 bridges, degree <= 3) built with qiskit",
            ),
            description="IBM Heron r2 heavy-hex device (156 qubits) for QAOA circuit counts",
            graph_factory=_heron_graph,
        ),
        "aer-statevector": _aer_target,
    }


_USER_TARGETS: dict[str, Target] = {}

#: Short names accepted by :func:`get_target`.
ALIASES: dict[str, str] = {
    "advantage": "dwave-advantage",
    "pegasus": "dwave-advantage",
    "advantage2": "dwave-advantage2",
    "zephyr": "dwave-advantage2",
    "chimera": "chimera-c16",
    "2000q": "chimera-c16",
    "cim": "cim-550",
    "heron": "ibm-heron",
    "aer": "aer-statevector",
    "statevector": "aer-statevector",
}


def register_target(target: Target, *, overwrite: bool = False) -> Target:
    """Add a user target to the registry (by its name)."""
    if not overwrite and (target.name in _builtin() or target.name in _USER_TARGETS):
        raise InvalidInputError(f"target {target.name!r} already exists", fix="pass overwrite=True or pick a new name")
    _USER_TARGETS[target.name] = target
    return target


def available_targets() -> list[str]:
    """Names of the shipped and registered targets.

    >>> "dwave-advantage" in available_targets()
    True
    """
    return sorted(set(_builtin()) | set(_USER_TARGETS))


def get_target(name: str | Target) -> Target:
    """The target ``name`` (a :class:`Target` passes through)."""
    if isinstance(name, Target):
        return name
    if name in _USER_TARGETS:
        return _USER_TARGETS[name]
    name = ALIASES.get(name.lower(), name) if isinstance(name, str) else name
    factories = _builtin()
    if name not in factories:
        known = available_targets()
        raise UnknownNameError(
            f"unknown target {name!r}; known targets: {', '.join(known)}",
            fix="pick a known target or build one with Target.from_graph(...)",
            name=name,
            known=known,
        )
    return factories[name]()

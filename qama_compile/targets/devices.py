"""Targets read from the machine in hand: a D-Wave structured sampler, a Qiskit backend, or a
shipped target with modelled defects.

Each function returns the *fields* of a :class:`~qama_compile.targets.Target`; the
``Target`` classmethods build (or replace) the target from them.

* :func:`sampler_fields` (``Target.from_sampler``): the solver's *working* graph
  (``nodelist`` / ``edgelist``, with the ``topology`` property's lattice metadata so
  ``minorminer.busclique`` can embed cliques in it), ``h_range``, ``j_range``,
  ``extended_j_range``, ``per_qubit_coupling_range`` and the annealing and timing properties
  the solver reports.
* :func:`qiskit_backend_fields` (``Target.from_qiskit_backend``): the coupling map, the
  basis gates and, where the backend's ``Target`` has them, error rates, gate durations and
  T1/T2 (medians and maxima in ``Target.calibration``).
* :func:`defect_fields` (``Target.with_defects``): a shipped target less a seeded random
  fraction of its qubits (and their couplers), with a new graph id.

Every target made here holds a frozen graph and a ``graph_id``: the generator's id
(``"pegasus(16)"``) when the working graph is the whole ideal lattice, else the graph's
``sha256:`` fingerprint.

>>> from dwave.system.testing import MockDWaveSampler
>>> mock = MockDWaveSampler(topology_type="chimera", topology_shape=[4, 4, 4], broken_nodes=[0, 5])
>>> f = sampler_fields(mock)
>>> f["num_qubits"], f["topology"], f["extended_j_range"], f["per_qubit_coupling_range"], f["graph_id"][:7]
(126, 'chimera', (-2.0, 1.0), (-18.0, 15.0), 'sha256:')
>>> sampler_fields(MockDWaveSampler(topology_type="chimera", topology_shape=[4, 4, 4]))["graph_id"]
'chimera(4,4)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from ..core.graphs import LATTICES, frozen_graph, graph_fingerprint, lattice_graph, sampler_graph
from ..errors import InvalidInputError

if TYPE_CHECKING:
    pass

__all__ = ["defect_fields", "qiskit_backend_fields", "sampler_fields"]

#: qiskit instructions that are not gates of a basis (directives, control flow, timing)
_NOT_GATES = frozenset(
    {"measure", "reset", "delay", "barrier", "if_else", "while_loop", "for_loop", "switch_case", "box", "store"}
)


def _range(props: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    value = props.get(key)
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"solver property {key!r} is not a (low, high) pair: {value!r}") from None
    return lo, hi


def _readout_range_us(timing: Mapping[str, Any]) -> tuple[float, float] | None:
    """Shortest and longest readout time of the solver's readout-time model (µs)."""
    params = timing.get("readout_time_model_parameters")
    model = timing.get("readout_time_model")
    if not params or len(params) % 2 or model not in ("pwl_log_log", "pwl_linear"):
        return None
    y = np.asarray(params[len(params) // 2 :], dtype=np.float64)
    if model == "pwl_log_log":
        y = 10.0**y
    return float(y.min()), float(y.max())


def _annealer_timing(props: Mapping[str, Any]) -> dict[str, float]:
    """The shipped targets' timing keys, from the properties a D-Wave solver reports."""
    out: dict[str, float] = {}
    data = props.get("problem_timing_data") or {}
    if "typical_programming_time" in data:
        out["programming_us"] = float(data["typical_programming_time"])
    anneal = props.get("default_annealing_time", data.get("default_annealing_time"))
    if anneal is not None:
        out["anneal_us"] = float(anneal)
    readout = _readout_range_us(data)
    if readout is not None:
        out["readout_us_min"], out["readout_us_max"] = readout
    if "qpu_delay_time_per_sample" in data:
        out["delay_per_sample_us"] = float(data["qpu_delay_time_per_sample"])
    anneal_range = _range(props, "annealing_time_range")
    if anneal_range is not None:
        out["anneal_us_min"], out["anneal_us_max"] = anneal_range
    return out


def sampler_fields(sampler: Any, *, name: str | None = None) -> dict[str, Any]:
    """The fields of a :class:`~qama_compile.targets.Target` of a D-Wave structured sampler's
    working graph and reported properties (``Target.from_sampler`` builds the target).

    Args:
        sampler: a ``dwave.system.DWaveSampler``, ``MockDWaveSampler`` or any
            ``dimod.Structured`` sampler with integer qubits. Its ``properties`` may give
            ``topology`` (``{"type", "shape"}``), ``h_range``, ``j_range``,
            ``extended_j_range``, ``per_qubit_coupling_range``, ``default_annealing_time``,
            ``annealing_time_range`` and ``problem_timing_data``; absent ranges are unbounded.
        name: the target's name (default: the solver's ``chip_id``).
    """
    props: Mapping[str, Any] = dict(getattr(sampler, "properties", None) or {})
    frozen, graph_id = sampler_graph(sampler)
    topo = props.get("topology") or {}
    kind, shape = topo.get("type"), topo.get("shape")
    if kind in LATTICES and shape is not None:
        fabric = int(props.get("num_qubits", lattice_graph(kind, shape).number_of_nodes()))
    else:
        fabric = frozen.number_of_nodes()
    chip = str(props.get("chip_id") or getattr(getattr(sampler, "solver", None), "name", "") or type(sampler).__name__)
    unbounded = (-math.inf, math.inf)
    h = _range(props, "h_range") or unbounded
    j = _range(props, "j_range") or unbounded
    shape_txt = "x".join(str(s) for s in shape) if shape is not None else "?"
    return dict(
        name=name or chip,
        kind="annealer",
        topology=str(kind or "custom"),
        num_qubits=frozen.number_of_nodes(),
        h_range=h,
        j_range=j,
        extended_j_range=_range(props, "extended_j_range"),
        per_qubit_coupling_range=_range(props, "per_qubit_coupling_range"),
        coupling_bits=None,
        timing=_annealer_timing(props),
        sources=(f"solver properties of {chip} ({type(sampler).__name__}), read by Target.from_sampler",),
        description=f"{chip}: working graph of a {kind or 'custom'} {shape_txt} solver, "
        f"{frozen.number_of_nodes()} of {fabric} qubits, {frozen.number_of_edges()} couplers",
        graph_id=graph_id,
        graph_factory=lambda: frozen,
        device_factory=lambda: sampler,
    )


# --------------------------------------------------------------------------- Qiskit backends
def _stats(values: list[float]) -> tuple[float, float] | None:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if not arr.size:
        return None
    return float(np.median(arr)), float(arr.max())


def _qiskit_calibration(qt: Any, basis: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """``(calibration, timing)`` of a ``qiskit.transpiler.Target``: medians and maxima of the
    reported errors, durations in µs, T1/T2 in µs."""
    calibration: dict[str, float] = {}
    timing: dict[str, float] = {}
    for op in [*basis, "measure"]:
        if op not in qt.operation_names:
            continue
        props = [p for p in (qt[op] or {}).values() if p is not None]
        err = _stats([p.error for p in props if p.error is not None])
        if err is not None:
            calibration[f"{op}_error_median"], calibration[f"{op}_error_max"] = err
        dur = _stats([p.duration * 1e6 for p in props if p.duration is not None])
        if dur is not None and dur[1] > 0:
            timing[f"{op}_us_median"] = dur[0]
    qubits = [q for q in (qt.qubit_properties or []) if q is not None]
    for attr in ("t1", "t2"):
        st = _stats([getattr(q, attr) * 1e6 for q in qubits if getattr(q, attr, None) is not None])
        if st is not None:
            calibration[f"{attr}_us_median"] = st[0]
    return calibration, timing


def qiskit_backend_fields(
    backend: Any,
    *,
    name: str | None = None,
    topology: str | None = None,
    sources: tuple[str, ...] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The fields of a gate :class:`~qama_compile.targets.Target` of a Qiskit ``BackendV2``:
    coupling map, basis gates, calibration (``Target.from_qiskit_backend`` builds the target).

    ``calibration`` holds ``<gate>_error_median`` / ``<gate>_error_max`` for every basis gate
    and ``measure`` whose error the backend reports, and ``t1_us_median`` / ``t2_us_median``;
    ``timing`` the median durations ``<gate>_us_median``. A backend without a coupling map
    (an all-to-all simulator) becomes a ``simulator`` target without a graph. The backend is
    kept as ``Target.device()`` (QAOA transpiles to it and simulates its noise).
    """
    qt = getattr(backend, "target", None)
    num = getattr(backend, "num_qubits", None)
    if qt is None or num is None:
        raise InvalidInputError(
            f"{type(backend).__name__} is not a Qiskit BackendV2 (no .target / .num_qubits)",
            fix="pass a qiskit BackendV2, e.g. qiskit_ibm_runtime.fake_provider.FakeFez() or GenericBackendV2(n)",
        )
    basis = tuple(
        sorted(
            op
            for op in qt.operation_names
            if op not in _NOT_GATES and isinstance(qt.operation_from_name(op), _gate_type())
        )
    )
    calibration, timing = _qiskit_calibration(qt, basis)
    cmap = getattr(backend, "coupling_map", None)
    backend_name = str(getattr(backend, "name", type(backend).__name__))
    srcs = sources or (f"Qiskit backend {backend_name} ({type(backend).__name__}), read by Target.from_qiskit_backend",)
    common: dict[str, Any] = {
        "name": name or backend_name,
        "num_qubits": int(num),
        "h_range": (-math.inf, math.inf),
        "j_range": (-math.inf, math.inf),
        "coupling_bits": None,
        "timing": timing,
        "sources": srcs,
        "basis_gates": basis,
        "calibration": calibration,
        "device_factory": lambda: backend,
    }
    if cmap is None:
        return dict(
            kind="simulator",
            topology="complete",
            description=description or f"{backend_name}: {num} qubits, all-to-all, basis {', '.join(basis)}",
            **common,
        )
    g = nx.Graph()
    g.add_nodes_from(range(int(num)))
    g.add_edges_from((int(a), int(b)) for a, b in cmap.get_edges() if a != b)
    g.graph["family"] = topology or "coupling-map"
    frozen = frozen_graph(g)
    return dict(
        kind="gate",
        topology=topology or "coupling-map",
        description=description
        or f"{backend_name}: {num} qubits, {frozen.number_of_edges()} couplers, basis {', '.join(basis)}",
        graph_id=graph_fingerprint(frozen),
        graph_factory=lambda: frozen,
        **common,
    )


def _gate_type() -> type:
    from qiskit.circuit import Gate

    return Gate


# --------------------------------------------------------------------------- defects
def defect_fields(target: Any, fraction: float, *, seed: int = 0, coupler_fraction: float = 0.0) -> dict[str, Any]:
    """The fields that change when ``target`` loses ``round(fraction * qubits)`` qubits drawn at
    random with ``seed`` (their couplers go with them) and ``round(coupler_fraction * remaining
    couplers)`` further couplers (``Target.with_defects`` replaces them). The graph keeps its
    lattice metadata (clique embedding still works); the new target has a new name,
    ``num_qubits`` and ``graph_id``.
    """
    for label, value in (("fraction", fraction), ("coupler_fraction", coupler_fraction)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not (0.0 <= float(value) < 1.0)
        ):
            raise InvalidInputError(f"{label} must be a number in [0, 1), got {value!r}", fix=f"pass e.g. {label}=0.01")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}", fix="pass e.g. seed=0")
    g = target.graph()
    if g is None:
        raise InvalidInputError(
            f"target {target.name!r} has no qubit graph to remove qubits from",
            fix="use an annealer or gate target (a CIM's spins are all-to-all: pick a smaller one instead)",
        )
    rng = np.random.default_rng(int(seed))
    nodes = np.sort(np.fromiter(g.nodes, dtype=np.int64, count=g.number_of_nodes()))
    k = round(float(fraction) * nodes.size)
    dead = rng.choice(nodes, size=k, replace=False) if k else np.zeros(0, np.int64)
    keep = np.setdiff1d(nodes, dead)
    sub = nx.Graph(g.subgraph(keep.tolist()))
    sub.graph.update(g.graph)
    m = round(float(coupler_fraction) * sub.number_of_edges())
    if m:
        edges = np.asarray(sorted((min(u, v), max(u, v)) for u, v in sub.edges()), dtype=np.int64)
        cut = edges[rng.choice(len(edges), size=m, replace=False)]
        sub.remove_edges_from(map(tuple, cut.tolist()))
    frozen = frozen_graph(sub)
    what = f"{k} of {nodes.size} qubits" + (f" and {m} couplers" if m else "") + f" removed at random (seed {seed})"
    suffix = f"defects({float(fraction):g}" + (f",{float(coupler_fraction):g}" if m else "") + f",seed={seed})"
    return dict(
        name=f"{target.name}~{suffix}",
        num_qubits=frozen.number_of_nodes(),
        description=f"{target.description}; {what}",
        sources=(*target.sources, f"Target.with_defects: {what}"),
        graph_id=graph_fingerprint(frozen),
        graph_factory=_const(frozen),
        device_factory=None,  # a model of a worn chip, not the device
    )


def _const(g: nx.Graph) -> Callable[[], nx.Graph]:
    return lambda: g

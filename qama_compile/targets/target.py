"""``Target``: a frozen, typed description of a machine, with its capacity and ancilla rules.

A target states what a compiler needs to know: its kind, qubit graph (built lazily, frozen
and shared), qubit count, ``h`` and ``J`` ranges, coupling bit width and a timing model.
Its identity includes the graph: ``graph_id`` is the generator and parameters of a shipped
graph or the fingerprint of a user graph, so two targets with different graphs are never
equal and never share a cache entry, whatever their names.

The rules that depend on the machine live here, once: :meth:`Target.needs_ancilla` (CIMs
without native fields carry ``h`` on ancilla spins, :meth:`Target.field_ancillas` says how
many), :meth:`Target.largest_clique`, :meth:`Target.clique_embedding`,
:meth:`Target.precision` (coupler DAC bits a problem needs) and :meth:`Target.fit` (size and
precision).

>>> import networkx as nx
>>> a = Target.from_graph("mine", nx.cycle_graph(8), h_range=(-1, 1), j_range=(-1, 1))
>>> b = Target.from_graph("mine", nx.path_graph(8), h_range=(-1, 1), j_range=(-1, 1))
>>> a.num_qubits, a.graph().number_of_edges(), a == b
(8, 8, False)
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..core import cliques
from ..core.graphs import frozen_graph, graph_fingerprint
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from ..passes.options import DEFAULT_MAX_ZEROED_FRACTION, FieldAncillas
from ..passes.reports import Fit, PrecisionReport
from . import devices, precision

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["KINDS", "Target", "TargetKind"]

TargetKind = Literal["annealer", "cim", "gate", "simulator"]
KINDS: tuple[str, ...] = ("annealer", "cim", "gate", "simulator")

_GRAPHS: dict[str, nx.Graph] = {}
_GRAPH_LOCK = threading.Lock()


def _percent(x: float) -> str:
    """A share as a short percentage: ``0.175 -> '17.5%'``, ``0.05 -> '5%'``, ``2e-5 -> '0.002%'``."""
    return f"{100 * x:.3g}%"


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
        per_qubit_coupling_range: allowed sum of the couplings on one qubit when the
            extended range is used (D-Wave's ``per_qubit_coupling_range``), or ``None``.
        coupling_bits: bit width of the coupling (and field) DACs; ``None`` = analog.
        native_fields: whether the machine implements ``h`` directly; if not, the compiler
            adds an ancilla spin that carries the fields as couplings.
        timing: the timing model, microseconds unless the key says otherwise.
        sources: citations for the figures (see ``docs/targets.md``).
        description: one line for tables.
        graph_id: identity of the qubit graph (``""`` when there is none).
        graph_factory: builds the graph (called once per process per ``graph_id``).
        basis_gates: the native gates of a gate device (``()`` for other kinds).
        calibration: reported error rates and coherence times (see
            :meth:`from_qiskit_backend`), ``{}`` when none were given.
        device_factory: returns the live device this target was read from (a D-Wave
            sampler, a Qiskit backend), or ``None``; see :meth:`device`.
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
    graph_id: str = ""
    graph_factory: Callable[[], nx.Graph] | None = field(default=None, compare=False, repr=False)
    per_qubit_coupling_range: tuple[float, float] | None = None
    basis_gates: tuple[str, ...] = ()
    calibration: Mapping[str, float] = field(default_factory=dict)
    device_factory: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInputError(f"target kind must be one of {KINDS}, got {self.kind!r}", fix="pick one of them")
        if (
            isinstance(self.num_qubits, bool)
            or not isinstance(self.num_qubits, (int, np.integer))
            or self.num_qubits < 0
        ):
            raise InvalidInputError(f"num_qubits must be an integer >= 0, got {self.num_qubits!r}", fix="pass e.g. 550")
        for name in ("h_range", "j_range", "extended_j_range", "per_qubit_coupling_range"):
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
            raise InvalidInputError(
                f"coupling_bits must be in 2..32 or None, got {self.coupling_bits}", fix="pass e.g. 8, or None (analog)"
            )
        if (self.graph_factory is None) != (self.graph_id == ""):
            raise InvalidInputError(
                "a target with a graph_factory needs a graph_id (and one without needs none)",
                fix="build user targets with Target.from_graph(...)",
            )
        object.__setattr__(self, "timing", MappingProxyType(dict(self.timing)))
        object.__setattr__(
            self, "calibration", MappingProxyType({str(k): float(v) for k, v in self.calibration.items()})
        )
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "basis_gates", tuple(str(g) for g in self.basis_gates))

    def __hash__(self) -> int:  # the timing mapping is not hashable; every other compared field is
        return hash(
            (
                self.name,
                self.kind,
                self.topology,
                self.num_qubits,
                self.h_range,
                self.j_range,
                self.extended_j_range,
                self.coupling_bits,
                self.native_fields,
                self.graph_id,
                self.per_qubit_coupling_range,
                self.basis_gates,
            )
        )

    # ------------------------------------------------------------------ graph
    @property
    def is_complete(self) -> bool:
        """All-to-all connectivity (no embedding needed)."""
        return self.topology == "complete"

    def graph(self) -> nx.Graph | None:
        """The hardware graph (frozen, built once per process per ``graph_id``), or ``None``."""
        if self.graph_factory is None:
            return None
        with _GRAPH_LOCK:
            g = _GRAPHS.get(self.graph_id)
            if g is None:
                g = frozen_graph(self.graph_factory())
                _GRAPHS[self.graph_id] = g
        return g

    def _require_graph(self) -> nx.Graph:
        g = self.graph()
        if g is None:
            raise InvalidInputError(f"target {self.name!r} has no qubit graph", fix="use an annealer or gate target")
        return g

    def edge_array(self) -> NDArray[np.int64]:
        """The graph's couplers as a read-only ``[M, 2]`` array of qubit ids."""
        return cliques.edge_array(self.graph_id, self._require_graph())

    def coupler_count(self) -> int | None:
        """Physical couplers of the graph; ``n(n-1)/2`` for all-to-all; ``None`` if unknown."""
        if self.is_complete:
            return self.num_qubits * (self.num_qubits - 1) // 2
        g = self.graph()
        return None if g is None else int(g.number_of_edges())

    # ------------------------------------------------------------------ capacity rules
    def largest_clique(self) -> int | None:
        """Largest fully connected problem the target takes without decomposition.

        Annealers: the largest busclique clique embedding (``None`` for graphs of other
        families: only an embedding attempt can tell); CIMs: all spins; gate devices and
        simulators: all qubits.

        >>> from qama_compile.targets import get_target
        >>> get_target("chimera-c16").largest_clique(), get_target("cim-550").largest_clique()
        (64, 550)
        """
        if self.kind == "annealer":
            return cliques.clique_capacity(self.graph_id, self._require_graph())
        return self.num_qubits

    def variable_capacity(self, *, has_fields: bool = True) -> int | None:
        """Most logical variables that fit without decomposition (``None``: only embedding can tell).

        The largest clique (:meth:`largest_clique`), less the ancilla a CIM without native
        fields spends on the fields of a problem that has any.
        """
        cap = self.largest_clique()
        if cap is None:
            return None
        return cap - self.ancilla_spins(has_fields=has_fields)

    def clique_embedding(self, size: int) -> tuple[tuple[int, ...], ...]:
        """A deterministic, cached embedding of ``K_size`` (chain of variable ``i`` at index ``i``)."""
        return cliques.clique_embedding(self.graph_id, self._require_graph(), int(size))

    def ancilla_spins(self, *, has_fields: bool = True) -> int:
        """Extra spins a problem costs beyond its variables: 1 for the fields on a CIM without native fields."""
        return int(has_fields and self.kind == "cim" and not self.native_fields)

    def needs_ancilla(self, ir: QuadraticIR) -> bool:
        """Whether compiling ``ir`` adds an ancilla spin (see :meth:`ancilla_spins`)."""
        return self.ancilla_spins(has_fields=bool(np.any(ir.to_spin().linear != 0))) == 1

    def fit(
        self,
        ir: QuadraticIR,
        *,
        bits: int | None = None,
        max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION,
        field_ancillas: FieldAncillas = "auto",
    ) -> Fit:
        """Whether ``ir`` fits this target by size and coupler precision (``fits=None``: only embedding can tell).

        ``bits``, ``max_zeroed_fraction`` and ``field_ancillas`` are the compile options of
        those names (see :meth:`precision`). ``size_fits`` keeps the verdict on size alone.

        >>> from qama_compile import lower_attention
        >>> from qama_compile.targets import get_target
        >>> p = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=2)
        >>> get_target("cim-550").fit(p.ir).reason
        '19 spins <= 550 (all-to-all)'
        >>> f = get_target("cim-550").fit(p.ir, bits=4)      # a 4-bit DAC instead of the target's 8
        >>> f.fits, f.size_fits, f.reason.split(":")[0]
        (False, True, 'needs 7 bits of coupler precision, target has 4')
        """
        size = self._size_fit(ir, field_ancillas)
        prec = self.precision(ir, bits=bits, max_zeroed_fraction=max_zeroed_fraction, field_ancillas=field_ancillas)
        if prec.fits is not False:
            return dataclasses.replace(size, size_fits=size.fits, precision=prec)
        reason = prec.reason if size.fits is not False else f"{size.reason}; {prec.reason}"
        return dataclasses.replace(size, fits=False, reason=reason, size_fits=size.fits, precision=prec)

    def _size_fit(self, ir: QuadraticIR, field_ancillas: FieldAncillas) -> Fit:
        v, couplers = ir.num_variables, ir.num_couplers
        if self.kind == "cim":
            anc = self.field_ancillas(ir, requested=field_ancillas)
            need = v + anc
            if need > self.num_qubits:
                fields = f" + {anc} ancilla spin{'s' if anc > 1 else ''} for fields" if anc else ""
                why = f"needs {need} spins ({v} variables{fields}) > {self.num_qubits} spins of {self.name}"
                return Fit(fits=False, reason=why, qubits_needed=need, qubit_limit=self.num_qubits)
            why = f"{need} spins <= {self.num_qubits} (all-to-all)"
            return Fit(fits=True, reason=why, qubits_needed=need, qubit_limit=self.num_qubits)
        if self.kind in ("gate", "simulator"):
            ok = v <= self.num_qubits
            why = f"{v} qubits {'<=' if ok else 'needed >'} {self.num_qubits}" + ("" if ok else f" of {self.name}")
            return Fit(fits=ok, reason=why, qubits_needed=v, qubit_limit=self.num_qubits)
        if v > self.num_qubits:
            why = f"{v} variables > {self.num_qubits} qubits of {self.name}"
            return Fit(fits=False, reason=why, qubits_needed=v, qubit_limit=self.num_qubits)
        physical = self.coupler_count()
        if physical is not None and couplers > physical:
            why = f"{couplers} logical couplers > {physical} physical couplers of {self.name}"
            fits: bool | None = False
            cap = None
        else:
            cap = self.largest_clique()
            if cap is not None and v <= cap:
                fits, why = True, f"{v} variables <= largest clique K_{cap} of {self.name} (clique embedding)"
            elif cap is not None:
                fits = None
                why = (
                    f"{v} variables > largest clique K_{cap} of {self.name}; only a heuristic embedding "
                    f"(minorminer.find_embedding) can tell"
                )
            else:
                fits, why = None, "custom graph: only an embedding attempt can tell"
        return Fit(
            fits=fits,
            reason=why,
            qubits_needed=v,
            qubit_limit=self.num_qubits,
            couplers_needed=couplers,
            coupler_limit=physical,
            clique_capacity=cap,
        )

    # ------------------------------------------------------------------ precision rules
    def field_ancillas(self, ir: QuadraticIR, *, requested: FieldAncillas = "auto") -> int:
        """Ancilla spins that carry the fields of ``ir``: 0 unless this is a CIM without native fields.

        ``requested`` (the compile option ``field_ancillas``) is an integer >= 1, or
        ``"auto"``: ``ceil(max|h| / max|J|)`` of the Ising form (worst problem of the batch),
        so that no field coupler ``h_i / k`` is larger than the largest coupling, capped by the
        spins left over (at least 1). One ancilla is what a CIM needs; more only buy precision
        (:func:`qama_compile.passes.embed.with_field_ancillas` shows every ground state is kept).

        >>> from qama_compile.ir import QuadraticIR
        >>> from qama_compile.targets import get_target
        >>> ir = QuadraticIR.from_coo(linear=[[3.0, -1.0]], rows=[0], cols=[1], data=[[0.5]], vartype="SPIN")
        >>> get_target("cim-550").field_ancillas(ir), get_target("cim-550").field_ancillas(ir, requested=1)
        (6, 1)
        >>> get_target("dwave-advantage").field_ancillas(ir)
        0
        """
        if self.kind != "cim" or self.native_fields:
            return 0
        spin = ir.to_spin()
        if not np.any(spin.linear != 0):
            return 0
        if requested != "auto":
            return int(requested)
        h_max = np.abs(spin.linear).max(axis=1)
        j_max = precision.coupler_magnitudes(spin).max(axis=1, initial=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(j_max > 0, h_max / np.where(j_max > 0, j_max, 1.0), 1.0)
        want = int(np.ceil(float(ratio.max(initial=1.0)) - 1e-9))
        return max(1, min(want, self.num_qubits - spin.num_variables))

    def precision(
        self,
        ir: QuadraticIR,
        *,
        bits: int | None = None,
        max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION,
        field_ancillas: FieldAncillas = "auto",
    ) -> PrecisionReport:
        """The coupler DAC bits ``ir`` needs here, and what ``bits`` (default: :attr:`coupling_bits`) loses.

        The problem is laid out as the compiler lays it out on this target (fields on
        :meth:`field_ancillas` ancilla spins for a CIM without native fields; the logical
        couplers otherwise - chains of an annealer embedding are not modelled), scaled as the
        quantize pass scales it, and the rule of :mod:`qama_compile.targets.precision` counts
        the couplers nearest rounding sends to zero. Analog targets (no ``bits``) and gate
        targets are not modelled (``fits=None``), but ``bits_needed`` is still reported.

        >>> from qama_compile.ir import QuadraticIR
        >>> from qama_compile.targets import get_target
        >>> ir = QuadraticIR.from_coo(linear=[[0.0] * 3], rows=[0, 1], cols=[1, 2], data=[[1.0, 0.001]], vartype="SPIN")
        >>> p = get_target("cim-550").precision(ir)
        >>> p.fits, p.bits_needed, p.zeroed_couplers
        (False, 10, (1,))
        >>> head, tail = p.reason.split(": ", 1)
        >>> head
        'needs 10 bits of coupler precision, target has 8'
        >>> tail
        '50% of the non-zero couplers round to zero (at most 5% allowed)'
        >>> get_target("cim-550").precision(ir, bits=10).fits
        True
        """
        from ..passes.embed import with_field_ancillas
        from ..passes.quantize import scale_factors

        available = bits if bits is not None else self.coupling_bits
        spin = ir.to_spin()
        anc = self.field_ancillas(spin, requested=field_ancillas)
        laid_out = with_field_ancillas(spin, anc) if anc else spin
        scale, extended = scale_factors(laid_out, self)
        bound = max(abs(v) for v in self.j_bounds(extended=extended))
        finite = math.isfinite(bound) and bound > 0
        u = precision.coupler_magnitudes(laid_out) * (scale[:, None] / bound if finite else 1.0)
        if not finite:  # unbounded (gate, simulator): relative to the largest coupler
            u = u / np.maximum(u.max(axis=1, keepdims=True, initial=0.0), 1e-300)
        nonzero = np.count_nonzero(u, axis=1)
        allowed = np.floor(max_zeroed_fraction * nonzero + 1e-9).astype(np.int64)
        needed = int(precision.bits_to_keep(u, allowed=allowed).max(initial=precision.MIN_DAC_BITS))
        lossless = int(precision.bits_to_keep(u, allowed=np.zeros_like(allowed)).max(initial=precision.MIN_DAC_BITS))
        modelled = available is not None and self.kind in ("cim", "annealer")
        zeroed = precision.zeroed_at(u, int(available)) if modelled and available is not None else None
        share = float((zeroed / np.maximum(nonzero, 1)).max(initial=0.0)) if zeroed is not None else 0.0
        allowance = f"at most {_percent(max_zeroed_fraction)}" if max_zeroed_fraction else "none"
        if not modelled:
            fits, why = (
                None,
                (
                    f"{'analog' if available is None else self.kind} couplings: DAC precision not modelled "
                    f"({lossless} bits would keep every coupler)"
                ),
            )
        elif zeroed is not None and bool(np.all(zeroed <= allowed)):
            fits = True
            why = (
                f"{available}-bit couplers: {_percent(share)} of the non-zero couplers round to zero "
                f"({allowance} allowed; {lossless} bits would keep every one)"
            )
        else:
            fits = False
            why = (
                f"needs {needed} bits of coupler precision, target has {available}: {_percent(share)} of the "
                f"non-zero couplers round to zero ({allowance} allowed)"
            )
        return PrecisionReport(
            bits_available=available,
            bits_needed=needed,
            bits_lossless=lossless,
            max_zeroed_fraction=float(max_zeroed_fraction),
            nonzero_couplers=tuple(int(n) for n in nonzero),
            zeroed_couplers=() if zeroed is None else tuple(int(z) for z in zeroed),
            field_ancillas=anc,
            fits=fits,
            reason=why,
        )

    # ------------------------------------------------------------------ timing and precision
    def estimate_time_us(self, num_reads: int = 100, *, anneal_us: float | None = None) -> tuple[float, float] | None:
        """``(low, high)`` QPU access time in µs for ``num_reads`` from the timing model, or ``None``.

        Annealers: ``programming + reads * (anneal + readout + delay per sample)``, with the
        published readout range giving the low and high ends (D-Wave's QPU timing model).

        >>> from qama_compile.targets import get_target
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
        """A user target from a networkx graph (copied and frozen; node labels are the qubit ids)."""
        try:
            g = frozen_graph(graph)
        except TypeError as exc:
            raise InvalidInputError(str(exc), fix="pass a networkx.Graph") from None
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
            graph_id=graph_fingerprint(g),
            graph_factory=lambda: g,
        )

    # ------------------------------------------------------------------ devices
    def device(self) -> Any:
        """The live device this target was read from (a D-Wave sampler, a Qiskit backend), or ``None``.

        Backends use it: the ``qaoa`` backend transpiles to a gate target's device and
        simulates its noise; the ``dwave`` backend samples on an annealer target's sampler.
        """
        return None if self.device_factory is None else self.device_factory()

    @classmethod
    def from_sampler(cls, sampler: Any, *, name: str | None = None) -> Target:
        """The target of a D-Wave structured sampler (``DWaveSampler``, ``MockDWaveSampler``): its
        working graph, ranges and timing (:func:`~qama_compile.targets.devices.sampler_fields`).

        >>> from dwave.system.testing import MockDWaveSampler
        >>> t = Target.from_sampler(MockDWaveSampler(topology_type="pegasus", topology_shape=[4], broken_nodes=[40]))
        >>> t.num_qubits, t.h_range, t.graph_id.startswith("sha256:"), t.largest_clique() > 0
        (263, (-4.0, 4.0), True, True)
        """
        return cls(**devices.sampler_fields(sampler, name=name))

    @classmethod
    def from_qiskit_backend(cls, backend: Any, *, name: str | None = None) -> Target:
        """The target of a Qiskit ``BackendV2``: coupling map, basis gates and calibration
        (:func:`~qama_compile.targets.devices.qiskit_backend_fields`).

        >>> from qiskit.providers.fake_provider import GenericBackendV2
        >>> t = Target.from_qiskit_backend(GenericBackendV2(5, coupling_map=[[0, 1], [1, 2], [2, 3], [3, 4]], seed=0))
        >>> t.kind, t.num_qubits, t.basis_gates, t.graph().number_of_edges(), "cx_error_median" in t.calibration
        ('gate', 5, ('cx', 'id', 'rz', 'sx', 'x'), 4, True)
        """
        return cls(**devices.qiskit_backend_fields(backend, name=name))

    def with_defects(self, fraction: float, *, seed: int = 0, coupler_fraction: float = 0.0) -> Target:
        """This target less a seeded random ``fraction`` of its qubits (and their couplers),
        as a real chip misses some: a new target with a new ``graph_id`` (and no device).

        >>> from qama_compile.targets import get_target
        >>> adv = get_target("dwave-advantage")
        >>> worn = adv.with_defects(0.01, seed=0)
        >>> worn.num_qubits, worn.graph_id == adv.graph_id, worn == adv.with_defects(0.01, seed=0)
        (5584, False, True)
        """
        if self.graph() is None:
            raise InvalidInputError(
                f"target {self.name!r} has no qubit graph to remove qubits from",
                fix="use an annealer or gate target (a CIM's spins are all-to-all: pick a smaller one instead)",
            )
        return dataclasses.replace(
            self, **devices.defect_fields(self, fraction, seed=seed, coupler_fraction=coupler_fraction)
        )

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts (the graph is not built)."""
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
            "graph_id": self.graph_id,
            "per_qubit_coupling_range": _json_range(self.per_qubit_coupling_range),
            "basis_gates": list(self.basis_gates),
            "calibration": dict(self.calibration),
            "has_device": self.device_factory is not None,
        }

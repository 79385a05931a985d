"""A D-Wave QPU through dwave-system, as a ``dimod.Sampler`` (registered as ``dwave``).

``DWaveBackend`` samples on a structured sampler (``dwave.system.DWaveSampler``, or any
injected one such as ``dwave.system.testing.MockDWaveSampler``) and decides per problem how
the problem reaches the qubits:

* **native**: every variable is a working qubit and every interaction a working coupler
  (a problem compiled for ``Target.from_sampler(sampler)``): the structured sampler gets
  it as it is (with ``auto_scale=False``: the compiler already scaled it into the solver's
  ranges), no second embedding; the compiler's decoder unembeds the chains.
* **compiled for another graph**: integer labels that are qubits and couplers of the
  solver's ideal lattice, but some of them are missing on this solver (a problem compiled
  for the ideal ``dwave-advantage`` graph): refused with :class:`BackendError` naming the
  missing qubits and the fix (compile for ``Target.from_sampler``), unless
  ``on_foreign="embed"``.
* **logical**: a fixed ``embedding`` if given; else a clique embedding of the solver's
  working graph from ``minorminer.busclique`` (as ``DWaveCliqueSampler`` does; cached on
  disk by minorminer and in memory per graph, so the second problem of a size costs
  microseconds) when the problem fits the largest clique (``embedding="auto"`` or
  ``"clique"``); else ``minorminer.find_embedding`` with ``embedding_timeout`` seconds and a
  clear error when it finds none. dwave-system's ``FixedEmbeddingComposite`` embeds,
  samples and unembeds (majority vote on broken chains by default).

Chain strength (logical problems): ``"torque"`` (uniform torque compensation, dwave-system's
default, prefactor 1.414), ``"scaled"`` (the problem's largest bias times the prefactor,
default 1.0), a number, or a callable ``f(bqm, embedding)``.

Credentials: a Leap API token from ``DWAVE_API_TOKEN`` or from the dwave-cloud-client
configuration file (``dwave config create``). Without one, constructing the backend
raises :class:`BackendError` that says how to configure it.

>>> import dimod
>>> from dwave.system.testing import MockDWaveSampler
>>> qpu = DWaveBackend(sampler=MockDWaveSampler(substitute_kwargs={"seed": 0}))
>>> bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): -0.5}, 0.0, "SPIN")
>>> ss = qpu.sample(bqm, num_reads=4, seed=1)
>>> float(ss.first.energy), ss.info["embedding_method"], ss.info["chain_strength_method"]
(-1.5, 'clique', 'torque')
"""

from __future__ import annotations

import functools
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile.core.cliques import clique_capacity, clique_embedding, edge_array
from qama_compile.core.graphs import lattice_graph, sampler_graph
from qama_compile.errors import BackendError, InvalidInputError, ProblemTooLargeError

__all__ = ["CHAIN_STRENGTH_METHODS", "DWaveBackend", "chain_strength_function", "find_token"]

_HOW_TO = (
    "create a Leap API token at https://cloud.dwavesys.com/leap/ and run 'dwave config create' "
    "(or export DWAVE_API_TOKEN=...); or use a classical backend such as 'sa'"
)
#: Named chain-strength rules and their default prefactors (dwave.embedding.chain_strength).
CHAIN_STRENGTH_METHODS: dict[str, float] = {"torque": 1.414, "scaled": 1.0}
_EMBEDDING_METHODS = ("auto", "clique", "heuristic")
_STRIP_NATIVE = ("embedding_parameters", "chain_strength", "chain_break_method", "chain_break_fraction")


def find_token() -> str | None:
    """The D-Wave API token from ``DWAVE_API_TOKEN`` or the dwave-cloud-client config, else ``None``."""
    token = os.environ.get("DWAVE_API_TOKEN")
    if token:
        return token
    try:
        from dwave.cloud.config import load_config

        found = load_config().get("token")
    except Exception:  # a broken config file is the same as none for this check
        return None
    return str(found) if found else None


def chain_strength_function(chain_strength: Any = None, *, prefactor: float | None = None) -> tuple[Any, str]:
    """``(value or callable for dwave-system, method name)`` of a chain-strength choice.

    >>> f, name = chain_strength_function("scaled", prefactor=2.0)
    >>> name, float(f(dimod.BinaryQuadraticModel({"a": -1.5}, {("a", "b"): 0.5}, 0.0, "SPIN"), None))
    ('scaled', 3.0)
    >>> chain_strength_function(2.5)
    (2.5, 'user')
    """
    from dwave.embedding.chain_strength import scaled, uniform_torque_compensation

    if chain_strength is None or isinstance(chain_strength, str):
        method = "torque" if chain_strength is None else chain_strength
        if method not in CHAIN_STRENGTH_METHODS:
            raise InvalidInputError(
                f"chain_strength must be a positive number, 'torque', 'scaled' or a callable, got {chain_strength!r}",
                fix="pass e.g. chain_strength='torque' (the default) or chain_strength=2.0",
            )
        pre = CHAIN_STRENGTH_METHODS[method] if prefactor is None else float(prefactor)
        if not pre > 0:
            raise InvalidInputError(
                f"chain_strength_prefactor must be positive, got {prefactor!r}", fix="pass e.g. 1.0"
            )
        rule = uniform_torque_compensation if method == "torque" else scaled
        return functools.partial(rule, prefactor=pre), method
    if callable(chain_strength):
        return chain_strength, "callable"
    if isinstance(chain_strength, bool) or not isinstance(chain_strength, (int, float, np.integer, np.floating)):
        raise InvalidInputError(
            f"chain_strength must be a positive number, 'torque', 'scaled' or a callable, got {chain_strength!r}",
            fix="pass e.g. chain_strength=2.0",
        )
    if not (np.isfinite(chain_strength) and chain_strength > 0):
        raise InvalidInputError(f"chain_strength must be positive and finite, got {chain_strength!r}")
    return float(chain_strength), "user"


def _integer_labels(bqm: dimod.BinaryQuadraticModel) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """``(qubits [V], couplers [M, 2])`` when every label is an integer, else ``None`` (vectorised)."""
    order = list(bqm.variables)
    labels = np.asarray(order)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        return None
    vectors: Any = bqm.to_numpy_vectors(variable_order=order)
    irow, icol = vectors[1][0], vectors[1][1]
    couplers = np.stack([labels[np.asarray(irow)], labels[np.asarray(icol)]], axis=1).astype(np.int64)
    return labels.astype(np.int64), couplers.reshape(-1, 2)


class _Structure:
    """Working qubits and couplers as sorted integer keys, for vectorised membership tests."""

    def __init__(self, nodes: NDArray[np.int64], edges: NDArray[np.int64]) -> None:
        self.nodes = np.unique(nodes)
        self.size = int(self.nodes.max(initial=-1)) + 1
        lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
        self.keys = np.unique(lo * self.size + hi)

    def missing(self, qubits: NDArray[np.int64], couplers: NDArray[np.int64]) -> tuple[NDArray[Any], NDArray[Any]]:
        """The qubits and couplers of a problem this structure lacks."""
        q_in = np.isin(qubits, self.nodes)
        c = couplers
        lo, hi = np.minimum(c[:, 0], c[:, 1]), np.maximum(c[:, 0], c[:, 1])
        inside = (lo >= 0) & (hi < self.size)
        keys = np.where(inside, lo * self.size + hi, -1)
        c_in = inside & np.isin(keys, self.keys)
        return qubits[~q_in], c[~c_in]


class DWaveBackend(dimod.Sampler):  # type: ignore[misc]
    """A D-Wave QPU sampler: native problems go straight to the chip, logical ones are embedded.

    Args:
        sampler: the structured sampler to run on (``DWaveSampler``, ``MockDWaveSampler``, ...)
            or a ``Target`` read from one (``Target.from_sampler``); no credentials are
            needed then. ``child`` is the older name of this option.
        embedding: a fixed embedding ``{variable: [qubits]}`` for logical problems.
        embedding_method: ``"auto"`` (a cached clique embedding when the problem fits the
            largest clique, else ``find_embedding``), ``"clique"`` or ``"heuristic"``.
        embedding_timeout: seconds for ``minorminer.find_embedding``.
        chain_strength: ``"torque"`` (default), ``"scaled"``, a number or a callable.
        chain_strength_prefactor: prefactor of the named rules (default 1.414 / 1.0).
        on_foreign: what to do with a problem compiled for another graph of the same
            lattice: ``"error"`` (default) or ``"embed"`` it again as a logical problem.
        solver: solver selection passed to ``DWaveSampler`` (e.g. ``{"topology__type": "pegasus"}``).
        **client_options: other ``DWaveSampler`` options (``token``, ``region``, ``profile``...).
    """

    #: Reads (anneals) per problem when none are asked for.
    default_num_reads = 100

    def __init__(
        self,
        *,
        sampler: Any = None,
        child: Any = None,
        embedding: dict[Any, Any] | None = None,
        embedding_method: Literal["auto", "clique", "heuristic"] = "auto",
        embedding_timeout: float = 30.0,
        chain_strength: Any = None,
        chain_strength_prefactor: float | None = None,
        on_foreign: Literal["error", "embed"] = "error",
        solver: Any = None,
        **client_options: Any,
    ) -> None:
        if sampler is not None and child is not None:
            raise InvalidInputError("pass sampler= or child= (the same option), not both", fix="pass sampler=...")
        given = sampler if sampler is not None else child
        if given is not None and hasattr(given, "device_factory"):  # a Target read from a sampler
            device = given.device()
            if device is None:
                raise InvalidInputError(
                    f"target {given.name!r} holds no sampler", fix="pass Target.from_sampler(sampler) or the sampler"
                )
            given = device
        if embedding_method not in _EMBEDDING_METHODS:
            raise InvalidInputError(
                f"embedding_method must be one of {_EMBEDDING_METHODS}, got {embedding_method!r}", fix="pick one"
            )
        if isinstance(embedding_timeout, bool) or not (
            isinstance(embedding_timeout, (int, float)) and embedding_timeout > 0
        ):
            raise InvalidInputError(
                f"embedding_timeout must be a positive number of seconds, got {embedding_timeout!r}", fix="pass e.g. 30"
            )
        if on_foreign not in ("error", "embed"):
            raise InvalidInputError(f"on_foreign must be 'error' or 'embed', got {on_foreign!r}", fix="pick one")
        chain_strength_function(chain_strength, prefactor=chain_strength_prefactor)  # validate now
        if given is None:
            given = self._connect(solver, client_options)
        self.child = given
        self.embedding = None if embedding is None else {v: list(c) for v, c in embedding.items()}
        self.embedding_method = embedding_method
        self.embedding_timeout = float(embedding_timeout)
        self.chain_strength = chain_strength
        self.chain_strength_prefactor = chain_strength_prefactor
        self.on_foreign = on_foreign
        self._lock = threading.Lock()
        self._graph: tuple[Any, str] | None = None
        self._working: _Structure | None = None
        self._ideal: _Structure | None = None

    @staticmethod
    def _connect(solver: Any, client_options: dict[str, Any]) -> Any:
        if not (client_options.get("token") or find_token()):
            raise BackendError(
                "no D-Wave credentials found (no DWAVE_API_TOKEN and no token in the dwave-cloud-client config)",
                fix=_HOW_TO,
                backend="dwave",
            )
        try:
            from dwave.system import DWaveSampler

            return DWaveSampler(**({"solver": solver} if solver is not None else {}), **client_options)
        except Exception as exc:
            raise BackendError(
                f"could not connect to a D-Wave solver: {exc}",
                fix="check the token, network and solver name ('dwave ping' tests the configuration)",
                backend="dwave",
            ) from exc

    # ------------------------------------------------------------------ the device
    def working_graph(self) -> tuple[Any, str]:
        """The solver's frozen working graph and its graph id (built once; see
        :func:`qama_compile.core.graphs.sampler_graph`). ``Target.from_sampler(sampler)`` describes
        the same graph as a compilation target."""
        with self._lock:
            if self._graph is None:
                self._graph = sampler_graph(self.child)
            return self._graph

    @property
    def _name(self) -> str:
        props = getattr(self.child, "properties", None) or {}
        return str(props.get("chip_id") or type(self.child).__name__)

    def _working_structure(self) -> _Structure:
        if self._working is None:
            g, gid = self.working_graph()
            nodes = np.asarray(sorted(g.nodes), dtype=np.int64)
            self._working = _Structure(nodes, edge_array(gid, g))
        return self._working

    def _ideal_structure(self) -> _Structure | None:
        """The solver's ideal lattice (``None`` for a custom graph)."""
        if self._ideal is None:
            topo = (getattr(self.child, "properties", None) or {}).get("topology") or {}
            if topo.get("type") not in ("chimera", "pegasus", "zephyr") or topo.get("shape") is None:
                return None
            g = lattice_graph(topo["type"], topo["shape"])
            nodes = np.fromiter(g.nodes, dtype=np.int64, count=g.number_of_nodes())
            self._ideal = _Structure(nodes, np.asarray(list(g.edges), dtype=np.int64).reshape(-1, 2))
        return self._ideal

    @property
    def parameters(self) -> dict[str, list[Any]]:
        params = dict(getattr(self.child, "parameters", {}) or {})
        params.update({"seed": [], "chain_strength": [], "chain_break_method": [], "num_reads": []})
        return params

    @property
    def properties(self) -> dict[str, Any]:
        child_props = dict(getattr(self.child, "properties", {}) or {})
        num_qubits = len(getattr(self.child, "nodelist", ()) or ()) or int(child_props.get("num_qubits", 0))
        how = "fixed embedding" if self.embedding is not None else f"{self.embedding_method} embedding"
        return {
            "max_variables": num_qubits if self.embedding is None else len(self.embedding),
            "native_graph": child_props.get("topology"),
            "num_qubits": num_qubits,
            "h_range": child_props.get("h_range"),
            "j_range": child_props.get("j_range"),
            "chip_id": child_props.get("chip_id"),
            "description": f"D-Wave QPU via dwave-system: native problems as they are, logical ones by {how} "
            "(busclique clique cache, then minorminer)",
        }

    # ------------------------------------------------------------------ embeddings
    def _embedding(self, bqm: dimod.BinaryQuadraticModel, seed: int | None) -> tuple[dict[Any, list[int]], str]:
        """The embedding of a logical problem and how it was found."""
        if self.embedding is not None:
            return self.embedding, "fixed"
        n = bqm.num_variables
        g, gid = self.working_graph()
        cap = clique_capacity(gid, g) if self.embedding_method in ("auto", "clique") else None
        if self.embedding_method == "clique" and (cap is None or n > cap):
            raise ProblemTooLargeError(
                f"the problem has {n} variables but the largest clique embeddable on {self._name} is K_{cap}",
                fix="use embedding_method='heuristic' or 'auto', or decompose the problem",
                size=n,
                limit=cap,
                unit="clique variables",
            )
        if cap is not None and n <= cap:
            chains = clique_embedding(gid, g, n)
            return {v: list(chains[i]) for i, v in enumerate(bqm.variables)}, "clique"
        import minorminer
        import networkx as nx

        source = nx.Graph()
        source.add_nodes_from(bqm.variables)
        source.add_edges_from(bqm.quadratic)
        found = minorminer.find_embedding(
            source, g, random_seed=0 if seed is None else int(seed), timeout=self.embedding_timeout
        )
        if len(found) != n:
            raise BackendError(
                f"minorminer.find_embedding found no embedding of the {n}-variable, {bqm.num_interactions}-coupler "
                f"problem on {self._name} ({g.number_of_nodes()} working qubits) within {self.embedding_timeout:g} s",
                fix="raise embedding_timeout, reduce the problem (fewer tokens, heads or bits), "
                "or decompose it (solve(..., decompose=True))",
                backend="dwave",
            )
        emb = {v: list(c) for v, c in found.items()}
        return emb, "heuristic"

    def _foreign_error(self, bqm: dimod.BinaryQuadraticModel) -> BackendError | None:
        """A problem compiled for another graph of this lattice: the error to raise, else ``None``."""
        labelled = _integer_labels(bqm)
        ideal = self._ideal_structure()
        if labelled is None or ideal is None:
            return None
        qubits, couplers = labelled
        off_q, off_c = ideal.missing(qubits, couplers)
        if off_q.size or off_c.size:
            return None  # not qubits of this lattice: a logical problem
        miss_q, miss_c = self._working_structure().missing(qubits, couplers)
        show_q = ", ".join(str(int(q)) for q in miss_q[:5]) + (" ..." if miss_q.size > 5 else "")
        show_c = ", ".join(f"({int(a)}, {int(b)})" for a, b in miss_c[:3]) + (" ..." if len(miss_c) > 3 else "")
        return BackendError(
            f"the problem is on qubits of the {self.working_graph()[0].graph.get('family')} lattice but this solver "
            f"({self._name}) lacks {miss_q.size} of its qubits ({show_q or 'none'}) and {len(miss_c)} of its "
            f"couplers ({show_c or 'none'}): it was compiled for another graph (e.g. the ideal 'dwave-advantage')",
            fix="compile for this solver: compile(problem, target=Target.from_sampler(sampler)) or "
            "solve(..., target=Target.from_sampler(sampler)); or pass on_foreign='embed' to embed it again",
            backend="dwave",
            missing_qubits=miss_q.tolist(),
            missing_couplers=[tuple(int(x) for x in c) for c in miss_c.tolist()],
        )

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        num_reads: int | None = None,
        seed: int | None = None,
        chain_strength: Any = None,
        **kwargs: Any,
    ) -> dimod.SampleSet:
        """Sample ``bqm``: natively when it is on working qubits and couplers, else embedded.

        ``seed`` seeds ``find_embedding`` only (a QPU is not reproducible; clique
        embeddings are deterministic). ``info``: ``native``, ``embedding_method``
        (``"native"``, ``"fixed"``, ``"clique"`` or ``"heuristic"``), ``embedding_time_s``
        (finding the embedding, or the native check), ``embedding_qubits``,
        ``max_chain_length``, ``chain_strength`` and ``chain_strength_method`` (logical
        problems), ``chain_break_fraction`` (mean over reads; 0 for native problems, whose
        chains the compiler's decoder resolves), ``hardware_time_s`` (QPU access time) and
        ``wall_time_s``.
        """
        limit = self.properties["max_variables"]
        if self.embedding is None and bqm.num_variables > limit:
            raise ProblemTooLargeError(
                f"the problem has {bqm.num_variables} variables but the QPU has only {limit} qubits",
                fix="decompose the problem or lower fewer tokens or bits",
                size=bqm.num_variables,
                limit=limit,
                unit="qubits",
            )
        options: dict[str, Any] = dict(kwargs)
        if num_reads is not None:
            options["num_reads"] = int(num_reads)
        t_start = time.perf_counter()
        if bqm.num_variables == 0:
            ss = dimod.SampleSet.from_samples_bqm(([[]], []), bqm)
            ss.info.update({"backend": "dwave", "native": True, "embedding_method": "native", "wall_time_s": 0.0})
            return ss
        labelled = _integer_labels(bqm)
        native = False
        if self.embedding is None and labelled is not None:
            miss_q, miss_c = self._working_structure().missing(*labelled)
            native = not (miss_q.size or miss_c.size)
        facts: dict[str, Any]
        if native:
            embed_time = time.perf_counter() - t_start
            for key in _STRIP_NATIVE:
                options.pop(key, None)
            if "auto_scale" in (getattr(self.child, "parameters", None) or {}):
                # compiled problems are already scaled into the solver's ranges (extended J included):
                # the QPU must not rescale them (as DWaveCliqueSampler does for its own scaling)
                options.setdefault("auto_scale", False)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"'auto_scale' parameter is valid for DWaveSampler\(\)")
                ss = self._run(lambda: self.child.sample(bqm, **options), bqm)
            facts = {"embedding_method": "native", "embedding_qubits": bqm.num_variables, "max_chain_length": 1}
        else:
            if self.embedding is None and self.on_foreign == "error":
                error = self._foreign_error(bqm)
                if error is not None:
                    raise error
            embedding, how = self._embedding(bqm, seed)
            strength, method = chain_strength_function(
                self.chain_strength if chain_strength is None else chain_strength,
                prefactor=self.chain_strength_prefactor,
            )
            value = float(strength(bqm, embedding)) if callable(strength) else float(strength)
            from dwave.system import FixedEmbeddingComposite

            composite = FixedEmbeddingComposite(self.child, embedding)
            embed_time = time.perf_counter() - t_start
            options.pop("embedding_parameters", None)
            ss = self._run(lambda: composite.sample(bqm, chain_strength=value, return_embedding=True, **options), bqm)
            lengths = [len(c) for c in embedding.values()]
            facts = {
                "embedding_method": how,
                "embedding_qubits": int(sum(lengths)),
                "max_chain_length": int(max(lengths, default=0)),
                "chain_strength": value,
                "chain_strength_method": method,
            }
        timing = ss.info.get("timing", {})
        cbf = (
            float(np.mean(ss.record.chain_break_fraction))
            if "chain_break_fraction" in ss.record.dtype.names and len(ss)
            else 0.0
        )
        ss.info.update(
            {
                "backend": "dwave",
                "native": native,
                "embedding_time_s": embed_time,
                "chain_break_fraction": cbf,
                "hardware_time_s": float(timing["qpu_access_time"]) * 1e-6 if "qpu_access_time" in timing else None,
                "wall_time_s": time.perf_counter() - t_start,
                **facts,
            }
        )
        return ss

    @staticmethod
    def _run(call: Callable[[], dimod.SampleSet], bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        try:
            ss = call()
            ss.resolve()
        except ValueError as exc:
            raise BackendError(
                f"the D-Wave sampler refused the {bqm.num_variables}-variable problem: {exc}",
                fix="check the sampling options against the solver's parameters",
                backend="dwave",
            ) from exc
        return ss

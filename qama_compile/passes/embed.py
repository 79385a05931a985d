"""Map a logical Ising problem onto a target's qubits: minor-embedding, all-to-all mapping, or identity.

* annealers (sparse graphs): ``minorminer.busclique`` clique embeddings when the problem fits
  the largest clique (deterministic, cached per (graph, size)), else
  ``minorminer.find_embedding`` with a seed; ``dwave.embedding.verify_embedding`` checks every
  result. Each logical field is spread evenly over its chain and each logical coupling evenly
  over the physical couplers between two chains (as ``dwave.embedding.embed_bqm`` does);
  every coupler inside a chain gets ``-chain_strength`` and the offset gains
  ``chain_strength`` per chain coupler, so an intact-chain sample has exactly the logical
  energy. Chain strength: uniform torque compensation
  (``dwave.embedding.chain_strength.uniform_torque_compensation``) per problem, or a value.
* CIMs (all-to-all): spin ``i`` is variable ``i``; without native fields an ancilla spin
  carries ``h_i`` as the coupling ``h_i s_i s_a`` (decoded by the gauge ``s_i * s_a``).
* gate devices / simulators: identity (routing is the transpiler's job).

The pass converts the IR to SPIN and appends the decoders (:class:`ChainEmbedding` or
:class:`AncillaGauge`, then :class:`~qama_compile.passes.base.VartypeChange` first).

>>> import numpy as np
>>> from qama_compile.ir import QuadraticIR
>>> from qama_compile.targets import get_target
>>> from qama_compile.passes.base import PassManager
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1, 0.25], rows=[0, 0, 1], cols=[1, 2, 2], data=[1.0, -2, 0.5])
>>> phys, ctx = PassManager([EmbedPass()]).run(ir, target=get_target("chimera-c16"))
>>> phys.vartype, phys.label_fields, ctx.properties["embedding"]["max_chain_length"] >= 1
('SPIN', ('qubit',), True)
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..core.decode import AncillaGauge, ChainEmbedding, UnembedMethod, VartypeChange
from ..core.ir import QuadraticIR
from ..errors import CompilationError, InvalidInputError, ProblemTooLargeError
from .base import Pass, PassContext

if TYPE_CHECKING:
    import networkx as nx

    from ..targets.target import Target

_BUSCLIQUE_FAMILIES = ("pegasus", "zephyr", "chimera")

_CACHE_LOCK = threading.Lock()
_CLIQUE_CACHE: dict[tuple[str, int, int, int], tuple[tuple[int, ...], ...]] = {}
_CAPACITY_CACHE: dict[tuple[str, int, int], int] = {}
_EDGE_CACHE: dict[tuple[str, int, int], NDArray[np.int64]] = {}


# --------------------------------------------------------------------------- graph helpers
def _graph_key(target: Target, g: nx.Graph) -> tuple[str, int, int]:
    return (target.name, g.number_of_nodes(), g.number_of_edges())


def _busclique_ok(g: nx.Graph) -> bool:
    return g.graph.get("family") in _BUSCLIQUE_FAMILIES


def _require_graph(target: Target) -> nx.Graph:
    g = target.graph()
    if g is None:
        raise CompilationError(f"target {target.name!r} has no qubit graph to embed into", target=target.name)
    return g


def target_edges(target: Target) -> NDArray[np.int64]:
    """The target graph's edges as an ``[M, 2]`` int array (cached)."""
    g = _require_graph(target)
    key = _graph_key(target, g)
    with _CACHE_LOCK:
        if key not in _EDGE_CACHE:
            _EDGE_CACHE[key] = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
        return _EDGE_CACHE[key]


def clique_capacity(target: Target) -> int | None:
    """Size of the largest clique busclique embeds in the target graph (``None`` if not applicable).

    >>> from qama_compile.targets import get_target
    >>> clique_capacity(get_target("chimera-c16"))
    64
    """
    g = target.graph()
    if g is None or not _busclique_ok(g):
        return None
    key = _graph_key(target, g)
    with _CACHE_LOCK:
        if key in _CAPACITY_CACHE:
            return _CAPACITY_CACHE[key]
    import minorminer.busclique as bc

    size = len(bc.busgraph_cache(g).largest_clique())
    with _CACHE_LOCK:
        _CAPACITY_CACHE[key] = size
    return size


def clique_embedding(target: Target, size: int) -> tuple[tuple[int, ...], ...]:
    """A clique embedding of ``K_size`` (chain of variable ``i`` at index ``i``), cached and deterministic."""
    g = _require_graph(target)
    key = (*_graph_key(target, g), int(size))
    with _CACHE_LOCK:
        if key in _CLIQUE_CACHE:
            return _CLIQUE_CACHE[key]
    if _busclique_ok(g):
        import minorminer.busclique as bc

        emb = bc.find_clique_embedding(int(size), g, use_cache=True)
    else:  # a user graph: heuristic clique embedding, fixed seed so it is deterministic
        import minorminer

        k_edges = [(i, j) for i in range(size) for j in range(i + 1, size)]  # the clique itself
        emb = minorminer.find_embedding(k_edges, g, random_seed=0) if size > 1 else {0: [next(iter(g.nodes))]}
    if len(emb) != size:
        cap = clique_capacity(target)
        raise ProblemTooLargeError(
            f"no clique embedding of K_{size} on target {target.name!r}"
            + (f" (largest clique: K_{cap})" if cap else ""),
            fix="reduce the problem (fewer tokens, heads or bits), use method='heuristic', or decompose",
            size=size,
            limit=cap,
            unit="clique variables",
        )
    chains = tuple(tuple(int(q) for q in emb[i]) for i in range(size))
    with _CACHE_LOCK:
        _CLIQUE_CACHE[key] = chains
    return chains


def logical_edges(ir: QuadraticIR) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Couplers non-zero in some problem of the batch: ``rows``, ``cols`` (``rows < cols``), ``data [B, E]``."""
    flat = ir.flatten()
    keep = np.any(flat.data != 0, axis=0)
    return flat.rows[keep], flat.cols[keep], flat.data[:, keep]


# --------------------------------------------------------------------------- chain strength
def torque_chain_strength(ir: QuadraticIR, *, prefactor: float = 1.414) -> NDArray[np.float64]:
    """Uniform torque compensation per problem of a SPIN IR (``dwave.embedding.chain_strength``)."""
    import dimod
    from dwave.embedding.chain_strength import uniform_torque_compensation

    out = np.empty(ir.batch_size)
    for b in range(ir.batch_size):  # one library call per problem (B is small; V is not looped)
        r, c, d = ir.coo(b)
        bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(ir.linear[b], (r, c, d), 0.0, dimod.SPIN)
        out[b] = uniform_torque_compensation(bqm, prefactor=prefactor)
    return out


def embed_ir(
    spin: QuadraticIR,
    chains: list[NDArray[np.int64]] | tuple[tuple[int, ...], ...],
    target: Target,
    chain_strength: NDArray[np.float64],
) -> tuple[QuadraticIR, NDArray[np.int64], NDArray[np.int64], int]:
    """The physical SPIN IR of ``spin`` under ``chains``; returns ``(ir, qubits, chain_of, chain_couplers)``.

    Vectorised over qubits and couplers: no Python loop over variables or couplings.
    """
    v = spin.num_variables
    lengths = np.array([len(ch) for ch in chains], dtype=np.int64)
    qubits = np.concatenate([np.asarray(ch, dtype=np.int64) for ch in chains]) if v else np.zeros(0, np.int64)
    chain_of = np.repeat(np.arange(v, dtype=np.int64), lengths)
    edges = target_edges(target)
    order_q = np.argsort(qubits)
    sorted_q = qubits[order_q]
    slot = np.minimum(np.searchsorted(sorted_q, edges), max(sorted_q.size - 1, 0))
    used = (sorted_q[slot] == edges).all(axis=1) if sorted_q.size else np.zeros(len(edges), dtype=bool)
    pe = order_q[slot[used]]  # physical index of both ends of every coupler inside the embedding
    lu, lv = chain_of[pe[:, 0]], chain_of[pe[:, 1]]
    intra = lu == lv
    # couplers inside chains
    cr, cc = pe[intra, 0], pe[intra, 1]
    # couplers between chains that carry a logical coupling, shared evenly
    lr, lc, ld = logical_edges(spin)
    key_log = lr * v + lc
    order = np.argsort(key_log)
    key_sorted = key_log[order]
    a, b = np.minimum(lu[~intra], lv[~intra]), np.maximum(lu[~intra], lv[~intra])
    key_phys = a * v + b
    idx = np.searchsorted(key_sorted, key_phys)
    idx_clip = np.minimum(idx, max(key_sorted.size - 1, 0))
    hit = (idx < key_sorted.size) & (key_sorted[idx_clip] == key_phys) if key_sorted.size else np.zeros(0, bool)
    which = order[idx_clip[hit]]  # logical coupler index of each used physical coupler
    count = np.bincount(which, minlength=key_log.size)
    if np.any(count == 0):
        missing = int(np.flatnonzero(count == 0)[0])
        raise CompilationError(
            f"embedding has no physical coupler for logical coupling ({lr[missing]}, {lc[missing]})",
            fix="report this: the embedding should have been rejected by verify_embedding",
        )
    ir_rows = np.concatenate([pe[~intra][hit, 0], cr])
    ir_cols = np.concatenate([pe[~intra][hit, 1], cc])
    bsz = spin.batch_size
    inter_data = ld[:, which] / count[which]
    chain_data = np.broadcast_to(-chain_strength[:, None], (bsz, cr.size))
    data = np.concatenate([inter_data, chain_data], axis=1)
    linear = spin.linear[:, chain_of] / lengths[chain_of]
    offset = spin.offset + chain_strength * cr.size
    phys = QuadraticIR.from_coo(
        linear=linear,
        rows=ir_rows,
        cols=ir_cols,
        data=data,
        offset=offset,
        vartype="SPIN",
        labels=qubits.reshape(-1, 1),
        label_fields=("qubit",),
        meta={**spin.meta, "physical": True, "target": target.name},
    )
    return phys, qubits, chain_of, int(cr.size)


# --------------------------------------------------------------------------- the pass
@dataclass(frozen=True)
class EmbedPass(Pass):
    """Map the (logical) IR onto the target's qubits. Options (``None`` = from the context options):

    Args:
        method: ``"auto"`` (clique if it fits the largest clique, else heuristic), ``"clique"``
            or ``"heuristic"`` (``minorminer.find_embedding``).
        chain_strength: a number (or ``[B]``) or ``None`` for uniform torque compensation.
        prefactor: the torque-compensation prefactor.
        unembed: ``"majority"``, ``"discard"`` or ``"weighted_random"``.
        seed: for ``find_embedding`` and weighted-random unembedding.
        timeout: seconds for ``find_embedding``.
    """

    name: ClassVar[str] = "embed"
    method: Literal["auto", "clique", "heuristic"] | None = None
    chain_strength: float | None = None
    prefactor: float = 1.414
    unembed: UnembedMethod | None = None
    seed: int | None = None
    timeout: float | None = None

    def _opt(self, context: PassContext, key: str, default: Any) -> Any:
        own = getattr(self, key)
        return own if own is not None else context.option(key, default)

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        target = context.target
        spin = ir.to_spin()
        if ir.vartype != "SPIN":
            context.decoders.append(VartypeChange(source=ir.vartype, target="SPIN"))
        if target is None:
            context.report(details={"mapping": "none (no target)"})
            return spin
        v = spin.num_variables
        if target.kind == "annealer":
            return self._embed(spin, target, context)
        needs_ancilla = target.kind == "cim" and not target.native_fields and bool(np.any(spin.linear != 0))
        need = v + int(needs_ancilla)
        if need > target.num_qubits:
            raise ProblemTooLargeError(
                f"problem needs {need} {'spins' if target.kind == 'cim' else 'qubits'} "
                f"({v} variables{' + 1 ancilla for the fields' if needs_ancilla else ''}); "
                f"target {target.name!r} has {target.num_qubits}",
                fix="use fewer tokens, heads or bits, a larger target, or decompose",
                size=need,
                limit=target.num_qubits,
                unit="qubits",
            )
        if needs_ancilla:
            phys = QuadraticIR(
                vartype="SPIN",
                linear=np.zeros((spin.batch_size, v + 1)),
                offset=spin.offset,
                blocks=spin.blocks,
                rows=np.concatenate([spin.rows, np.arange(v)]),
                cols=np.concatenate([spin.cols, np.full(v, v)]),
                data=np.concatenate([spin.data, spin.linear], axis=1),
                labels=np.arange(v + 1).reshape(-1, 1),
                label_fields=("qubit",),
                meta={**spin.meta, "physical": True, "target": target.name},
            )
            context.decoders.append(AncillaGauge(ancilla=v))
        else:
            phys = dataclasses.replace(
                spin,
                labels=np.arange(v).reshape(-1, 1),
                label_fields=("qubit",),
                meta={**spin.meta, "physical": True, "target": target.name},
            )
        facts = {
            "mapping": "ancilla" if needs_ancilla else "identity",
            "qubits": phys.num_variables,
            "max_chain_length": 1,
            "mean_chain_length": 1.0,
            "utilisation": phys.num_variables / max(target.num_qubits, 1),
        }
        context.properties["embedding"] = facts
        context.report(details=facts, qubits=phys.num_variables)
        return phys

    def _embed(self, spin: QuadraticIR, target: Target, context: PassContext) -> QuadraticIR:
        import networkx as nx
        from dwave.embedding import verify_embedding
        from dwave.embedding.exceptions import EmbeddingError

        v = spin.num_variables
        method = self._opt(context, "method", "auto")
        seed = self._opt(context, "seed", None)
        g = _require_graph(target)
        if v > target.num_qubits:
            raise ProblemTooLargeError(
                f"problem has {v} variables; target {target.name!r} has {target.num_qubits} qubits",
                fix="use fewer tokens, heads or bits, or decompose",
                size=v,
                limit=target.num_qubits,
                unit="qubits",
            )
        if v == 0:  # e.g. every variable fixed by reduction
            context.decoders.append(
                ChainEmbedding(qubits=np.zeros(0, np.int64), chain_of=np.zeros(0, np.int64), num_logical=0)
            )
            context.properties["embedding"] = {
                "mapping": "empty",
                "qubits": 0,
                "max_chain_length": 0,
                "mean_chain_length": 0.0,
                "utilisation": 0.0,
            }
            return QuadraticIR(
                vartype="SPIN",
                linear=spin.linear,
                offset=spin.offset,
                blocks=np.zeros((spin.batch_size, 0, 0, 0)),
                rows=spin.rows,
                cols=spin.cols,
                data=spin.data,
                labels=np.zeros((0, 1), dtype=np.int64),
                label_fields=("qubit",),
                meta={**spin.meta, "physical": True, "target": target.name},
            )
        lr, lc, _ = logical_edges(spin)
        cap = clique_capacity(target)
        if method == "auto":
            method = "clique" if (cap is not None and v <= cap) or (cap is None and v <= 16) else "heuristic"
        if method == "clique":
            if cap is not None and v > cap:
                raise ProblemTooLargeError(
                    f"problem has {v} variables but the largest clique embeddable on {target.name!r} is K_{cap} "
                    f"({lr.size} logical couplers)",
                    fix="use method='heuristic' (find_embedding), fewer tokens/heads/bits, or decompose",
                    size=v,
                    limit=cap,
                    unit="clique variables",
                )
            chains: Any = clique_embedding(target, v)
        elif method == "heuristic":
            import minorminer

            timeout = float(self._opt(context, "timeout", 60.0))
            source = nx.Graph()
            source.add_nodes_from(range(v))
            source.add_edges_from(zip(lr.tolist(), lc.tolist(), strict=True))
            emb = minorminer.find_embedding(
                source,
                g,
                random_seed=0 if seed is None else int(seed),
                timeout=timeout,
            )
            if len(emb) < v:
                raise ProblemTooLargeError(
                    f"minorminer.find_embedding found no embedding of {v} variables / {lr.size} couplers "
                    f"on {target.name!r} ({target.num_qubits} qubits) within {timeout:g} s",
                    fix="raise timeout, reduce the problem, or decompose",
                    size=v,
                    limit=target.num_qubits,
                    unit="qubits",
                )
            chains = [emb[i] for i in range(v)]
        else:
            raise InvalidInputError(f"embedding method must be auto, clique or heuristic, got {method!r}")
        emb_dict = {i: tuple(ch) for i, ch in enumerate(chains)}
        try:
            verify_embedding(emb_dict, list(zip(lr.tolist(), lc.tolist(), strict=True)), g)
        except EmbeddingError as exc:
            raise CompilationError(f"invalid embedding on {target.name!r}: {exc}", fix="report this bug") from exc
        # chains sorted within themselves for a canonical physical order
        chains = [np.sort(np.asarray(ch, dtype=np.int64)) for ch in chains]
        user_cs = self._opt(context, "chain_strength", None)
        if user_cs is None:
            cs = torque_chain_strength(spin, prefactor=self.prefactor)
            cs_source = f"uniform torque compensation (prefactor {self.prefactor})"
        else:
            cs = np.broadcast_to(np.asarray(user_cs, dtype=np.float64), (spin.batch_size,)).copy()
            cs_source = "user"
        phys, qubits, chain_of, n_chain_couplers = embed_ir(spin, chains, target, cs)
        lengths = np.bincount(chain_of, minlength=v)
        unembed = self._opt(context, "unembed", "majority")
        context.decoders.append(
            ChainEmbedding(qubits=qubits, chain_of=chain_of, num_logical=v, method=unembed, seed=seed)
        )
        facts = {
            "mapping": f"minor-embedding ({method})",
            "qubits": int(qubits.size),
            "max_chain_length": int(lengths.max(initial=0)),
            "mean_chain_length": float(lengths.mean()) if v else 0.0,
            "chain_couplers": n_chain_couplers,
            "utilisation": qubits.size / max(target.num_qubits, 1),
            "chain_strength": cs.tolist(),
            "chain_strength_source": cs_source,
            "clique_capacity": cap,
            "unembed": unembed,
            "verified": True,
        }
        context.properties["embedding"] = facts
        context.report(details=facts, qubits=int(qubits.size))
        return phys

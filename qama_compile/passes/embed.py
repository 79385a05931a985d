"""Map a logical Ising problem onto a target's qubits: minor-embedding, all-to-all mapping, or identity.

* annealers (sparse graphs): a clique embedding from the target (``minorminer.busclique``,
  deterministic, cached per graph) when the problem fits the largest clique, else
  ``minorminer.find_embedding`` with a seed; ``dwave.embedding.verify_embedding`` checks every
  result. Each logical field is spread evenly over its chain and each logical coupling evenly
  over the physical couplers between two chains (as ``dwave.embedding.embed_bqm`` does);
  every coupler inside a chain gets ``-chain_strength`` and the offset gains
  ``chain_strength`` per chain coupler, so an intact-chain sample has exactly the logical
  energy. Chain strength: uniform torque compensation
  (``dwave.embedding.chain_strength.uniform_torque_compensation``) per problem, or a value.
* CIMs (all-to-all): spin ``i`` is variable ``i``; when the target needs an ancilla
  (:meth:`~qama_compile.targets.Target.needs_ancilla`) an extra spin carries ``h_i`` as the
  coupling ``h_i s_i s_a`` (decoded by the gauge ``s_i * s_a``).
* gate devices / simulators: identity (routing is the transpiler's job).

The pass converts the IR to SPIN, appends the decoders (:class:`~qama_compile.core.decode.ChainEmbedding`
or :class:`~qama_compile.core.decode.AncillaGauge`, after a
:class:`~qama_compile.core.decode.VartypeChange`) and adds an
:class:`~qama_compile.passes.reports.EmbeddingReport`.

>>> import numpy as np
>>> from qama_compile.ir import QuadraticIR
>>> from qama_compile.targets import get_target
>>> from qama_compile.passes.base import PassManager
>>> ir = QuadraticIR.from_coo(linear=[0.5, -1, 0.25], rows=[0, 0, 1], cols=[1, 2, 2], data=[1.0, -2, 0.5])
>>> phys, ctx = PassManager([EmbedPass()]).run(ir, target=get_target("chimera-c16"))
>>> phys.vartype, phys.label_fields, ctx.get(EmbeddingReport).max_chain_length >= 1
('SPIN', ('qubit',), True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..core.decode import AncillaGauge, ChainEmbedding, UnembedMethod, VartypeChange
from ..core.ir import QuadraticIR
from ..errors import CompilationError, ProblemTooLargeError
from .base import Pass, PassContext, TargetLike
from .options import ChainStrengthRule, EmbeddingMethod
from .reports import EmbeddingReport

__all__ = [
    "EmbedPass",
    "embed_ir",
    "logical_edges",
    "scaled_chain_strength",
    "torque_chain_strength",
    "with_field_ancillas",
]


def logical_edges(ir: QuadraticIR) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Couplers non-zero in some problem of the batch: ``rows``, ``cols`` (``rows < cols``), ``data [B, E]``."""
    flat = ir.flatten()
    keep = np.any(flat.data != 0, axis=0)
    return flat.rows[keep], flat.cols[keep], flat.data[:, keep]


def _physical_meta(spin: QuadraticIR, target: TargetLike) -> dict[str, Any]:
    return {**spin.meta, "physical": True, "target": target.name, "graph_id": target.graph_id}


def with_field_ancillas(spin: QuadraticIR, count: int, *, meta: dict[str, Any] | None = None) -> QuadraticIR:
    """``spin`` with its fields moved onto ``count`` ancilla spins (the last ``count`` variables).

    Field ``h_i`` becomes the coupling ``(h_i / count) s_i s_a`` to every ancilla ``a``. For
    any logical state ``s`` the best ancilla setting is all ``s_a = -sign(h . s)`` (they
    share one local field), which gives ``-|h . s| + E_J(s)``: the same minimum as one
    ancilla, and the logical state is ``s * s_a`` (the gauge). Splitting the fields over
    ``count`` spins divides the largest field coupler by ``count``, so the problem's scale
    on a fixed coupler range grows by up to ``count`` (precision for the other couplers).

    >>> ir = QuadraticIR.from_coo(linear=[[4.0, -2.0]], rows=[0], cols=[1], data=[[1.0]], vartype="SPIN")
    >>> out = with_field_ancillas(ir, 2)
    >>> out.num_variables, out.linear.tolist(), sorted(out.coo(0)[2].tolist())
    (4, [[0.0, 0.0, 0.0, 0.0]], [-1.0, -1.0, 1.0, 2.0, 2.0])
    """
    v, k = spin.num_variables, int(count)
    anc = np.repeat(np.arange(v, v + k), v)
    var = np.tile(np.arange(v), k)
    return QuadraticIR._owned(
        vartype="SPIN",
        linear=np.zeros((spin.batch_size, v + k)),
        offset=spin.offset,
        blocks=spin.blocks,
        rows=np.concatenate([spin.rows, var]),
        cols=np.concatenate([spin.cols, anc]),
        data=np.concatenate([spin.data, np.tile(spin.linear / k, (1, k))], axis=1),
        labels=np.arange(v + k).reshape(-1, 1),
        label_fields=("qubit",),
        meta=dict(spin.meta if meta is None else meta),
    )


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


def scaled_chain_strength(ir: QuadraticIR, *, prefactor: float = 1.0) -> NDArray[np.float64]:
    """The largest ``|h|`` or ``|J|`` per problem of a SPIN IR times ``prefactor``.

    As ``dwave.embedding.chain_strength.scaled`` (called per problem).

    >>> ir = QuadraticIR.from_coo(linear=[[0.5, -3.0]], rows=[0], cols=[1], data=[[2.0]], vartype="SPIN")
    >>> scaled_chain_strength(ir, prefactor=2.0).tolist()
    [6.0]
    """
    import dimod
    from dwave.embedding.chain_strength import scaled

    out = np.empty(ir.batch_size)
    for b in range(ir.batch_size):  # one library call per problem (B is small; V is not looped)
        r, c, d = ir.coo(b)
        bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(ir.linear[b], (r, c, d), 0.0, dimod.SPIN)
        out[b] = scaled(bqm, prefactor=prefactor)
    return out


def embed_ir(
    spin: QuadraticIR,
    chains: list[NDArray[np.int64]] | tuple[tuple[int, ...], ...],
    target: TargetLike,
    chain_strength: NDArray[np.float64],
) -> tuple[QuadraticIR, NDArray[np.int64], NDArray[np.int64], int]:
    """The physical SPIN IR of ``spin`` under ``chains``; returns ``(ir, qubits, chain_of, chain_couplers)``.

    Vectorised over qubits and couplers: no Python loop over variables or couplings.
    """
    v = spin.num_variables
    lengths = np.array([len(ch) for ch in chains], dtype=np.int64)
    qubits = np.concatenate([np.asarray(ch, dtype=np.int64) for ch in chains]) if v else np.zeros(0, np.int64)
    chain_of = np.repeat(np.arange(v, dtype=np.int64), lengths)
    edges = target.edge_array()
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
        meta=_physical_meta(spin, target),
    )
    return phys, qubits, chain_of, int(cr.size)


# --------------------------------------------------------------------------- the pass
@dataclass(frozen=True)
class EmbedPass(Pass):
    """Map the (logical) IR onto the target's qubits. ``None`` options come from ``context.options``.

    Args:
        method: ``"auto"`` (clique if it fits the largest clique, else heuristic), ``"clique"``
            or ``"heuristic"`` (``minorminer.find_embedding``); option ``embedding``.
        chain_strength: a number, ``"torque"``, ``"scaled"`` or ``None``; option ``chain_strength``.
        prefactor: the prefactor of the named rule; option ``chain_strength_prefactor``.
        unembed: ``"majority"``, ``"discard"`` or ``"weighted_random"``; option ``unembed``.
    """

    name: ClassVar[str] = "embed"
    method: EmbeddingMethod | None = None
    chain_strength: float | ChainStrengthRule | None = None
    prefactor: float | None = None
    unembed: UnembedMethod | None = None

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        target = context.target
        spin = ir.to_spin()
        if ir.vartype != "SPIN":
            context.decoders.append(VartypeChange(source=ir.vartype, target="SPIN"))
        if target is None:
            return spin
        if target.kind == "annealer":
            return self._embed(spin, target, context)
        v = spin.num_variables
        ancillas = target.field_ancillas(spin, requested=context.options.field_ancillas)
        need = v + ancillas
        if need > target.num_qubits:
            raise ProblemTooLargeError(
                f"problem needs {need} {'spins' if target.kind == 'cim' else 'qubits'} "
                f"({v} variables{f' + {ancillas} ancilla spin(s) for the fields' if ancillas else ''}); "
                f"target {target.name!r} has {target.num_qubits}",
                fix="use fewer tokens, heads or bits, a larger target, or decompose",
                size=need,
                limit=target.num_qubits,
                unit="qubits",
            )
        ancilla = ancillas > 0
        if ancilla:
            phys = with_field_ancillas(spin, ancillas, meta=_physical_meta(spin, target))
            context.decoders.append(AncillaGauge(ancilla=v, count=ancillas))
        else:
            phys = dataclasses.replace(
                spin,
                labels=np.arange(v).reshape(-1, 1),
                label_fields=("qubit",),
                meta=_physical_meta(spin, target),
            )
        context.add(
            EmbeddingReport(
                mapping="ancilla" if ancilla else "identity",
                qubits=phys.num_variables,
                max_chain_length=1,
                mean_chain_length=1.0,
                utilisation=phys.num_variables / max(target.num_qubits, 1),
                ancilla=ancilla,
                field_ancillas=ancillas,
            )
        )
        return phys

    def _embed(self, spin: QuadraticIR, target: TargetLike, context: PassContext) -> QuadraticIR:
        import networkx as nx
        from dwave.embedding import verify_embedding
        from dwave.embedding.exceptions import EmbeddingError

        opts = context.options
        v = spin.num_variables
        method = self.method or opts.embedding
        g = target.graph()
        if g is None:
            raise CompilationError(f"target {target.name!r} has no qubit graph to embed into", target=target.name)
        if v > target.num_qubits:
            raise ProblemTooLargeError(
                f"problem has {v} variables; target {target.name!r} has {target.num_qubits} qubits",
                fix="use fewer tokens, heads or bits, or decompose",
                size=v,
                limit=target.num_qubits,
                unit="qubits",
            )
        unembed = self.unembed or opts.unembed
        if v == 0:  # e.g. every variable fixed by reduction
            context.decoders.append(
                ChainEmbedding(qubits=np.zeros(0, np.int64), chain_of=np.zeros(0, np.int64), num_logical=0)
            )
            context.add(
                EmbeddingReport(mapping="empty", qubits=0, max_chain_length=0, mean_chain_length=0.0, utilisation=0.0)
            )
            return QuadraticIR._owned(
                vartype="SPIN",
                linear=spin.linear,
                offset=spin.offset,
                blocks=np.zeros((spin.batch_size, 0, 0, 0)),
                rows=spin.rows,
                cols=spin.cols,
                data=spin.data,
                labels=np.zeros((0, 1), dtype=np.int64),
                label_fields=("qubit",),
                meta=_physical_meta(spin, target),
            )
        lr, lc, _ = logical_edges(spin)
        cap = target.largest_clique()
        if method == "auto":
            method = "clique" if (cap is not None and v <= cap) or (cap is None and v <= 16) else "heuristic"
        if method == "clique":
            if cap is not None and v > cap:
                raise ProblemTooLargeError(
                    f"problem has {v} variables but the largest clique embeddable on {target.name!r} is K_{cap} "
                    f"({lr.size} logical couplers)",
                    fix="use embedding='heuristic' (find_embedding), fewer tokens/heads/bits, or decompose",
                    size=v,
                    limit=cap,
                    unit="clique variables",
                )
            chains: Any = target.clique_embedding(v)
        else:
            import minorminer

            source = nx.Graph()
            source.add_nodes_from(range(v))
            source.add_edges_from(zip(lr.tolist(), lc.tolist(), strict=True))
            emb = minorminer.find_embedding(
                source, g, random_seed=0 if opts.seed is None else int(opts.seed), timeout=float(opts.timeout)
            )
            if len(emb) < v:
                raise ProblemTooLargeError(
                    f"minorminer.find_embedding found no embedding of {v} variables / {lr.size} couplers "
                    f"on {target.name!r} ({target.num_qubits} qubits) within {opts.timeout:g} s",
                    fix="raise timeout, reduce the problem, or decompose",
                    size=v,
                    limit=target.num_qubits,
                    unit="qubits",
                )
            chains = [emb[i] for i in range(v)]
        emb_dict = {i: tuple(ch) for i, ch in enumerate(chains)}
        try:
            verify_embedding(emb_dict, list(zip(lr.tolist(), lc.tolist(), strict=True)), g)
        except EmbeddingError as exc:
            raise CompilationError(f"invalid embedding on {target.name!r}: {exc}", fix="report this bug") from exc
        chains = [np.sort(np.asarray(ch, dtype=np.int64)) for ch in chains]  # canonical physical order
        if self.chain_strength is not None:
            opts = dataclasses.replace(opts, chain_strength=self.chain_strength)
        if self.prefactor is not None:
            opts = dataclasses.replace(opts, chain_strength_prefactor=self.prefactor)
        user_cs = opts.chain_strengths(spin.batch_size)
        if user_cs is None:
            prefactor = opts.prefactor()
            if opts.chain_strength_rule == "scaled":
                cs = scaled_chain_strength(spin, prefactor=prefactor)
                cs_source = f"scaled to the largest |h|, |J| (prefactor {prefactor:g})"
            else:
                cs = torque_chain_strength(spin, prefactor=prefactor)
                cs_source = f"uniform torque compensation (prefactor {prefactor:g})"
        else:
            cs = np.asarray(user_cs, dtype=np.float64)
            cs_source = "user"
        phys, qubits, chain_of, n_chain_couplers = embed_ir(spin, chains, target, cs)
        lengths = np.bincount(chain_of, minlength=v)
        context.decoders.append(
            ChainEmbedding(qubits=qubits, chain_of=chain_of, num_logical=v, method=unembed, seed=opts.seed)
        )
        context.add(
            EmbeddingReport(
                mapping=f"minor-embedding ({method})",
                qubits=int(qubits.size),
                max_chain_length=int(lengths.max(initial=0)),
                mean_chain_length=float(lengths.mean()),
                utilisation=qubits.size / max(target.num_qubits, 1),
                chain_couplers=n_chain_couplers,
                chain_strength=tuple(float(c) for c in cs),
                chain_strength_source=cs_source,
                clique_capacity=cap,
                unembed=unembed,
            )
        )
        return phys

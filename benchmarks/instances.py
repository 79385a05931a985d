"""Benchmark instances: the families of issue 15, reproducible from seeds.

Every instance is a batch of ``B`` Ising problems in dimod's convention::

    E_b(s) = offset_b + sum_i h_bi s_i + sum_{i<j} J_bij s_i s_j,   s in {-1, +1}^n

held as a :class:`qama_compile.QuadraticIR` in SPIN form (``ir``: what our ``cim`` backend and
the toolkit consume) plus one ``dimod.BinaryQuadraticModel`` per problem with integer labels
``0..n-1`` (``bqms``: the reference every solver's samples are re-scored with, and what the
dimod peers consume). Both are built once, outside any timing.

Families (``--quick`` uses the small ones):

* ``sk-N``: dense Sherrington-Kirkpatrick, ``J_ij = +-1`` for every pair, ``h = 0``.
* ``maxcut-800``: sparse max-cut like G-set G1: ``networkx.gnm_random_graph(800, 19176,
  seed)`` (the size and edge count of G1, which rudy generates as a random graph of density
  6 %), weight +1 on every edge; minimising ``sum_{ij in E} s_i s_j`` maximises the cut
  ``(|E| - E) / 2``. It is *like* G1, not G1: the published G1 optimum does not apply.
* ``torus-50``: 2D 50 x 50 toroidal grid, ``J = +-1`` on the 5000 nearest-neighbour bonds.
* ``qama-std-V`` / ``qama-raw-V``: one QAMA problem lowered from seeded random ``q, k, v``
  (``N(0, 1)``, head dimension 16, 4 bits) with ``normalize="standardise"`` or without
  normalisation, ``V = H * N * 4`` variables.
* ``qama-batch-BxV``: ``B`` standardised QAMA problems of ``V`` variables in one IR.

Seeds: every benchmark instance uses ``seed = BENCH_SEED + a per-family offset``; the tuning
script (``tune_cim.py``) draws its training and held-out instances from the same families
with seeds ``TRAIN_SEED + k`` and ``HELDOUT_SEED + k``, never these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

from qama_compile import QuadraticIR, lower_attention

BENCH_SEED = 15_000
TRAIN_SEED = 25_000
HELDOUT_SEED = 35_000
G1_NODES, G1_EDGES = 800, 19_176


@dataclass(eq=False)
class Instance:
    """A batch of Ising problems (SPIN IR + dimod BQMs) and its best-known energies."""

    name: str
    family: str  # "sk", "sparse", "qama", "qama-batch"
    ir: QuadraticIR
    description: str
    meta: dict[str, Any] = field(default_factory=dict)
    best_known: NDArray[np.float64] | None = None  # [B]
    _bqms: list[dimod.BinaryQuadraticModel] | None = None
    _dense: NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        return self.ir.num_variables

    @property
    def batch(self) -> int:
        return self.ir.batch_size

    @property
    def dense_ok(self) -> bool:
        """Whether a dense ``[n, n]`` form per problem is reasonable (dense-only peers)."""
        return self.family in ("sk", "qama") and self.n <= 4096

    @property
    def bqms(self) -> list[dimod.BinaryQuadraticModel]:
        """One SPIN BQM per problem, labels ``0..n-1``."""
        if self._bqms is None:
            out = []
            for b in range(self.batch):
                r, c, d = self.ir.coo(b)
                out.append(
                    dimod.BinaryQuadraticModel.from_numpy_vectors(
                        self.ir.linear[b], (r, c, d), float(self.ir.offset[b]), vartype=dimod.SPIN
                    )
                )
            self._bqms = out
        return self._bqms

    def dense_upper(self, b: int = 0) -> NDArray[np.float64]:
        """Strictly upper-triangular ``J`` of problem ``b`` (dense peers)."""
        return self.ir.dense_matrix(b)

    def energies(self, spins: NDArray[Any]) -> NDArray[np.float64]:
        """dimod's energies ``[B, R]`` of spins ``[B, R, n]`` (the reference)."""
        s = np.asarray(spins, dtype=np.int8)
        out = np.stack([bqm.energies((s[b], range(self.n))) for b, bqm in enumerate(self.bqms)])
        return np.asarray(out, dtype=np.float64)

    def energies_ir(self, spins: NDArray[Any]) -> NDArray[np.float64]:
        """The same energies from the IR (an independent check of the dimod path)."""
        return self.ir.energies(np.asarray(spins, dtype=np.int8))


def _spin_ir_from_upper(h: NDArray[np.float64], rows: Any, cols: Any, data: Any) -> QuadraticIR:
    return QuadraticIR.from_coo(linear=h[None], rows=rows, cols=cols, data=np.asarray(data)[None], vartype="SPIN")


def sk_instance(n: int, seed: int) -> Instance:
    """Dense SK: ``J_ij = +-1`` with equal probability for all ``i < j``, ``h = 0``."""
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, 1)
    data = rng.choice(np.array([-1.0, 1.0]), size=iu.size)
    ir = _spin_ir_from_upper(np.zeros(n), iu, ju, data)
    return Instance(f"sk-{n}", "sk", ir, f"dense SK, n={n}, J=+-1, seed={seed}", {"seed": seed})


def maxcut_instance(seed: int, nodes: int = G1_NODES, edges: int = G1_EDGES) -> Instance:
    """Max-cut on ``networkx.gnm_random_graph(nodes, edges, seed)`` with unit weights (G1-like)."""
    import networkx as nx

    g = nx.gnm_random_graph(nodes, edges, seed=seed)
    e = np.array(sorted((min(u, v), max(u, v)) for u, v in g.edges()), dtype=np.int64)
    ir = _spin_ir_from_upper(np.zeros(nodes), e[:, 0], e[:, 1], np.ones(len(e)))
    desc = f"max-cut, networkx gnm_random_graph({nodes}, {edges}, seed={seed}), unit weights (G1-like)"
    return Instance(f"maxcut-{nodes}", "sparse", ir, desc, {"seed": seed, "edges": len(e)})


def torus_instance(side: int, seed: int) -> Instance:
    """``side x side`` periodic grid, ``J = +-1`` on each nearest-neighbour bond, ``h = 0``."""
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx.ravel(), idx.ravel()])
    b = np.concatenate([np.roll(idx, -1, 0).ravel(), np.roll(idx, -1, 1).ravel()])
    data = rng.choice(np.array([-1.0, 1.0]), size=a.size)
    ir = _spin_ir_from_upper(np.zeros(side * side), np.minimum(a, b), np.maximum(a, b), data)
    desc = f"{side}x{side} toroidal grid, J=+-1 on {a.size} bonds, seed={seed}"
    return Instance(f"torus-{side}", "sparse", ir, desc, {"seed": seed})


def qama_ir(batch: int, heads: int, tokens: int, seed: int, *, normalize: str | None, bits: int = 4) -> QuadraticIR:
    """The SPIN IR of ``batch`` QAMA problems lowered from seeded ``N(0, 1)`` tensors (d = 16).

    ``precision="float64"`` (exact to rounding) keeps the instances, and so the best-known
    energies fingerprinted against them, independent of the default precision.
    """
    q, k, v = np.random.default_rng(seed).normal(size=(3, batch, heads, tokens, 16))
    return lower_attention(q, k, v, bits=bits, normalize=normalize, precision="float64").ir.to_spin()


def qama_instance(heads: int, tokens: int, seed: int, *, normalize: str | None) -> Instance:
    ir = qama_ir(1, heads, tokens, seed, normalize=normalize)
    kind = "std" if normalize else "raw"
    desc = f"QAMA H={heads}, N={tokens}, 4 bits, random q,k,v (seed {seed}), normalize={normalize or 'none'}"
    meta = {"seed": seed, "heads": heads, "tokens": tokens, "normalize": normalize or "none"}
    return Instance(f"qama-{kind}-{ir.num_variables}", "qama", ir, desc, meta)


def qama_batch_instance(batch: int, heads: int, tokens: int, seed: int) -> Instance:
    ir = qama_ir(batch, heads, tokens, seed, normalize="standardise")
    desc = f"{batch} standardised QAMA problems, H={heads}, N={tokens}, 4 bits, random q,k,v (seed {seed})"
    meta = {"seed": seed, "heads": heads, "tokens": tokens, "normalize": "standardise"}
    return Instance(f"qama-batch-{batch}x{ir.num_variables}", "qama-batch", ir, desc, meta)


#: name -> builder(seed); the order is the order of the report.
FAMILIES: dict[str, Any] = {
    "qama-std-1024": lambda s: qama_instance(4, 64, s + 1, normalize="standardise"),
    "qama-std-2048": lambda s: qama_instance(8, 64, s + 2, normalize="standardise"),
    "qama-std-4096": lambda s: qama_instance(8, 128, s + 3, normalize="standardise"),
    "qama-raw-1024": lambda s: qama_instance(4, 64, s + 4, normalize=None),
    "qama-raw-4096": lambda s: qama_instance(8, 128, s + 5, normalize=None),
    "qama-batch-64x64": lambda s: qama_batch_instance(64, 2, 8, s + 6),
    "qama-batch-64x512": lambda s: qama_batch_instance(64, 4, 32, s + 7),
    "maxcut-800": lambda s: maxcut_instance(s + 8),
    "torus-50": lambda s: torus_instance(50, s + 9),
    "sk-512": lambda s: sk_instance(512, s + 10),
    "sk-2000": lambda s: sk_instance(2000, s + 11),
}
QUICK = ("qama-std-1024", "qama-batch-64x64", "maxcut-800", "sk-512")


def build_instances(*, quick: bool, seed: int = BENCH_SEED, only: list[str] | None = None) -> list[Instance]:
    """The benchmark set (``quick``: one instance per kind, the small ones)."""
    names = [n for n in FAMILIES if not quick or n in QUICK]
    if only:
        names = [n for n in names if any(k in n for k in only)]
    return [FAMILIES[n](seed) for n in names]

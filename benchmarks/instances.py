"""Benchmark instances: QAMA problems from real MiniLM tensors and dense SK spin glasses.

Every instance is an Ising problem in dimod's convention::

    E(s) = offset + sum_i h_i s_i + sum_{i<j} J_ij s_i s_j,   s in {-1, +1}^n

held as dense numpy arrays (``J`` strictly upper triangular) plus the matching
``dimod.BinaryQuadraticModel`` (SPIN), which is the reference every solver's samples are
re-scored with. The target is the exact ground energy where the problem is small enough to
enumerate (``qama_backends.exact.ExactSampler``), else it is set later to the best energy any
solver found in the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

import qama_compile
from qama_compile.datasets import load_example

EXACT_LIMIT = 26  # enumerate up to this many spins (2^26 states: seconds)


@dataclass(eq=False)
class Instance:
    """One Ising problem (dimod convention) and what we know about its optimum."""

    name: str
    family: str  # "sk" or "qama"
    h: NDArray[np.float64]  # [n]
    J: NDArray[np.float64]  # [n, n], strictly upper triangular
    offset: float
    description: str
    target: float | None = None
    target_kind: str = "best found in run"  # or "exact (enumerated)"
    meta: dict[str, Any] = field(default_factory=dict)
    _bqm: dimod.BinaryQuadraticModel | None = None

    @property
    def n(self) -> int:
        return int(self.h.size)

    @property
    def has_field(self) -> bool:
        return bool(np.any(self.h != 0))

    @property
    def bqm(self) -> dimod.BinaryQuadraticModel:
        """The SPIN BQM (labels 0..n-1): the reference for every energy."""
        if self._bqm is None:
            rows, cols = np.nonzero(self.J)
            self._bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
                self.h, (rows, cols, self.J[rows, cols]), self.offset, dimod.SPIN
            )
        return self._bqm

    def energies(self, spins: NDArray[Any]) -> NDArray[np.float64]:
        """Energies of spin rows ``[S, n]`` (entries -1/+1), computed by dimod."""
        s = np.asarray(spins)
        if s.ndim != 2 or s.shape[1] != self.n or not np.all(np.abs(s) == 1):
            raise ValueError(f"{self.name}: expected [S, {self.n}] spins in {{-1, +1}}, got shape {s.shape}")
        out: NDArray[np.float64] = np.asarray(self.bqm.energies((s.astype(np.int8), range(self.n))), dtype=np.float64)
        return out

    def energies_numpy(self, spins: NDArray[Any]) -> NDArray[np.float64]:
        """The same energies with numpy (an independent check of the dimod path)."""
        s = np.asarray(spins, dtype=np.float64)
        out: NDArray[np.float64] = self.offset + s @ self.h + np.einsum("si,ij,sj->s", s, self.J, s)
        return out

    def solve_exact(self) -> None:
        """Set the target to the enumerated ground energy (n <= EXACT_LIMIT)."""
        from qama_backends.exact import ExactSampler

        ss = ExactSampler(max_variables=EXACT_LIMIT).sample(self.bqm, num_reads=1)
        self.target = float(ss.first.energy)
        self.target_kind = "exact (enumerated)"


def sk_instance(n: int, seed: int) -> Instance:
    """Dense Sherrington-Kirkpatrick: J_ij = +-1 with equal probability for all i < j, h = 0."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.choice(np.array([-1.0, 1.0]), size=(n, n)), k=1)
    return Instance(
        name=f"sk-{n}",
        family="sk",
        h=np.zeros(n),
        J=upper,
        offset=0.0,
        description=f"dense SK, n={n}, J=+-1, seed={seed}",
        meta={"seed": seed},
    )


def qama_instance(name: str, *, sentence: int, layer: int, heads: list[int] | int, tokens: int, bits: int) -> Instance:
    """A QAMA problem lowered from the shipped MiniLM-L6 tensors, in its exact Ising form."""
    ex = load_example(sentence=sentence, layer=layer, heads=heads, tokens=tokens)
    problem = qama_compile.lower_attention(ex.q, ex.k, ex.v, bits=bits)
    spin = problem.ir.to_spin()
    J = spin.dense_matrix(0)
    h = np.array(spin.linear[0], dtype=np.float64)
    inst = Instance(
        name=name,
        family="qama",
        h=h,
        J=J,
        offset=float(spin.offset[0]),
        description=(
            f"MiniLM-L6 sentence {sentence}, layer {layer}, heads {list(ex.heads)}, {tokens} tokens, "
            f"bits={bits}: {h.size} spins"
        ),
        meta={"sentence": sentence, "layer": layer, "heads": list(ex.heads), "tokens": tokens, "bits": bits},
    )
    # The Ising arrays must give the QUBO's energy for every assignment: check on random ones.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(32, h.size))
    e_qubo = problem.energies(x)[0]
    e_ising = inst.energies(2 * x - 1)
    if not np.allclose(e_qubo, e_ising, rtol=1e-9, atol=1e-9):
        raise AssertionError(f"{name}: Ising form disagrees with the QUBO")
    return inst


_QAMA_SPECS: list[dict[str, Any]] = [
    # enumerable: exact targets
    {"name": "qama-L0-h2-t3-b4", "sentence": 0, "layer": 0, "heads": [0, 1], "tokens": 3, "bits": 4},
    {"name": "qama-L3-h2-t6-b2", "sentence": 1, "layer": 3, "heads": [2, 5], "tokens": 6, "bits": 2},
    # larger: best found in the run
    {"name": "qama-L2-h4-t10-b3", "sentence": 2, "layer": 2, "heads": 4, "tokens": 10, "bits": 3},
    {"name": "qama-L5-h12-t10-b4", "sentence": 3, "layer": 5, "heads": 12, "tokens": 10, "bits": 4},
]


def build_instances(*, quick: bool, seed: int) -> list[Instance]:
    """The benchmark set. ``quick`` keeps the small ones (SK 64 and 256, two QAMA problems)."""
    sk_sizes = [64, 256] if quick else [64, 256, 1024]
    out = [sk_instance(n, seed + n) for n in sk_sizes]
    qama_specs = list(_QAMA_SPECS)
    if quick:
        qama_specs = [qama_specs[0], qama_specs[2]]
    for spec in qama_specs:
        out.append(qama_instance(**spec))
    for inst in out:
        if inst.n <= EXACT_LIMIT:
            inst.solve_exact()
    return out


def instance_by_name(name: str, *, seed: int) -> Instance:
    """Rebuild one instance of :func:`build_instances` by name (for subprocess probes)."""
    if name.startswith("sk-"):
        n = int(name.split("-", 1)[1])
        return sk_instance(n, seed + n)
    for spec in _QAMA_SPECS:
        if spec["name"] == name:
            inst = qama_instance(**spec)
            if inst.n <= EXACT_LIMIT:
                inst.solve_exact()
            return inst
    raise KeyError(f"unknown instance {name!r}")

"""An independent, loop-based implementation of docs/hamiltonian.md, for tests only."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.distance import jensenshannon


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def design_energy(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    x: np.ndarray,
    *,
    bits: int,
    alpha: float = 1.0,
    beta: float = 1.0,
    penalty: float = 2.0,
    eps: float = 1e-8,
) -> float:
    """E(x) for one problem: q, k, v are [H, N, d]; x is the flat binary vector (t, i, r)."""
    h_heads, n, _ = q.shape
    xs = np.asarray(x, dtype=float).reshape(h_heads, n, bits)
    c = [2.0**r / (2.0**bits - 1) for r in range(bits)]
    w = np.array([[sum(c[r] * xs[t, i, r] for r in range(bits)) for i in range(n)] for t in range(h_heads)])
    energy = 0.0
    for t in range(h_heads):
        for i in range(n):
            total = v[t, i].sum() + eps
            p = np.clip(v[t, i] / total, eps, 1.0)
            h_ti = -float(np.sum(p * np.log2(p)))
            energy -= beta * h_ti * w[t, i]
            for j in range(n):
                js = jensenshannon(_softmax(q[t, i]), _softmax(k[t, j]), base=2) ** 2
                energy -= alpha * js * w[t, i] * w[t, j]
    pairs = h_heads * (h_heads - 1) // 2
    for t, u in itertools.combinations(range(h_heads), 2):
        energy += penalty / pairs * float(np.sum(xs[t] * xs[u]))
    return energy

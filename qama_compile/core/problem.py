"""A batch of QAMA problems of one shape: the IR plus the attention facts behind it.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> rng = np.random.default_rng(1)
>>> problem = lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=1)
>>> x = np.ones((1, problem.ir.num_variables), dtype=np.int8)
>>> w = problem.weights(x)            # [B, S, H, N]
>>> w.shape, float(w.max())
((1, 1, 2, 3), 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInputError
from .hamiltonian import bit_weights
from .ir import QuadraticIR
from .summary import ir_summary, qama_summary

if TYPE_CHECKING:
    import dimod
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_optimization import QuadraticProgram


@dataclass(frozen=True, eq=False)
class AttentionProblem:
    """``B`` QAMA problems: the BINARY IR, the couplings ``J``, fields ``h`` and the model's
    softmax attention (for comparison), and the lowering parameters."""

    ir: QuadraticIR
    couplings: NDArray[np.float64]  # [B, H, N, N]
    fields: NDArray[np.float64]  # [B, H, N]
    attention: NDArray[np.float64]  # [B, H, N, N] softmax(q k^T / sqrt d)
    bits: int
    alpha: float = 1.0
    beta: float = 1.0
    penalty: float = 2.0
    normalize: str = "none"

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(B, H, N, bits)``."""
        b, h, n = self.fields.shape
        return (b, h, n, self.bits)

    @property
    def batch_size(self) -> int:
        return self.shape[0]

    @property
    def num_heads(self) -> int:
        return self.shape[1]

    @property
    def num_tokens(self) -> int:
        return self.shape[2]

    def select(self, indices: ArrayLike) -> AttentionProblem:
        """The sub-batch ``indices``."""
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        return AttentionProblem(
            ir=self.ir.select(idx),
            couplings=self.couplings[idx],
            fields=self.fields[idx],
            attention=self.attention[idx],
            bits=self.bits,
            alpha=self.alpha,
            beta=self.beta,
            penalty=self.penalty,
            normalize=self.normalize,
        )

    # ------------------------------------------------------------------ energy and decoding
    def energies(self, samples: ArrayLike) -> NDArray[np.float64]:
        """Energies ``[B, S]`` of binary samples ``[S, V]`` or ``[B, S, V]``."""
        return self.ir.energies(samples)

    def weights(self, samples: ArrayLike) -> NDArray[np.float64]:
        """Token weights ``w [B, S, H, N]`` in [0, 1] of binary samples ``[S, V]`` / ``[B, S, V]``."""
        b, h, n, q = self.shape
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[None]
        if x.ndim == 2:
            x = np.broadcast_to(x, (b, *x.shape))
        if x.ndim != 3 or x.shape[0] != b or x.shape[2] != h * n * q:
            raise InvalidInputError(
                f"samples must be [S, {h * n * q}] or [{b}, S, {h * n * q}], got {np.shape(samples)}"
            )
        if np.any((x != 0) & (x != 1)):
            raise InvalidInputError("samples must be binary (0/1)", fix="convert spins with (s + 1) // 2")
        out: NDArray[np.float64] = x.reshape(b, x.shape[1], h, n, q) @ bit_weights(q)
        return out

    @staticmethod
    def masks(weights: ArrayLike) -> NDArray[np.float64]:
        """Pairwise masks ``M[..., i, j] = w_i w_j`` from token weights ``[..., N]``."""
        w = np.asarray(weights, dtype=np.float64)
        out: NDArray[np.float64] = w[..., :, None] * w[..., None, :]
        return out

    def reference_energy(self, samples: ArrayLike) -> NDArray[np.float64]:
        """Energies ``[B, S]`` straight from the docs/hamiltonian.md formula (independent of the IR)."""
        b, h, n, q = self.shape
        x = np.asarray(samples, dtype=np.float64)
        x = np.broadcast_to(x if x.ndim == 3 else x[None], (b, *x.shape[-2:]))
        w = self.weights(x)  # [B, S, H, N]
        e_j = -self.alpha * np.einsum("bshi,bhij,bshj->bs", w, self.couplings, w)
        e_h = -self.beta * np.einsum("bshi,bhi->bs", w, self.fields)
        pairs = h * (h - 1) // 2
        e_p = np.zeros_like(e_j)
        if pairs:
            xs = x.reshape(b, x.shape[1], h, n * q)
            total = xs.sum(axis=2)  # sum_{t<t'} x_t x_t' = ((sum x)^2 - sum x^2) / 2, x^2 = x
            e_p = self.penalty / pairs * ((total**2 - total) / 2).sum(axis=-1)
        out: NDArray[np.float64] = e_j + e_h + e_p
        return out

    # ------------------------------------------------------------------ conversions
    def to_bqm(self, index: int = 0, *, vartype: str = "BINARY") -> dimod.BinaryQuadraticModel:
        """Problem ``index`` as a dimod BQM labelled ``(head, token, bit)``."""
        from .convert import ir_to_bqm

        return ir_to_bqm(self.ir, index, vartype=vartype)

    def to_quadratic_program(self, index: int = 0) -> QuadraticProgram:
        """Problem ``index`` as a qiskit-optimization ``QuadraticProgram`` (minimise)."""
        from .convert import ir_to_quadratic_program

        return ir_to_quadratic_program(self.ir, index)

    def to_pauli(self, index: int = 0) -> tuple[SparsePauliOp, float]:
        """Problem ``index`` as ``(SparsePauliOp, offset)``; variable ``k`` is qubit ``k``, ``x = (1 - Z) / 2``."""
        from .convert import ir_to_pauli

        return ir_to_pauli(self.ir, index)

    def qubo_matrix(self, index: int = 0) -> tuple[NDArray[np.float64], float]:
        """Dense upper-triangular QUBO ``Q`` (linear on the diagonal) and offset: ``E = x^T Q x + c``."""
        from .convert import ir_to_qubo_matrix

        return ir_to_qubo_matrix(self.ir, index)

    def summary(self) -> dict[str, Any]:
        """Counts as docs/hamiltonian.md states them: variables H*N*q, per-head and penalty couplers,
        density, dynamic range, memory, and the lowering parameters (see :func:`problem_summary`)."""
        _, h, n, q = self.shape
        out = qama_summary(self.ir, heads=h, tokens=n, bits=q)
        out.update(alpha=self.alpha, beta=self.beta, penalty=self.penalty, normalize=self.normalize)
        return out


def problem_summary(problem: AttentionProblem | QuadraticIR) -> dict[str, Any]:
    """Everything ``qama inspect`` prints, as a flat JSON-friendly dict (a bare IR gets :func:`ir_summary`).

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> p = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 8)), bits=2)
    >>> problem_summary(p)["variables_formula"], problem_summary(p.ir)["variables"]
    ('H*N*q = 2*4*2 = 16', 16)
    """
    if isinstance(problem, AttentionProblem):
        return problem.summary()
    if isinstance(problem, QuadraticIR):
        return ir_summary(problem)
    raise InvalidInputError(
        f"problem_summary takes an AttentionProblem or QuadraticIR, got {type(problem).__name__}",
        fix="build one with qama_compile.lower_attention(q, k, v)",
    )

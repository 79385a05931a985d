"""The couplings of ``B`` Ising problems in the structure they come with: dense, blocks + sparse, or sparse.

An Ising problem here is ``E(s) = h.s + s^T J s / 2`` with ``J`` symmetric and zero on the
diagonal (dimod's sign convention; ``J_ij`` is the coupling of the pair). :class:`Couplings`
keeps ``J`` as the sum of up to two parts, so that the product ``x @ J`` that every step of
the dynamics needs costs what the structure costs, not ``V^2``:

* ``dense``: ``[B, V, V]`` (SK-like problems);
* ``blocks``: ``[B, G, n, n]`` dense blocks on the diagonal (variables ``g*n .. g*n+n-1``),
  kept as the IR's strictly upper triangles: a QAMA problem's heads, multiplied block by
  block (``H``-fold less work than the full ``V x V`` product);
* ``sparse``: a CSR matrix of the pattern every problem shares, with per-problem values
  (a QAMA head penalty, a sparse graph, an embedded physical problem). When it is
  ``P_b kron I_n`` (QAMA's head penalty) the product is ``O(V H)`` sums instead.

The float64 parts are the reference (exact energies, polish fields without the fast path);
:meth:`Couplings.operator` builds the float32 product for the dynamics (rescaled per problem,
then moved to torch if wanted), and :func:`spectral_bounds` estimates the ends of each
``J_b``'s spectrum with it.

>>> import numpy as np
>>> J = np.array([[[0.0, 1.0, 0.0], [1.0, 0.0, -2.0], [0.0, -2.0, 0.0]]])
>>> c = Couplings.from_dense(np.zeros((1, 3)), J)
>>> c.energies(np.array([[[1, 1, 1], [1, -1, -1]]])).tolist()
[[-1.0, -3.0]]
>>> Couplings.from_dense(np.zeros((1, 3)), J, sparse=True).kind
'sparse'
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .cim_arrays import ArrayOps, NumpyOps

__all__ = ["SPARSE_DENSITY", "CouplingOperator", "Couplings", "spectral_bounds"]

F64 = NDArray[np.float64]
#: A coupling matrix with at most this fraction of non-zeros is multiplied as CSR.
SPARSE_DENSITY = 0.1
_EXACT_WORK = 1 << 21  # B * V^3 up to which the spectrum comes from a full eigendecomposition


@dataclass(frozen=True, eq=False)
class Couplings:
    """``h`` and the parts of ``J`` for ``B`` problems over ``V`` spins (see the module docstring).

    Attributes:
        h: fields ``[B, V]`` (float64).
        dense: ``[B, V, V]`` symmetric or ``None``.
        blocks: ``[B, G, n, n]`` strictly upper-triangular blocks ``U`` or ``None``; block ``g``
            of ``J`` is ``block_factor * (U_g + U_g^T)``. Kept as given (an IR's own array, no
            copy): the symmetric float32 blocks are only built for the dynamics.
        block_factor: see ``blocks`` (``1/4`` for the blocks of a BINARY IR in spin form).
        sparse: CSR ``[V, V]`` symmetric pattern (values of problem 0) or ``None``.
        sparse_values: ``[B, nnz]`` values per problem in ``sparse.data`` order, or ``None``
            when every problem has the values of ``sparse``.
    """

    h: F64
    dense: F64 | None = None
    blocks: F64 | None = None
    block_factor: float = 1.0
    sparse: sp.csr_matrix | None = None
    sparse_values: F64 | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dense(cls, h: F64, J: F64, *, sparse: bool | None = None) -> Couplings:
        """From a symmetric ``J [B, V, V]``; CSR when ``sparse`` (``None``: density <= 10 %)."""
        v = h.shape[1]
        if sparse is None:
            sparse = v > 1 and bool(np.count_nonzero(J) <= SPARSE_DENSITY * J.size)
        if not sparse:
            return cls(h=h, dense=J)
        rows, cols = np.nonzero(np.triu(np.any(J != 0, axis=0), 1))
        return cls.from_upper_coo(h, rows, cols, J[:, rows, cols])

    @classmethod
    def from_sparse(cls, h: F64, J: Any) -> Couplings:
        """From one scipy.sparse symmetric ``J [V, V]`` (``B = 1``)."""
        m = sp.csr_matrix(J, dtype=np.float64)
        m.sum_duplicates()
        m.sort_indices()
        return cls(h=h, sparse=m)

    @classmethod
    def from_upper_coo(
        cls,
        h: F64,
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        data: F64,
        *,
        blocks_upper: F64 | None = None,
        block_factor: float = 1.0,
        dense: bool = False,
    ) -> Couplings:
        """From strictly upper-triangular COO couplings shared by the batch (``data [B, E]``)
        and optional strictly upper-triangular dense blocks ``[B, G, n, n]`` (times
        ``block_factor``): the layout of a :class:`~qama_compile.ir.QuadraticIR`. Built without
        any ``V x V`` intermediate unless ``dense``."""
        b, v = h.shape
        blocks = blocks_upper if blocks_upper is not None and blocks_upper.shape[1] else None
        if dense:
            J = np.zeros((b, v, v))
            if blocks is not None:
                g, n = blocks.shape[1], blocks.shape[2]
                for k in range(g):  # G heads: a short loop of block copies
                    sl = slice(k * n, (k + 1) * n)
                    J[:, sl, sl] = blocks[:, k] + np.swapaxes(blocks[:, k], -1, -2)
                    J[:, sl, sl] *= block_factor
            if rows.size:
                J[:, rows, cols] += data
                J[:, cols, rows] += data
            return cls(h=h, dense=J)
        if not rows.size:
            return cls(h=h, blocks=blocks, block_factor=block_factor)
        # symmetric CSR of the shared pattern; entries (r, c) then (c, r), duplicates summed
        r2 = np.concatenate([rows, cols])
        c2 = np.concatenate([cols, rows])
        key = r2 * v + c2
        order = np.argsort(key, kind="stable")
        uniq, first = np.unique(key[order], return_index=True)
        d2 = np.concatenate([data, data], axis=1)[:, order]
        values = np.add.reduceat(d2, first, axis=1) if d2.shape[1] else d2
        counts = np.bincount(uniq // v, minlength=v)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        pattern = sp.csr_matrix((values[0].copy(), (uniq % v).astype(np.int32), indptr), shape=(v, v))
        same = b == 1 or bool(np.all(values == values[:1]))
        return cls(
            h=h, blocks=blocks, block_factor=block_factor, sparse=pattern, sparse_values=None if same else values
        )

    # ----------------------------------------------------------------- facts
    @property
    def batch_size(self) -> int:
        return int(self.h.shape[0])

    @property
    def num_variables(self) -> int:
        return int(self.h.shape[1])

    @property
    def kind(self) -> str:
        """``"dense"``, ``"blocks"``, ``"blocks+sparse"``, ``"sparse"`` or ``"none"``."""
        if self.dense is not None:
            return "dense"
        parts = [p for p, ok in (("blocks", self.blocks is not None), ("sparse", self.sparse is not None)) if ok]
        return "+".join(parts) or "none"

    def select(self, part: slice) -> Couplings:
        """The problems ``part`` of the batch (views, no copies)."""
        return Couplings(
            h=self.h[part],
            dense=None if self.dense is None else self.dense[part],
            blocks=None if self.blocks is None else self.blocks[part],
            block_factor=self.block_factor,
            sparse=self.sparse,
            sparse_values=None if self.sparse_values is None else self.sparse_values[part],
        )

    @functools.cached_property
    def kron(self) -> tuple[F64, bool] | None:
        """The sparse part as ``P_b kron I_n`` if it has that form (see :func:`_kron`)."""
        return _kron(self)

    def _sparse_of(self, b: int) -> sp.csr_matrix:
        assert self.sparse is not None
        if self.sparse_values is None:
            return self.sparse
        m = self.sparse.copy()
        m.data = self.sparse_values[b].copy()
        return m

    # ----------------------------------------------------------------- float64 reference products
    def apply(self, s: NDArray[Any]) -> F64:
        """``s @ J`` in float64 for ``s [B, R, V]``."""
        x = np.asarray(s, dtype=np.float64)
        b, r, v = x.shape
        out = np.zeros((b, r, v))
        if self.dense is not None:
            np.matmul(x, self.dense, out=out)
        if self.blocks is not None:
            g, n = self.blocks.shape[1], self.blocks.shape[2]
            xb = x[:, :, : g * n].reshape(b, r, g, n).transpose(0, 2, 1, 3)
            # x (U + U^T): two products with the triangle, no symmetric copy
            prod = np.matmul(xb, self.blocks) + np.matmul(xb, np.swapaxes(self.blocks, -1, -2))
            out[:, :, : g * n] += self.block_factor * prod.transpose(0, 2, 1, 3).reshape(b, r, g * n)
        if self.sparse is not None:
            if self.sparse_values is None:
                out += (self.sparse @ x.reshape(b * r, v).T).T.reshape(b, r, v)
            else:
                for i in range(b):  # per-problem values: one CSR product per problem
                    out[i] += (self._sparse_of(i) @ x[i].T).T
        return out

    def energies(self, s: NDArray[Any]) -> F64:
        """``E = h.s + s^T J s / 2`` in float64, ``[B, R]`` for spins ``[B, R, V]`` (one product
        with each block's triangle: ``s^T (U + U^T) s / 2 = s^T U s``)."""
        x = np.asarray(s, dtype=np.float64)
        b, r = x.shape[:2]
        out: F64 = np.einsum("brv,bv->br", x, self.h)
        rest = Couplings(h=self.h, dense=self.dense, sparse=self.sparse, sparse_values=self.sparse_values)
        if self.dense is not None or self.sparse is not None:
            out += 0.5 * np.einsum("brv,brv->br", x, rest.apply(x))
        if self.blocks is not None:
            g, n = self.blocks.shape[1], self.blocks.shape[2]
            xb = x[:, :, : g * n].reshape(b, r, g, n).transpose(0, 2, 1, 3)  # [B, G, R, n]
            out += self.block_factor * np.einsum("bgrn,bgrn->br", xb, np.matmul(xb, self.blocks))
        return out

    def add_rows(
        self,
        field: F64,
        ki: NDArray[np.intp],
        bi: NDArray[np.intp],
        vi: NDArray[np.intp],
        coef: F64,
        *,
        block_rows: tuple[Any, F64] | None = None,
    ) -> None:
        """``field[ki, :] += coef * J[bi, vi, :]`` for ``field [K, V]`` with distinct rows ``ki``.

        ``block_rows``: the symmetric blocks ``S`` and a factor per problem with
        ``J_block = factor * S`` (the dynamics' float32 copy): contiguous rows instead of a
        strided column of ``U`` (faster on large blocks, float32-accurate)."""
        if self.dense is not None:
            field[ki] += coef[:, None] * self.dense[bi, vi]
        if self.blocks is not None:
            g, n = self.blocks.shape[1], self.blocks.shape[2]
            inside = vi < g * n
            k_in, b_in, v_in, c_in = ki[inside], bi[inside], vi[inside], coef[inside]
            gi, li = v_in // n, v_in % n
            cols = gi[:, None] * n + np.arange(n)[None, :]
            if block_rows is not None:
                sym, factor = block_rows
                field[k_in[:, None], cols] += (factor[b_in] * c_in)[:, None] * sym[b_in, gi, li]
            else:
                row = self.blocks[b_in, gi, li, :] + self.blocks[b_in, gi, :, li]  # row of U + U^T
                field[k_in[:, None], cols] += (self.block_factor * c_in)[:, None] * row
        if self.sparse is not None and self.kron is not None:  # row of P kron I: one entry per block
            p = self.kron[0]  # [B, K, K]
            k = p.shape[1]
            n = self.num_variables // k
            ti, mi = vi // n, vi % n
            cols = np.arange(k)[None, :] * n + mi[:, None]
            field[ki[:, None], cols] += coef[:, None] * p[bi, ti]
        elif self.sparse is not None:
            ptr, idx = self.sparse.indptr, self.sparse.indices
            starts = ptr[vi]
            lengths = ptr[vi + 1] - starts
            total = int(lengths.sum())
            if total == 0:
                return
            owner = np.repeat(np.arange(vi.size), lengths)
            flat = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + starts[owner]
            vals = self.sparse.data[flat] if self.sparse_values is None else self.sparse_values[bi[owner], flat]
            # rows ki are distinct and a CSR row has distinct columns: no repeated targets
            field[ki[owner], idx[flat]] += coef[owner] * vals

    # ----------------------------------------------------------------- float32 product for the dynamics
    def operator(self) -> CouplingOperator:
        """The float32 product ``x @ J_b`` on numpy (rescale it, then move it with ``.to(ops)``)."""
        return CouplingOperator(self)


def spectral_bounds(op: CouplingOperator, *, steps: int = 12, seed: int = 0) -> tuple[F64, F64]:
    """Estimates of the smallest and largest eigenvalue of every ``J_b``: ``steps`` Lanczos
    steps on one random vector per problem (all problems at once). Ritz values approach the
    extremes from inside; after 12 steps they are within about 3 % on the problems tried
    (dense SK n = 2000, sparse graphs, QAMA), after 20 within 1 %.

    >>> J = np.diag([1.0, 1.0], 1) + np.diag([1.0, 1.0], -1)      # path of 3 spins: 0, +-sqrt(2)
    >>> lo, hi = spectral_bounds(Couplings.from_dense(np.zeros((1, 3)), J[None]).operator())
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (-1.4142, 1.4142)
    """
    b, v = op.b, op.v
    k = max(1, min(steps, v))
    if v == 0 or b == 0:
        return np.zeros(b), np.zeros(b)
    if op.dense is not None and not op.torch and b * v**3 <= _EXACT_WORK:  # small: exact is cheaper
        ev = np.linalg.eigvalsh(op.dense)
        return np.minimum(ev[:, 0].astype(np.float64), 0.0), np.maximum(ev[:, -1].astype(np.float64), 0.0)
    q = np.random.default_rng(seed).standard_normal((b, 1, v)).astype(np.float32)
    q /= np.sqrt(np.einsum("brv,brv->br", q, q))[..., None]
    q_prev = np.zeros_like(q)
    alpha = np.zeros((k, b))
    beta = np.zeros((k, b))
    w = np.empty_like(q)
    for j in range(k):
        op(q, w)
        a = np.einsum("brv,brv->b", w, q)
        alpha[j] = a
        w -= a[:, None, None].astype(np.float32) * q
        if j:
            w -= beta[j - 1][:, None, None].astype(np.float32) * q_prev
        nrm = np.sqrt(np.einsum("brv,brv->b", w, w, dtype=np.float64))
        beta[j] = nrm
        if j == k - 1:
            break
        # an exhausted Krylov space (nrm ~ 0) continues with q = 0: a decoupled zero Ritz value
        inv = np.where(nrm > 1e-5 * (np.abs(alpha[: j + 1]).max(axis=0) + 1e-30), 1.0 / np.maximum(nrm, 1e-30), 0.0)
        q_prev, q, w = q, w * inv.astype(np.float32)[:, None, None], q_prev
    t = np.zeros((b, k, k))
    idx = np.arange(k)
    t[:, idx, idx] = alpha.T
    t[:, idx[:-1], idx[1:]] = t[:, idx[1:], idx[:-1]] = beta[: k - 1].T
    ev = np.linalg.eigvalsh(t)
    return np.minimum(ev[:, 0], 0.0), np.maximum(ev[:, -1], 0.0)


class CouplingOperator:
    """``out = x @ J_b`` for ``x [B, R, V]`` float32 with the parts of :class:`Couplings`;
    :meth:`rescale` multiplies ``J_b`` by a factor per problem, :meth:`to` moves it to torch."""

    def __init__(self, couplings: Couplings) -> None:
        c = couplings
        self.ops: ArrayOps = NumpyOps()
        self.torch = False
        self.b, self.v = c.h.shape
        self.dense: Any = None if c.dense is None else c.dense.astype(np.float32)
        self.blocks: Any = None
        self.g = self.n = 0
        if c.blocks is not None:
            self.g, self.n = c.blocks.shape[1], c.blocks.shape[2]
            self.blocks = np.empty(c.blocks.shape, dtype=np.float32)
            np.add(c.blocks, np.swapaxes(c.blocks, -1, -2), out=self.blocks, casting="same_kind")
            if c.block_factor != 1.0:
                self.blocks *= np.float32(c.block_factor)
        self.sparse: Any = None
        self.shared = True
        self.sparse_factor: Any = None  # per-problem factor applied after a shared sparse product
        self.kron: Any = None  # a position-wise coupling between blocks (QAMA's head penalty), see _kron
        self.kron_uniform = False
        kron = c.kron if c.sparse is not None else None
        if kron is not None:
            self.kron, self.kron_uniform = kron[0].astype(np.float32), kron[1]
        elif c.sparse is not None:
            if c.sparse_values is None:
                self.sparse = sp.csr_matrix(c.sparse, dtype=np.float32)
            else:
                self.sparse = _block_diagonal(c.sparse, c.sparse_values)
                self.shared = False

    def rescale(self, factor: F64) -> CouplingOperator:
        """Multiply every ``J_b`` by ``factor[b]`` in place (numpy only; before :meth:`to`)."""
        f = np.asarray(factor, dtype=np.float64).reshape(self.b)
        f32 = f.astype(np.float32)
        if self.dense is not None:
            self.dense *= f32[:, None, None]
        if self.blocks is not None:
            self.blocks *= f32[:, None, None, None]
        if self.kron is not None:
            self.kron = self.kron * f32[:, None, None]
        if self.sparse is not None:
            if not self.shared:
                self.sparse.data.reshape(self.b, -1)[...] *= f32[:, None]
            elif np.all(f == f[0]):
                self.sparse.data *= f32[0]
            else:
                self.sparse_factor = f32[:, None, None]
        return self

    def to(self, ops: ArrayOps) -> CouplingOperator:
        """This operator with its arrays on ``ops``' device (itself for numpy)."""
        if ops.name == "numpy":
            return self
        out = CouplingOperator.__new__(CouplingOperator)
        out.__dict__.update(self.__dict__)
        out.ops, out.torch = ops, True
        out.dense = None if self.dense is None else ops.asarray(self.dense)
        out.blocks = None if self.blocks is None else ops.asarray(self.blocks)
        out.sparse = None if self.sparse is None else _torch_csr(ops, self.sparse)
        out.sparse_factor = None if self.sparse_factor is None else ops.asarray(self.sparse_factor)
        out.kron = None if self.kron is None else ops.asarray(self.kron)
        return out

    def __call__(self, x: Any, out: Any) -> Any:
        b, v = self.b, self.v
        r = x.shape[1]
        wrote = False
        if self.dense is not None:
            if self.torch:
                self.ops.torch.matmul(x, self.dense, out=out)  # type: ignore[attr-defined]
            else:
                np.matmul(x, self.dense, out=out)
            wrote = True
        if self.blocks is not None:
            g, n = self.g, self.n
            if self.torch:
                xb = x[:, :, : g * n].reshape(b, r, g, n).transpose(1, 2)
                prod = self.ops.torch.matmul(xb, self.blocks).transpose(1, 2).reshape(b, r, g * n)  # type: ignore[attr-defined]
                out[:, :, : g * n] = prod
            else:  # strided views: one BLAS call per (problem, block), no copies
                xv = x[:, :, : g * n].reshape(b, r, g, n).transpose(0, 2, 1, 3)
                ov = out[:, :, : g * n].reshape(b, r, g, n).transpose(0, 2, 1, 3)
                np.matmul(xv, self.blocks, out=ov)
            if g * n < v:
                out[:, :, g * n :] = 0
            wrote = True
        if self.kron is not None:
            self._kron_product(x, out)
        if self.sparse is not None:
            if self.shared:  # S symmetric: x @ S = (S @ x^T)^T
                x2 = x.reshape(b * r, v)
                prod = (self.sparse @ (x2.T.contiguous() if self.torch else np.ascontiguousarray(x2.T))).T
                prod = prod.reshape(b, r, v)
                if self.sparse_factor is not None:
                    prod = prod * self.sparse_factor
            else:  # block-diagonal over problems, in [B * V, R] layout
                xt = x.transpose(1, 2) if self.torch else x.transpose(0, 2, 1)
                xt = xt.reshape(b * v, r)
                prod = self.sparse @ (xt.contiguous() if self.torch else np.ascontiguousarray(xt))
                prod = prod.reshape(b, v, r)
                prod = prod.transpose(1, 2) if self.torch else prod.transpose(0, 2, 1)
            if wrote:
                out += prod
            else:
                out[...] = prod
            wrote = True
        if not wrote:
            out[...] = 0
        return out

    def _kron_product(self, x: Any, out: Any) -> None:
        """``out += x @ (P_b kron I_n)``: position ``m`` of block ``t`` couples to position ``m`` of
        every block ``s`` with ``P_b[t, s]`` (``O(B R V K)`` instead of a sparse product)."""
        b, r, v = x.shape
        k = self.kron.shape[1]
        n = v // k
        x4 = x.reshape(b, r, k, n)
        o4 = out.reshape(b, r, k, n)
        if self.kron_uniform:  # P = c (1 1^T - I): out += c (sum_t x_t - x_s)
            c = self.kron[:, 0, 1].reshape(b, 1, 1, 1)
            tot = x4.sum(dim=2, keepdim=True) if self.torch else x4.sum(axis=2, keepdims=True)
            o4 += (tot - x4) * c
        else:
            if self.torch:
                prod = self.ops.torch.matmul(x4.transpose(2, 3), self.kron[:, None]).transpose(2, 3)  # type: ignore[attr-defined]
            else:
                prod = np.matmul(x4.transpose(0, 1, 3, 2), self.kron[:, None]).transpose(0, 1, 3, 2)
            o4 += prod


def _kron(c: Couplings) -> tuple[F64, bool] | None:
    """``P [B, K, K]`` if the sparse part is ``P_b kron I_n`` for the block size ``n`` (every
    coupling joins position ``m`` of block ``t`` to position ``m`` of block ``s``, with one value
    per block pair, at every position), else ``None``; and whether ``P = c (1 1^T - I)``."""
    if c.blocks is None or c.sparse is None:
        return None
    n = c.blocks.shape[2]
    v = c.num_variables
    if n == 0 or v % n or c.blocks.shape[1] * n != v:
        return None
    m = c.sparse
    rows = np.repeat(np.arange(v), np.diff(m.indptr))
    cols = m.indices
    if not np.array_equal(rows % n, cols % n):
        return None
    k = v // n
    pair = (rows // n) * k + cols // n
    counts = np.bincount(pair, minlength=k * k)
    if np.any((counts != 0) & (counts != n)):
        return None
    vals = c.sparse_values if c.sparse_values is not None else m.data[None]
    p = np.zeros((vals.shape[0], k * k))
    p[:, pair] = vals
    if not np.array_equal(p[:, pair], vals):  # one value per block pair
        return None
    p3 = np.broadcast_to(p.reshape(-1, k, k), (c.batch_size, k, k)).astype(np.float64)
    off = ~np.eye(k, dtype=bool)
    uniform = k > 1 and bool(np.all(p3[:, ~off] == 0) and np.all(p3[:, off] == p3[:, :1, 1:2].reshape(-1, 1)))
    return p3, uniform


def _block_diagonal(pattern: sp.csr_matrix, values: F64) -> sp.csr_matrix:
    """The block-diagonal CSR ``diag(S_0, ..., S_{B-1})``: ``pattern`` with ``values[b]`` per block."""
    b, nnz = values.shape
    v = pattern.shape[0]
    indptr = (pattern.indptr[None, 1:] + nnz * np.arange(b)[:, None]).reshape(-1)
    indptr = np.concatenate([[0], indptr])
    indices = (pattern.indices[None, :] + v * np.arange(b)[:, None]).reshape(-1)
    return sp.csr_matrix((values.astype(np.float32).reshape(-1), indices, indptr), shape=(b * v, b * v))


def _torch_csr(ops: ArrayOps, m: sp.csr_matrix) -> Any:
    torch = ops.torch  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.as_tensor(m.indptr.astype(np.int64)),
            torch.as_tensor(m.indices.astype(np.int64)),
            torch.as_tensor(m.data.astype(np.float32)),
            size=m.shape,
            device=ops.device,
            check_invariants=False,  # built from a valid scipy CSR
        )

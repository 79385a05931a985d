"""The canonical intermediate representation: a batch of quadratic models of one shape.

:class:`QuadraticIR` holds ``B`` problems over the same ``V`` variables and the same
sparsity pattern. Quadratic terms live in two places, both strictly upper-triangular
(each unordered pair once, ``i < j``; the diagonal is always folded into ``linear``):

* ``blocks``: ``[B, G, n, n]`` dense blocks on the diagonal. Block ``g`` couples the
  consecutive variables ``g*n .. g*n+n-1`` (QAMA's per-head dense couplings);
* ``rows``, ``cols``, ``data``: a sparse COO list shared by the batch (``data`` is
  ``[B, E]``), for everything else (the head penalty, embedded problems, files).

The energy of assignment ``x`` of problem ``b`` is::

    offset[b] + x . linear[b] + sum_g x_g^T blocks[b, g] x_g + sum_e data[b, e] x[rows[e]] x[cols[e]]

with ``x`` in {0, 1} (``vartype="BINARY"``) or {-1, +1} (``vartype="SPIN"``).

Arrays are read-only: the IR is immutable, and passes return new IRs.

>>> import numpy as np
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[3.0]],
...                           offset=[0.5], vartype="BINARY")
>>> ir.energies(np.array([[0, 0], [1, 1], [0, 1]])).tolist()
[[0.5, 2.5, -1.5]]
>>> spin = ir.to_spin()
>>> spin.energies(np.array([[-1, -1], [1, 1], [-1, 1]])).tolist()
[[0.5, 2.5, -1.5]]
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInputError

Vartype = Literal["BINARY", "SPIN"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_EMPTY_BLOCKS_SHAPE = (0, 0)
_ARRAY_FIELDS: tuple[tuple[str, type[np.generic]], ...] = (
    ("linear", np.float64),
    ("offset", np.float64),
    ("blocks", np.float64),
    ("rows", np.int64),
    ("cols", np.int64),
    ("data", np.float64),
    ("labels", np.int64),
)


#: Arrays this module froze (by id): only these are shared between IRs without a copy. Any
#: other array, even a read-only one, may be a view of memory its owner can still change.
_OURS: weakref.WeakValueDictionary[int, NDArray[Any]] = weakref.WeakValueDictionary()


def _adopt(array: NDArray[Any]) -> NDArray[Any]:
    """Freeze ``array`` (which this module just made) and remember it as ours."""
    array.setflags(write=False)
    _OURS[id(array)] = array
    return array


def _is_ours(value: Any, dtype: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == dtype and _OURS.get(id(value)) is value


def _frozen(array: ArrayLike, dtype: Any) -> NDArray[Any]:
    return _adopt(np.array(array, dtype=dtype, copy=True))


@dataclass(frozen=True, eq=False)
class QuadraticIR:
    """A batch of ``B`` quadratic models (QUBO or Ising) over ``V`` labelled variables.

    Build with :meth:`from_coo` or :meth:`from_blocks`, or let
    :func:`qama_compile.lower_attention` build it. See the module docstring for the energy.
    """

    vartype: Vartype
    linear: FloatArray  # [B, V]
    offset: FloatArray  # [B]
    blocks: FloatArray  # [B, G, n, n], strictly upper triangular; G*n <= V
    rows: IntArray  # [E]
    cols: IntArray  # [E]
    data: FloatArray  # [B, E]
    labels: IntArray  # [V, k] integer label fields
    label_fields: tuple[str, ...] = ("index",)
    meta: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction
    def __post_init__(self) -> None:
        for name, dtype in _ARRAY_FIELDS:
            value = getattr(self, name)
            if not _is_ours(value, dtype):  # a caller's array, even read-only, is copied
                object.__setattr__(self, name, _frozen(value, dtype))
        if self.vartype not in ("BINARY", "SPIN"):
            raise InvalidInputError(
                f"vartype must be 'BINARY' or 'SPIN', got {self.vartype!r}", fix="pick one of the two"
            )
        b, v = self.linear.shape if self.linear.ndim == 2 else (-1, -1)
        if self.linear.ndim != 2:
            raise InvalidInputError("linear must be [B, V]", fix="add the batch axis")
        if self.offset.shape != (b,):
            raise InvalidInputError(f"offset must have shape ({b},), got {self.offset.shape}")
        if self.blocks.ndim != 4 or self.blocks.shape[0] != b or self.blocks.shape[2] != self.blocks.shape[3]:
            raise InvalidInputError(f"blocks must be [B, G, n, n] with B={b}, got {self.blocks.shape}")
        if self.block_count * self.block_size > v:
            raise InvalidInputError("blocks cover more variables than the IR has")
        if self.block_count and np.any(np.tril(self.blocks)):
            raise InvalidInputError("dense blocks must be strictly upper triangular (fold i == j into linear)")
        if self.rows.shape != self.cols.shape or self.rows.ndim != 1:
            raise InvalidInputError("rows and cols must be 1-D of equal length")
        if self.data.shape != (b, self.rows.size):
            raise InvalidInputError(f"data must be [B, E] = ({b}, {self.rows.size}), got {self.data.shape}")
        if self.rows.size and (self.rows.min() < 0 or self.cols.max() >= v or np.any(self.rows >= self.cols)):
            raise InvalidInputError("sparse couplings must satisfy 0 <= row < col < V")
        if self.labels.ndim != 2 or self.labels.shape[0] != v or self.labels.shape[1] != len(self.label_fields):
            raise InvalidInputError(
                f"labels must be [V, {len(self.label_fields)}] for fields {self.label_fields}, got {self.labels.shape}"
            )
        for name in ("linear", "offset", "blocks", "data"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise InvalidInputError(
                    f"IR array '{name}' contains NaN or infinity",
                    fix="check the inputs and the normalisation options",
                    tensor=name,
                )

    @classmethod
    def _owned(cls, **fields: Any) -> QuadraticIR:
        """Build from arrays this module just computed and owns: no copies, no O(size) checks.

        Internal fast path for lowering, vartype changes and sub-batches; public
        construction goes through ``__init__`` and is fully validated.
        """
        obj = cls.__new__(cls)
        fields.setdefault("label_fields", ("index",))
        fields["meta"] = dict(fields.get("meta") or {})
        for name, dtype in _ARRAY_FIELDS:
            value = fields[name]
            if not _is_ours(value, dtype):  # fresh arrays (or views of them) computed by our own code
                value = _adopt(np.asarray(value, dtype=dtype))
            fields[name] = value
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def from_coo(
        cls,
        *,
        linear: ArrayLike,
        rows: ArrayLike = (),
        cols: ArrayLike = (),
        data: ArrayLike | None = None,
        offset: ArrayLike | None = None,
        vartype: Vartype = "BINARY",
        labels: ArrayLike | None = None,
        label_fields: Sequence[str] = ("index",),
        meta: dict[str, Any] | None = None,
    ) -> QuadraticIR:
        """Build from sparse couplings; pairs are canonicalised (``i < j``) and merged.

        ``linear`` is ``[V]`` or ``[B, V]``; ``data`` is ``[E]`` or ``[B, E]``. Pairs with
        ``i == j`` are folded into the linear terms (``x**2 == x``, ``s**2 == 1``).
        """
        lin = np.atleast_2d(np.asarray(linear, dtype=np.float64))
        b, v = lin.shape
        r = np.asarray(rows, dtype=np.int64).reshape(-1)
        c = np.asarray(cols, dtype=np.int64).reshape(-1)
        d = np.zeros((b, 0)) if data is None else np.asarray(data, dtype=np.float64)
        d = np.broadcast_to(d.reshape(1, -1) if d.ndim == 1 else d, (b, r.size)).astype(np.float64)
        off = np.zeros(b) if offset is None else np.broadcast_to(np.asarray(offset, dtype=np.float64), (b,))
        off = off.copy()
        if r.size and (min(r.min(), c.min()) < 0 or max(r.max(), c.max()) >= v):
            raise InvalidInputError(f"coupling index out of range for {v} variables")
        diag = r == c
        if np.any(diag):
            lin = lin.copy()
            if vartype == "BINARY":
                np.add.at(lin.T, r[diag], d[:, diag].T)
            else:
                off = off + d[:, diag].sum(axis=1)
        r, c, d = r[~diag], c[~diag], d[:, ~diag]
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        key = lo * v + hi
        uniq, inverse = np.unique(key, return_inverse=True)
        merged = np.zeros((b, uniq.size))
        np.add.at(merged.T, inverse, d.T)
        if labels is None:
            labels = np.arange(v, dtype=np.int64).reshape(v, 1)
            label_fields = ("index",)
        return cls(
            vartype=vartype,
            linear=lin,
            offset=off,
            blocks=np.zeros((b, 0, *_EMPTY_BLOCKS_SHAPE)),
            rows=uniq // v,
            cols=uniq % v,
            data=merged,
            labels=np.asarray(labels, dtype=np.int64).reshape(v, len(label_fields)),
            label_fields=tuple(label_fields),
            meta=dict(meta or {}),
        )

    # ----------------------------------------------------------------- shape facts
    @property
    def batch_size(self) -> int:
        return int(self.linear.shape[0])

    @property
    def num_variables(self) -> int:
        return int(self.linear.shape[1])

    @property
    def block_count(self) -> int:
        return int(self.blocks.shape[1])

    @property
    def block_size(self) -> int:
        return int(self.blocks.shape[2])

    @property
    def num_block_couplers(self) -> int:
        """Structural couplers inside the dense blocks (``G * n(n-1)/2``)."""
        return self.block_count * self.block_size * (self.block_size - 1) // 2

    @property
    def num_sparse_couplers(self) -> int:
        return int(self.rows.size)

    def nonzero_couplers(self) -> NDArray[np.int64]:
        """Couplers that are not zero, per problem ``[B]`` (``num_couplers`` counts the structure)."""
        count: NDArray[np.int64] = np.count_nonzero(self.data, axis=1).astype(np.int64)
        if self.block_count:
            count = count + np.count_nonzero(self.blocks.reshape(self.batch_size, -1), axis=1)
        return count

    @property
    def num_couplers(self) -> int:
        """Structural couplers (pairs that may be non-zero), counted once per pair."""
        return self.num_block_couplers + self.num_sparse_couplers

    def label_tuples(self) -> list[Any]:
        """Variable labels as Python objects: tuples for multi-field labels, else ints."""
        if self.labels.shape[1] == 1:
            return [int(x) for x in self.labels[:, 0]]
        return [tuple(int(x) for x in row) for row in self.labels.tolist()]

    # ----------------------------------------------------------------- evaluation
    def energies(self, samples: ArrayLike) -> FloatArray:
        """Energies ``[B, S]`` of samples ``[S, V]`` (same for every problem) or ``[B, S, V]``.

        Samples must already be in this IR's vartype (0/1 or -1/+1).
        """
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim == 2:
            x = np.broadcast_to(x, (self.batch_size, *x.shape))
        if x.ndim != 3 or x.shape[0] != self.batch_size or x.shape[2] != self.num_variables:
            raise InvalidInputError(
                f"samples must be [S, {self.num_variables}] or [{self.batch_size}, S, {self.num_variables}], "
                f"got {np.shape(samples)}"
            )
        energy = self.offset[:, None] + np.einsum("bsv,bv->bs", x, self.linear)
        if self.block_count:
            g, n = self.block_count, self.block_size
            xb = x[:, :, : g * n].reshape(x.shape[0], x.shape[1], g, n)
            # (x_g U_g) . x_g, batched over problems, samples and blocks
            energy += np.einsum("bsgi,bgij,bsgj->bs", xb, self.blocks, xb, optimize=True)
        if self.rows.size:
            energy += np.einsum("bse,be->bs", x[:, :, self.rows] * x[:, :, self.cols], self.data)
        return energy

    # ----------------------------------------------------------------- views
    def dense_matrix(self, index: int = 0) -> FloatArray:
        """Strictly upper-triangular ``[V, V]`` coupling matrix of problem ``index``."""
        v = self.num_variables
        out = np.zeros((v, v))
        n = self.block_size
        for g in range(self.block_count):  # G is the number of heads: small
            out[g * n : (g + 1) * n, g * n : (g + 1) * n] = self.blocks[index, g]
        np.add.at(out, (self.rows, self.cols), self.data[index])
        return out

    def coo(self, index: int = 0) -> tuple[IntArray, IntArray, FloatArray]:
        """All non-zero couplings of problem ``index`` as ``(rows, cols, data)``, ``rows < cols``."""
        parts_r, parts_c, parts_d = [self.rows], [self.cols], [self.data[index]]
        if self.block_count:
            _g, n = self.block_count, self.block_size
            gi, ii, jj = np.nonzero(self.blocks[index])
            parts_r.append(gi * n + ii)
            parts_c.append(gi * n + jj)
            parts_d.append(self.blocks[index][gi, ii, jj])
        r, c, d = np.concatenate(parts_r), np.concatenate(parts_c), np.concatenate(parts_d)
        keep = d != 0
        return r[keep], c[keep], d[keep]

    def select(self, indices: ArrayLike) -> QuadraticIR:
        """The sub-batch ``indices`` (a new IR sharing structure)."""
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if idx.size and (idx.min() < -self.batch_size or idx.max() >= self.batch_size):
            raise InvalidInputError(f"batch index out of range for batch of {self.batch_size}")
        return QuadraticIR._owned(
            vartype=self.vartype,
            linear=self.linear[idx],
            offset=self.offset[idx],
            blocks=self.blocks[idx],
            rows=self.rows,
            cols=self.cols,
            data=self.data[idx],
            labels=self.labels,
            label_fields=self.label_fields,
            meta=dict(self.meta),
        )

    def flatten(self) -> QuadraticIR:
        """The same problems with the dense blocks moved into the sparse COO list."""
        if not self.block_count:
            return self
        g, n = self.block_count, self.block_size
        iu, ju = np.triu_indices(n, k=1)
        brow = (np.arange(g)[:, None] * n + iu[None, :]).reshape(-1)
        bcol = (np.arange(g)[:, None] * n + ju[None, :]).reshape(-1)
        bdata = self.blocks[:, :, iu, ju].reshape(self.batch_size, -1)
        rows = np.concatenate([brow, self.rows])
        cols = np.concatenate([bcol, self.cols])
        data = np.concatenate([bdata, self.data], axis=1)
        return QuadraticIR.from_coo(
            linear=self.linear,
            rows=rows,
            cols=cols,
            data=data,
            offset=self.offset,
            vartype=self.vartype,
            labels=self.labels,
            label_fields=self.label_fields,
            meta=self.meta,
        )

    # ----------------------------------------------------------------- vartype changes
    def to_spin(self) -> QuadraticIR:
        """The Ising form (``s = 2x - 1``): same energy for every assignment."""
        if self.vartype == "SPIN":
            return self
        return self._change_vartype("SPIN")

    def to_binary(self) -> QuadraticIR:
        """The QUBO form (``x = (s + 1) / 2``): same energy for every assignment."""
        if self.vartype == "BINARY":
            return self
        return self._change_vartype("BINARY")

    def _change_vartype(self, target: Vartype) -> QuadraticIR:
        lin, off = self.linear, self.offset
        blocks, data = self.blocks, self.data
        g, n = self.block_count, self.block_size
        # Couplings touching each variable: row sums plus column sums.
        touch = np.zeros_like(lin)
        if g:
            per_var = blocks.sum(axis=3) + blocks.sum(axis=2)  # [B, G, n]
            touch[:, : g * n] += per_var.reshape(lin.shape[0], g * n)
        if self.rows.size:
            np.add.at(touch.T, self.rows, data.T)
            np.add.at(touch.T, self.cols, data.T)
        quad_total = blocks.sum(axis=(1, 2, 3)) + data.sum(axis=1)
        if target == "SPIN":
            # Q x_i x_j = Q/4 (s_i s_j + s_i + s_j + 1);  a x = a/2 (s + 1)
            new_lin = lin / 2 + touch / 4
            new_off = off + lin.sum(axis=1) / 2 + quad_total / 4
            scale = 0.25
        else:
            # J s_i s_j = J (4 x_i x_j - 2 x_i - 2 x_j + 1);  h s = h (2x - 1)
            new_lin = 2 * lin - 2 * touch
            new_off = off - lin.sum(axis=1) + quad_total
            scale = 4.0
        return QuadraticIR._owned(
            vartype=target,
            linear=new_lin,
            offset=new_off,
            blocks=blocks * scale,
            rows=self.rows,
            cols=self.cols,
            data=data * scale,
            labels=self.labels,
            label_fields=self.label_fields,
            meta=dict(self.meta),
        )

    def convert_samples(self, samples: ArrayLike, *, to: Vartype) -> NDArray[np.int8]:
        """Convert samples between 0/1 and -1/+1 (from this IR's vartype to ``to``)."""
        x = np.asarray(samples)
        if self.vartype == to:
            return x.astype(np.int8)
        if to == "SPIN":
            return (2 * x - 1).astype(np.int8)
        return ((x + 1) // 2).astype(np.int8)

    # ----------------------------------------------------------------- stats
    def coefficient_range(self) -> dict[str, tuple[float, float]]:
        """Min and max of the linear and quadratic coefficients over the batch."""
        quad = [self.data.reshape(-1)]
        if self.block_count:
            iu, ju = np.triu_indices(self.block_size, k=1)
            quad.append(self.blocks[:, :, iu, ju].reshape(-1))
        q = np.concatenate(quad) if quad else np.zeros(0)
        lin = self.linear.reshape(-1)
        return {
            "linear": (float(lin.min()), float(lin.max())) if lin.size else (0.0, 0.0),
            "quadratic": (float(q.min()), float(q.max())) if q.size else (0.0, 0.0),
        }

    def nbytes(self) -> int:
        return int(
            self.linear.nbytes
            + self.offset.nbytes
            + self.blocks.nbytes
            + self.rows.nbytes
            + self.cols.nbytes
            + self.data.nbytes
            + self.labels.nbytes
        )

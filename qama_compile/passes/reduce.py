"""Reduce a problem before sampling: roof-duality fixing and small-coupling pruning.

* :func:`fix_variables` runs roof duality (``dwave.preprocessing.roof_duality``) on every
  problem of the batch and removes the variables whose value it proves. With
  ``strict=True`` (the default) a variable is fixed only when it takes that value in
  *every* ground state (strong persistency), so the reduced problem has exactly the same
  ground energy and the decoded ground states are ground states of the original.
  The batch keeps one shape: a variable is removed when it is fixed in every problem of
  the batch; its value may differ per problem.
* :func:`prune_couplings` zeroes couplings with ``|Q_ij| < threshold`` and reports how far
  any energy (hence the ground energy) can move.
* :func:`condition` is the shared algebra: set some variables to given values (per
  problem) and return the quadratic model over the rest (also used by
  :mod:`qama_compile.passes.decompose`).
* :func:`ground_state_triviality` says whether roof duality alone proves a ground state
  that selects every token (the raw, all-ferromagnetic QAMA problems of ``normalize="none"``
  usually have one), as a :class:`~qama_compile.passes.reports.TrivialityReport`.

>>> import numpy as np
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[-1.0, 2.0, 0.5]], rows=[0, 1], cols=[1, 2], data=[[-3.0, 0.25]])
>>> reduced = fix_variables(ir)
>>> reduced.ir.num_variables, reduced.step.indices.tolist(), reduced.step.values.tolist()
(0, [0, 1, 2], [[1, 1, 0]])
>>> float(reduced.ir.offset[0]), float(ir.energies([[1, 1, 0]])[0, 0])
(-2.0, -2.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.decode import FixVariables
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from .base import Pass, PassContext
from .reports import ReductionReport, TrivialityReport, tuple_of

__all__ = [
    "TRIVIALITY_MAX_COUPLERS",
    "FixResult",
    "PruneResult",
    "ReducePass",
    "condition",
    "fix_variables",
    "ground_state_triviality",
    "prune_couplings",
]

#: :func:`ground_state_triviality` skips problems with more structural couplers than this
#: (roof duality takes about 0.5 s at 6e5 couplers, H=12, N=64, q=4, on one core).
TRIVIALITY_MAX_COUPLERS = 4_000_000


# --------------------------------------------------------------------------- conditioning
def _local_fields(ir: QuadraticIR, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sum_j (U + U^T)_ij x_j`` for every variable ``i``: ``[B, V]`` for ``x`` ``[B, V]``."""
    field_ = np.zeros_like(x)
    g, n = ir.block_count, ir.block_size
    if g:
        xb = x[:, : g * n].reshape(x.shape[0], g, n)
        sym = np.einsum("bgij,bgj->bgi", ir.blocks, xb) + np.einsum("bgji,bgj->bgi", ir.blocks, xb)
        field_[:, : g * n] += sym.reshape(x.shape[0], g * n)
    if ir.rows.size:
        per_var = field_.T  # a view [V, B]: index the variable axis first
        np.add.at(per_var, ir.rows, (ir.data * x[:, ir.cols]).T)
        np.add.at(per_var, ir.cols, (ir.data * x[:, ir.rows]).T)
    return field_


def condition(ir: QuadraticIR, indices: ArrayLike, values: ArrayLike) -> QuadraticIR:
    """The model over the other variables when ``indices`` are set to ``values``.

    ``values`` is ``[F]`` (same for every problem) or ``[B, F]``, in ``ir.vartype``. For the
    kept set ``K`` and fixed set ``F``, the new linear term is ``a_K + (U_KF + U_FK^T) x_F``,
    the new offset is ``c + a_F x_F + x_F^T U_FF x_F``, and the couplings inside ``K`` are
    unchanged, so ``E_new(x_K) == E(x_K, x_F)`` for every ``x_K``. Kept variables keep their
    order and labels. Dense blocks stay dense when every block keeps either none or the
    same number of its variables (e.g. whole heads); otherwise they move to the COO list.

    >>> import numpy as np
    >>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0, 0.5]], rows=[0, 1], cols=[1, 2], data=[[3.0, -1.0]])
    >>> sub = condition(ir, [1], [1])
    >>> sub.num_variables, sub.linear.tolist(), sub.offset.tolist()
    (2, [[4.0, -0.5]], [-2.0])
    """
    b, v = ir.batch_size, ir.num_variables
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    vals = np.asarray(values, dtype=np.float64)
    vals = np.broadcast_to(vals if vals.ndim == 2 else vals.reshape(1, -1), (b, idx.size))
    if idx.size and (idx.min() < 0 or idx.max() >= v or np.unique(idx).size != idx.size):
        raise InvalidInputError(
            f"condition: indices must be distinct and in 0..{v - 1}", fix="pass each variable index once"
        )
    allowed = (0.0, 1.0) if ir.vartype == "BINARY" else (-1.0, 1.0)
    if not np.all(np.isin(vals, allowed)):
        raise InvalidInputError(
            f"condition: values must be in {allowed} for a {ir.vartype} IR",
            fix="convert the values to the IR's vartype",
        )
    fixed = np.zeros(v, dtype=bool)
    fixed[idx] = True
    kept = np.flatnonzero(~fixed)
    x = np.zeros((b, v))
    x[:, idx] = vals
    linear = ir.linear[:, kept] + _local_fields(ir, x)[:, kept]
    offset = ir.energies(x[:, None, :])[:, 0]  # free variables at 0: c + a_F x_F + x_F U_FF x_F
    new_index = np.full(v, -1, dtype=np.int64)
    new_index[kept] = np.arange(kept.size)

    keep_e = ~(fixed[ir.rows] | fixed[ir.cols])
    rows, cols, data = new_index[ir.rows[keep_e]], new_index[ir.cols[keep_e]], ir.data[:, keep_e]
    g, n = ir.block_count, ir.block_size
    blocks = np.zeros((b, 0, 0, 0))
    if g:
        keep_block = ~fixed[: g * n].reshape(g, n)
        counts = keep_block.sum(axis=1)
        sizes = set(counts[counts > 0].tolist())
        if len(sizes) <= 1:  # every block keeps 0 or m variables: still dense blocks
            m = sizes.pop() if sizes else 0
            live = np.flatnonzero(counts > 0)
            local = np.nonzero(keep_block[live])[1].reshape(live.size, m)  # [G', m] positions in block
            gathered = ir.blocks[:, live[:, None, None], local[:, :, None], local[:, None, :]]
            blocks = gathered if live.size else np.zeros((b, 0, 0, 0))
        else:  # ragged: couplings among kept block variables join the COO list
            gi, ii, jj = np.nonzero(np.any(ir.blocks != 0, axis=0) & keep_block[:, :, None] & keep_block[:, None, :])
            rows = np.concatenate([new_index[gi * n + ii], rows])
            cols = np.concatenate([new_index[gi * n + jj], cols])
            data = np.concatenate([ir.blocks[:, gi, ii, jj], data], axis=1)
    meta = dict(ir.meta)
    meta["conditioned_variables"] = int(meta.get("conditioned_variables", 0)) + int(idx.size)
    # rows < cols still holds (new_index is increasing), so the IR is built directly
    return QuadraticIR(
        vartype=ir.vartype,
        linear=linear,
        offset=offset,
        blocks=blocks,
        rows=rows,
        cols=cols,
        data=data,
        labels=ir.labels[kept],
        label_fields=ir.label_fields,
        meta=meta,
    )


# --------------------------------------------------------------------------- roof duality
@dataclass(frozen=True, eq=False)
class FixResult:
    """Output of :func:`fix_variables`.

    Attributes:
        ir: the reduced IR (kept variables in their original order).
        step: the :class:`~qama_compile.passes.base.FixVariables` decoder that reinserts the
            fixed values (``values`` is ``[B, F]``).
        lower_bounds: roof-duality lower bound on each problem's ground energy, ``[B]``.
        fixed_per_problem: how many variables roof duality fixed in each problem, ``[B]``
            (the IR drops only those fixed in every problem).
    """

    ir: QuadraticIR
    step: FixVariables
    lower_bounds: NDArray[np.float64]
    fixed_per_problem: NDArray[np.int64]


def fix_variables(ir: QuadraticIR, *, strict: bool = True) -> FixResult:
    """Fix the variables roof duality proves, in every problem of the batch, and remove them.

    Args:
        ir: a BINARY or SPIN IR.
        strict: ``True`` fixes only variables with the same value in every ground state
            (the ground energy is unchanged and no ground state is lost);
            ``False`` also fixes weakly persistent ones (the ground energy is still
            unchanged, but some ground states are lost).

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 4, 4)), bits=2)
    >>> result = fix_variables(problem.ir)
    >>> problem.ir.num_variables, result.ir.num_variables   # one head: submodular, fully solved
    (8, 0)
    """
    import dimod
    from dwave.preprocessing import roof_duality

    b, v = ir.batch_size, ir.num_variables
    known = np.ones((b, v), dtype=bool) if b else np.zeros((0, v), dtype=bool)
    values = np.zeros((b, v), dtype=np.int8)
    bounds = np.zeros(b)
    for k in range(b):  # one roof-duality call per problem (C++ inside)
        rows, cols, data = ir.coo(k)
        bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
            ir.linear[k],
            (rows, cols, data),
            float(ir.offset[k]),
            vartype=dimod.as_vartype(ir.vartype),
            variable_order=range(v),
        )
        bound, fixed = roof_duality(bqm, strict=strict)
        bounds[k] = bound
        known[k] = False
        if fixed:
            where = np.fromiter(fixed.keys(), dtype=np.int64, count=len(fixed))
            known[k, where] = True
            values[k, where] = np.fromiter(fixed.values(), dtype=np.int8, count=len(fixed))
    everywhere = np.flatnonzero(known.all(axis=0)) if b else np.zeros(0, dtype=np.int64)
    fixed_values = values[:, everywhere]
    reduced = condition(ir, everywhere, fixed_values)
    reduced = dataclasses.replace(reduced, meta={**reduced.meta, "roof_duality_fixed": int(everywhere.size)})
    step = FixVariables(indices=everywhere, values=fixed_values, num_variables=v)
    return FixResult(ir=reduced, step=step, lower_bounds=bounds, fixed_per_problem=known.sum(axis=1))


def _every_token_selected(ir: QuadraticIR, values: NDArray[np.int8]) -> NDArray[np.bool_]:
    """Per problem: does the assignment ``values [B, V]`` give every (head, token) a non-zero weight?"""
    one = values == 1
    fields = ir.label_fields
    if not ("head" in fields and "token" in fields) or not ir.num_variables:
        out: NDArray[np.bool_] = np.asarray(one.all(axis=1), dtype=bool)
        return out
    head = ir.labels[:, fields.index("head")]
    token = ir.labels[:, fields.index("token")]
    group = np.unique(np.stack([head, token], axis=1), axis=0, return_inverse=True)[1].reshape(-1)
    hits = np.zeros((values.shape[0], int(group.max()) + 1), dtype=np.int64)
    np.add.at(hits.T, group, one.T)  # bits set per (head, token) group
    selected: NDArray[np.bool_] = np.asarray((hits > 0).all(axis=1), dtype=bool)
    return selected


def ground_state_triviality(ir: QuadraticIR, *, max_couplers: int = TRIVIALITY_MAX_COUPLERS) -> TrivialityReport:
    """Whether roof duality fixes every variable of each problem to a ground state that selects every token.

    Such a problem needs no sampler: its answer is "every head keeps every token". With
    ``normalize="none"`` every within-head QAMA coupling is ferromagnetic and this is the
    usual case; the standardised default rarely is. Problems with more than
    ``max_couplers`` structural couplers are not checked (``checked=False``).

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> qkv = np.random.default_rng(0).normal(size=(3, 1, 4, 8))      # one head: no penalty
    >>> ground_state_triviality(lower_attention(*qkv, bits=2, normalize="none").ir).trivial
    (True,)
    >>> ground_state_triviality(lower_attention(*qkv, bits=2).ir).trivial
    (False,)
    """
    v = ir.num_variables
    if ir.num_couplers > max_couplers:
        return TrivialityReport(
            checked=False,
            variables=v,
            reason=f"{ir.num_couplers} couplers > {max_couplers}: roof duality skipped",
        )
    binary = ir.to_binary()
    result = fix_variables(binary, strict=True)
    values = np.zeros((ir.batch_size, v), dtype=np.int8)
    values[:, result.step.indices] = result.step.values
    complete = result.fixed_per_problem == v
    selected = _every_token_selected(binary, values) & complete
    return TrivialityReport(
        checked=True,
        variables=v,
        fixed_per_problem=tuple_of(result.fixed_per_problem, int),
        all_selected=tuple(bool(x) for x in selected),
    )


# --------------------------------------------------------------------------- pruning
@dataclass(frozen=True, eq=False)
class PruneResult:
    """Output of :func:`prune_couplings`.

    Attributes:
        ir: the pruned IR (same variables).
        pruned: couplings set to zero in each problem, ``[B]``.
        shift_low, shift_high: for every assignment ``x`` of problem ``b``,
            ``E_pruned(x) - E(x)`` lies in ``[shift_low[b], shift_high[b]]``; so does the
            difference of the ground energies. BINARY: ``-sum(Q > 0)`` and ``-sum(Q < 0)``
            over the pruned terms (``x_i x_j`` in {0, 1}); SPIN: ``-+ sum |J|``.
        error_bound: ``max(|shift_low|, |shift_high|)`` per problem, ``[B]``; at most
            ``sum |Q_ij|`` over the pruned couplings.
    """

    ir: QuadraticIR
    pruned: NDArray[np.int64]
    shift_low: NDArray[np.float64]
    shift_high: NDArray[np.float64]

    @property
    def error_bound(self) -> NDArray[np.float64]:
        out: NDArray[np.float64] = np.maximum(np.abs(self.shift_low), np.abs(self.shift_high))
        return out


def prune_couplings(ir: QuadraticIR, *, threshold: float) -> PruneResult:
    """Zero every coupling with ``|Q_ij| < threshold``; report how far energies can move.

    Sparse couplings that are pruned in every problem leave the COO structure; pruned
    entries of dense blocks become zeros (the block layout is kept).

    >>> from qama_compile.ir import QuadraticIR
    >>> ir = QuadraticIR.from_coo(linear=[[0.0, 0.0, 0.0]], rows=[0, 1], cols=[1, 2], data=[[0.05, -2.0]])
    >>> out = prune_couplings(ir, threshold=0.1)
    >>> out.ir.num_couplers, out.pruned.tolist(), out.shift_low.tolist(), out.shift_high.tolist()
    (1, [1], [-0.05], [0.0])
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise InvalidInputError(
            f"prune threshold must be a finite number >= 0, got {threshold!r}", fix="pass e.g. threshold=1e-3"
        )
    small_d = (np.abs(ir.data) < threshold) & (ir.data != 0)
    small_b = (np.abs(ir.blocks) < threshold) & (ir.blocks != 0)
    pruned_d = np.where(small_d, ir.data, 0.0)
    pruned_b = np.where(small_b, ir.blocks, 0.0)
    pos = pruned_d.clip(min=0).sum(axis=1) + pruned_b.clip(min=0).sum(axis=(1, 2, 3))
    neg = pruned_d.clip(max=0).sum(axis=1) + pruned_b.clip(max=0).sum(axis=(1, 2, 3))
    if ir.vartype == "BINARY":  # removing Q x x changes E by -Q x x, x x in {0, 1}
        low, high = -pos, -neg
    else:  # removing J s s changes E by -J s s, s s in {-1, +1}
        total = pos - neg
        low, high = -total, total
    data = np.where(small_d, 0.0, ir.data)
    keep_e = np.any(data != 0, axis=0) | ~np.any(small_d, axis=0)  # drop structure pruned everywhere
    out = dataclasses.replace(
        ir,
        blocks=np.where(small_b, 0.0, ir.blocks),
        rows=ir.rows[keep_e],
        cols=ir.cols[keep_e],
        data=data[:, keep_e],
        meta={**ir.meta, "pruned_below": float(threshold)},
    )
    pruned = small_d.sum(axis=1) + small_b.sum(axis=(1, 2, 3))
    return PruneResult(ir=out, pruned=pruned.astype(np.int64), shift_low=low + 0.0, shift_high=high + 0.0)


# --------------------------------------------------------------------------- the pass
@dataclass(frozen=True, kw_only=True)
class ReducePass(Pass):
    """Prune small couplings (optional), then fix the variables roof duality proves.

    Options (keyword-only): ``prune_threshold`` (``None``: the option ``prune_threshold``;
    no pruning when both are ``None``), ``roof_duality`` (default ``True``), ``strict``
    (default ``True``: strong persistency, every ground state kept).

    Adds a :class:`~qama_compile.passes.reports.ReductionReport` (pruned couplers and the
    energy shift bounds per problem, fixed variables, roof-duality lower bounds). Decoding
    reinserts the fixed values (a :class:`~qama_compile.core.decode.FixVariables`).

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> from qama_compile.passes.base import PassManager
    >>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=1)
    >>> ir, ctx = PassManager([ReducePass(prune_threshold=1e-3)]).run(problem.ir)
    >>> report = ctx.get(ReductionReport)
    >>> ir.num_variables == problem.ir.num_variables - report.fixed_variables
    True
    """

    name: ClassVar[str] = "reduce"
    prune_threshold: float | None = None
    roof_duality: bool = True
    strict: bool = True

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        threshold = self.prune_threshold if self.prune_threshold is not None else context.options.prune_threshold
        b = ir.batch_size
        current = ir
        pruned = np.zeros(b, dtype=np.int64)
        low, high = np.zeros(b), np.zeros(b)
        if threshold is not None and threshold > 0:
            pr = prune_couplings(current, threshold=float(threshold))
            current, pruned, low, high = pr.ir, pr.pruned, pr.shift_low, pr.shift_high
        fixed, per_problem, bounds = 0, (), ()
        if self.roof_duality:
            fr = fix_variables(current, strict=self.strict)
            current = fr.ir
            context.decoders.append(fr.step)
            fixed = int(fr.step.indices.size)
            per_problem, bounds = tuple_of(fr.fixed_per_problem, int), tuple_of(fr.lower_bounds)
        context.add(
            ReductionReport(
                prune_threshold=None if threshold is None else float(threshold),
                pruned_couplers=tuple_of(pruned, int),
                energy_shift_low=tuple_of(low),
                energy_shift_high=tuple_of(high),
                roof_duality=self.roof_duality,
                strict=self.strict,
                fixed_variables=fixed,
                fixed_per_problem=per_problem,
                lower_bounds=bounds,
            )
        )
        return current

"""Plan a decomposition of a problem too large for a backend or target.

QAMA problems are a dense block per head coupled only by the head penalty, so the natural
pieces are heads (several heads per piece when they fit) and, when one head is too large,
token blocks within a head (a token's ``bits`` variables stay together).
:func:`plan_blocks` makes the partition; :func:`alternate_plans` makes partitions whose
blocks straddle its boundaries; :class:`DecomposePass` adds the plan to the pass context
as a :class:`~qama_compile.passes.reports.DecomposePlan`. Solving a plan is the runtime's
job (:func:`qama_compile.runtime.decompose.solve_decomposed`). See docs/decomposition.md.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 3, 3, 4)), bits=2)
>>> plan = plan_blocks(problem.ir, max_variables=6)
>>> plan.sizes, plan.strategy
([6, 6, 6], 'head')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..errors import InvalidInputError, ProblemTooLargeError
from .base import Pass, PassContext
from .reports import DecomposePlan

__all__ = ["DecomposePass", "DecomposePlan", "Strategy", "alternate_plans", "plan_blocks", "units"]

Strategy = Literal["head", "tokens", "auto"]
_STRATEGIES = ("head", "tokens", "auto")


# --------------------------------------------------------------------------- planning
def _groups(keys: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    """Indices grouped by equal rows of ``keys`` ``[V, k]``, groups ordered by first index."""
    if keys.shape[0] == 0:
        return []
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first, kind="stable")  # group ids in order of appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    gid = rank[inverse]
    idx = np.argsort(gid, kind="stable")
    bounds = np.flatnonzero(np.diff(gid[idx])) + 1
    return list(np.split(idx.astype(np.int64), bounds))


def units(ir: QuadraticIR) -> tuple[list[NDArray[np.int64]], list[list[NDArray[np.int64]]]]:
    """``(heads, tokens_per_head)``: variable groups of the natural units of ``ir``.

    QAMA IRs (label fields ``head`` and ``token``): heads, and (head, token) groups.
    Other IRs: each dense block is a "head", each variable outside the blocks its own;
    the indivisible units are single variables.
    """
    fields = ir.label_fields
    if "head" in fields and "token" in fields:
        h_col, t_col = fields.index("head"), fields.index("token")
        heads = _groups(ir.labels[:, [h_col]])
        tokens = [_groups_subset(ir.labels[:, [t_col]], head) for head in heads]
        return heads, tokens
    v, g, n = ir.num_variables, ir.block_count, ir.block_size
    heads = [np.arange(k * n, (k + 1) * n, dtype=np.int64) for k in range(g)]
    heads += [np.array([i], dtype=np.int64) for i in range(g * n, v)]
    return heads, [[h[i : i + 1] for i in range(h.size)] for h in heads]


def _groups_subset(keys: NDArray[np.int64], subset: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    return [subset[g] for g in _groups(keys[subset])]


def plan_blocks(ir: QuadraticIR, *, max_variables: int, strategy: Strategy = "auto") -> DecomposePlan:
    """Split ``ir``'s variables into blocks of at most ``max_variables``.

    * ``"head"``: whole heads; consecutive heads share a block while they fit.
    * ``"tokens"``: each head on its own, cut into near-equal runs of whole tokens.
    * ``"auto"``: ``"head"`` if every head fits, else ``"tokens"``.

    Raises :class:`~qama_compile.errors.ProblemTooLargeError` when a unit cannot be split
    to fit: a head under ``"head"``, or one token's ``bits`` variables under ``"tokens"``.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 5, 4)), bits=2).ir
    >>> plan_blocks(ir, max_variables=20).sizes, plan_blocks(ir, max_variables=6).sizes
    ([20], [6, 4, 6, 4])
    """
    if strategy not in _STRATEGIES:
        raise InvalidInputError(
            f"unknown decomposition strategy {strategy!r}", fix=f"pick one of {', '.join(_STRATEGIES)}"
        )
    if isinstance(max_variables, bool) or not isinstance(max_variables, (int, np.integer)) or max_variables < 1:
        raise InvalidInputError(
            f"max_variables must be a positive integer, got {max_variables!r}", fix="pass e.g. max_variables=64"
        )
    limit = int(max_variables)
    heads, tokens = units(ir)
    unit = max((t.size for ts in tokens for t in ts), default=1)
    largest_head = max((h.size for h in heads), default=0)
    what = "variables"
    if strategy == "auto":
        strategy = "head" if largest_head <= limit else "tokens"
    blocks: list[NDArray[np.int64]] = []
    if strategy == "head":
        if largest_head > limit:
            raise ProblemTooLargeError(
                f"a head has {largest_head} {what} ({ir.num_variables} in total), over the limit of "
                f"{limit} per subproblem; strategy 'head' cannot split a head",
                fix="use strategy='tokens' (or 'auto') to split heads by token, or raise max_variables",
                size=largest_head,
                limit=limit,
                unit=what,
            )
        current: list[NDArray[np.int64]] = []
        for head in heads:  # pack consecutive heads while they fit
            if current and sum(c.size for c in current) + head.size > limit:
                blocks.append(np.sort(np.concatenate(current)))
                current = []
            current.append(head)
        if current:
            blocks.append(np.sort(np.concatenate(current)))
    else:
        if unit > limit:
            raise ProblemTooLargeError(
                f"one token has {unit} {what} (its bits stay together); the limit is {limit} per "
                f"subproblem, so the problem ({ir.num_variables} {what}) cannot be split to fit",
                fix=f"raise max_variables to at least {unit}, or lower with fewer bits",
                size=unit,
                limit=limit,
                unit=what,
            )
        for head, toks in zip(heads, tokens, strict=True):
            pieces = -(-head.size // limit)
            while True:  # near-equal runs of whole tokens; more pieces if a run is too big
                runs = np.array_split(np.arange(len(toks)), pieces)
                chunks = [np.sort(np.concatenate([toks[i] for i in r])) for r in runs if r.size]
                if all(c.size <= limit for c in chunks):
                    break
                pieces += 1
            blocks.extend(chunks)
    return DecomposePlan(blocks=tuple(blocks), strategy=strategy, max_variables=limit, unit_size=int(unit))


def _shifted_pack(units: Sequence[NDArray[np.int64]], limit: int, first: int) -> list[NDArray[np.int64]]:
    """Greedy packing of ``units`` in order, the first block cut short at ``first`` variables."""
    blocks: list[NDArray[np.int64]] = []
    current: list[NDArray[np.int64]] = []
    size, cap = 0, max(1, first)
    for u in units:
        if current and size + u.size > cap:
            blocks.append(np.sort(np.concatenate(current)))
            current, size, cap = [], 0, limit
        current.append(u)
        size += u.size
    if current:
        blocks.append(np.sort(np.concatenate(current)))
    return blocks


def _cross_head_blocks(
    ir: QuadraticIR, heads: Sequence[NDArray[np.int64]], limit: int, unit: int
) -> list[NDArray[np.int64]]:
    """Blocks holding the same tokens of several heads (QAMA IRs: the penalty's partners)."""
    head_rank = np.empty(ir.num_variables, dtype=np.int64)
    for rank, head in enumerate(heads):
        head_rank[head] = rank
    token_rank = np.unique(ir.labels[:, ir.label_fields.index("token")], return_inverse=True)[1].reshape(-1)
    per_heads = min(len(heads), max(1, limit // max(1, unit)))
    per_tokens = max(1, limit // (per_heads * max(1, unit)))
    keys = np.stack([head_rank // per_heads, token_rank // per_tokens], axis=1)
    return [np.sort(g) for g in _groups(keys)]


def alternate_plans(ir: QuadraticIR, plan: DecomposePlan) -> list[DecomposePlan]:
    """Other partitions whose blocks straddle ``plan``'s boundaries (possibly none).

    Block-coordinate descent changes one block at a time, so it stalls where the better
    move spans a boundary. Cycling sweeps through several partitions moves the boundaries:

    * QAMA IRs (labels ``head``, ``token``): ``"cross"`` blocks hold the *same tokens of
      several heads* (the head penalty couples exactly those): ``min(H, limit // bits)``
      heads by as many tokens as fit;
    * ``"tokens"`` plans also get ``"shifted"``: each head's token runs moved by half a run;
    * other IRs: ``"shifted"``, the same packing moved by half a block.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=1).ir
    >>> [(p.strategy, p.sizes) for p in alternate_plans(ir, plan_blocks(ir, max_variables=4))]
    [('head+cross', [4, 4])]
    """
    limit = plan.max_variables
    if len(plan.blocks) <= 1:
        return []
    heads, tokens = units(ir)
    qama = "head" in ir.label_fields and "token" in ir.label_fields
    candidates: list[tuple[str, list[NDArray[np.int64]]]] = []
    if plan.strategy == "tokens":
        shifted: list[NDArray[np.int64]] = []
        for head, toks in zip(heads, tokens, strict=True):
            first = next(b.size for b in plan.blocks if b[0] == head.min())
            shifted.extend(_shifted_pack(toks, limit, first // 2))
        candidates.append(("shifted", shifted))
    elif not qama:
        candidates.append(("shifted", _shifted_pack(heads, limit, plan.blocks[0].size // 2)))
    if qama and len(heads) > 1:
        candidates.append(("cross", _cross_head_blocks(ir, heads, limit, plan.unit_size)))
    seen = {tuple(tuple(b.tolist()) for b in plan.blocks)}
    out = []
    for label, blocks in candidates:
        key = tuple(tuple(b.tolist()) for b in blocks)
        if blocks and max(b.size for b in blocks) <= limit and key not in seen:
            seen.add(key)
            out.append(
                DecomposePlan(
                    blocks=tuple(blocks),
                    strategy=f"{plan.strategy}+{label}",
                    max_variables=limit,
                    unit_size=plan.unit_size,
                )
            )
    return out


# --------------------------------------------------------------------------- the pass
@dataclass(frozen=True, kw_only=True)
class DecomposePass(Pass):
    """Plan a decomposition; the IR itself passes through unchanged.

    The limits are ``max_variables`` (default: the target's qubits, less an ancilla where the
    target needs one) and ``max_clique`` (default: the target's largest clique):
    subproblems are dense, so the block size is the smaller of the two. The pass always
    adds a :class:`~qama_compile.passes.reports.DecomposePlan`; ``plan.needed`` says whether
    the IR is over a limit (more variables than allowed, or a head block larger than the
    clique) and ``plan.reason`` why.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> from qama_compile.passes.base import PassManager
    >>> ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 5, 4)), bits=2).ir
    >>> _, ctx = PassManager([DecomposePass(max_variables=8)]).run(ir)
    >>> plan = ctx.get(DecomposePlan)
    >>> plan.needed, plan.sizes
    (True, [6, 4, 6, 4])
    """

    name: ClassVar[str] = "decompose"
    max_variables: int | None = None
    max_clique: int | None = None
    strategy: Strategy = "auto"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        target = context.target
        max_vars, clique = self.max_variables, self.max_clique
        if target is not None:
            if max_vars is None:
                max_vars = target.num_qubits - int(target.needs_ancilla(ir))
            if clique is None:
                clique = target.largest_clique()
        limits = [int(x) for x in (max_vars, clique) if x is not None]
        if not limits:
            raise InvalidInputError(
                "decomposition needs a limit: no max_variables, no max_clique and no target",
                fix="pass DecomposePass(max_variables=...) or run with a target",
            )
        limit = max(1, min(limits))
        reasons = []
        if max_vars is not None and ir.num_variables > int(max_vars):
            reasons.append(f"{ir.num_variables} variables > limit {int(max_vars)}")
        heads, _ = units(ir)
        largest_head = max((h.size for h in heads), default=0)
        if clique is not None and largest_head > int(clique):
            reasons.append(f"head block of {largest_head} variables > largest clique {int(clique)}")
        if reasons:
            plan = replace(plan_blocks(ir, max_variables=limit, strategy=self.strategy), reason="; ".join(reasons))
        else:
            plan = DecomposePlan(
                blocks=(np.arange(ir.num_variables, dtype=np.int64),),
                strategy="whole",
                max_variables=limit,
                unit_size=1,
                needed=False,
                reason="fits",
            )
        context.add(plan)
        return ir

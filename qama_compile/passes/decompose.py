"""Decompose a problem too large for a backend or target, and solve it block by block.

QAMA problems are a dense block per head coupled only by the head penalty, so the natural
pieces are heads (several heads per piece when they fit) and, when one head is too large,
token blocks within a head (a token's ``bits`` variables stay together).

:func:`solve_decomposed` runs block-coordinate descent on the QUBO ``E(x) = c + a.x +
x^T U x`` (``U`` strictly upper triangular). For a block ``S`` with the rest fixed at
``x_R`` the subproblem is::

    E(x_S | x_R) = x_S^T U_SS x_S + (a_S + (U_SR + U_RS^T) x_R) . x_S + const(x_R)

(:func:`~qama_compile.passes.reduce.condition` builds it, batched over problems). Each
block is handed to the sampler; its best sample is accepted only if the full energy does
not increase, so the energy after every block (``history``) is monotone non-increasing.
See docs/decomposition.md.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 3, 3, 4)), bits=2)
>>> result = solve_decomposed(problem.ir, sampler="exact", max_variables=6, seed=0)
>>> [len(b) for b in result.info["blocks"]], result.info["strategy"]
([6, 6, 6], 'head')
>>> bool(np.all(np.diff(result.history, axis=1) <= 0))
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.ir import QuadraticIR
from ..errors import InvalidInputError, ProblemTooLargeError
from .base import Pass, PassContext
from .reduce import condition

if TYPE_CHECKING:
    import dimod

__all__ = [
    "DecomposePass",
    "DecomposePlan",
    "DecomposeResult",
    "Strategy",
    "alternate_plans",
    "plan_blocks",
    "solve_decomposed",
]

Strategy = Literal["head", "tokens", "auto"]
_STRATEGIES = ("head", "tokens", "auto")


# --------------------------------------------------------------------------- planning
@dataclass(frozen=True, eq=False)
class DecomposePlan:
    """Which variables each subproblem holds.

    Attributes:
        blocks: variable indices per block (sorted, disjoint, covering every variable).
        strategy: the strategy used (``"head"`` or ``"tokens"``).
        max_variables: the size limit the plan respects.
        unit_size: the largest indivisible unit (a token's bits; 1 for unlabelled IRs).
    """

    blocks: tuple[NDArray[np.int64], ...]
    strategy: str
    max_variables: int
    unit_size: int

    @property
    def sizes(self) -> list[int]:
        return [int(b.size) for b in self.blocks]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (block index lists included)."""
        return {
            "strategy": self.strategy,
            "max_variables": self.max_variables,
            "unit_size": self.unit_size,
            "num_blocks": len(self.blocks),
            "sizes": self.sizes,
            "blocks": [b.tolist() for b in self.blocks],
        }


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


def _units(ir: QuadraticIR) -> tuple[list[NDArray[np.int64]], list[list[NDArray[np.int64]]]]:
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
    heads, tokens = _units(ir)
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
    heads, tokens = _units(ir)
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


# --------------------------------------------------------------------------- solving
@dataclass(frozen=True, eq=False)
class DecomposeResult:
    """Output of :func:`solve_decomposed`.

    Attributes:
        samples: best binary assignment per problem, ``[B, V]`` (int8).
        energies: its energy, ``[B]`` (recomputed from the IR).
        history: energy after every block visit, ``[B, steps]`` (non-increasing per row;
            column 0 is the energy of the start; with restarts, the best over restarts).
        info: ``blocks`` (index lists), ``strategy``, ``sweeps_run``, ``sampler_calls``,
            ``accepted`` (moves that changed the assignment, per problem), ``wall_time_s``.
    """

    samples: NDArray[np.int8]
    energies: NDArray[np.float64]
    history: NDArray[np.float64]
    info: dict[str, Any] = field(default_factory=dict)


def _block_seed(seed: int | None, problem: int, restart: int, sweep: int, block: int) -> int | None:
    if seed is None:
        return None
    state = np.random.SeedSequence([int(seed), problem, restart, sweep, block]).generate_state(1)[0]
    return int(state) >> 1  # < 2**31: every dimod sampler accepts it


def _as_sampler(sampler: dimod.Sampler | str, options: Mapping[str, Any] | None) -> tuple[dimod.Sampler, str]:
    from ..runtime.registry import get_backend

    if isinstance(sampler, str):
        return get_backend(sampler, **dict(options or {})), sampler
    if not hasattr(sampler, "sample"):
        raise InvalidInputError(
            f"sampler must be a backend name or a dimod.Sampler, got {type(sampler).__name__}",
            fix="pass e.g. sampler='exact' or dwave.samplers.SimulatedAnnealingSampler()",
        )
    return sampler, type(sampler).__name__


_ENUMERATE_MAX = 16  # blocks up to this size are solved by vectorised enumeration with sampler="exact"
_ENUMERATE_CHUNK = 1 << 22  # elements per chunk of the [rows, states, m] work array


def _is_exact(sampler: Any) -> bool:
    try:
        from qama_backends.exact import ExactSampler
    except ImportError:  # pragma: no cover - a broken install
        return False
    return isinstance(sampler, ExactSampler)


def _upper_dense(sub: QuadraticIR) -> NDArray[np.float64]:
    """All couplings of every problem as strictly upper-triangular ``[B, V, V]`` matrices."""
    b, v = sub.batch_size, sub.num_variables
    q = np.zeros((b, v, v))
    g, n = sub.block_count, sub.block_size
    for k in range(g):  # G is small (heads)
        q[:, k * n : (k + 1) * n, k * n : (k + 1) * n] += sub.blocks[:, k]
    if sub.rows.size:
        np.add.at(q.transpose(1, 2, 0), (sub.rows, sub.cols), sub.data.T)
    return q


def _enumerate_best(sub: QuadraticIR) -> NDArray[np.int8]:
    """The lowest-energy assignment of every problem of ``sub`` (ties: lowest state index),
    by enumerating all ``2^m`` states for the whole batch at once."""
    b, m = sub.batch_size, sub.num_variables
    states = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1).astype(np.float64)  # [S, m]
    q = _upper_dense(sub)
    best = np.empty((b, m), dtype=np.int8)
    rows_per_chunk = max(1, _ENUMERATE_CHUNK // (states.shape[0] * max(1, m)))
    for lo in range(0, b, rows_per_chunk):
        hi = min(b, lo + rows_per_chunk)
        quad = np.einsum("bsj,sj->bs", states @ q[lo:hi], states)  # [rows, S]
        energy = sub.offset[lo:hi, None] + sub.linear[lo:hi] @ states.T + quad
        best[lo:hi] = states[np.argmin(energy, axis=1)]
    return best


def _initial(initial: ArrayLike | None, b: int, v: int) -> NDArray[np.int8]:
    if initial is None:
        return np.zeros((b, v), dtype=np.int8)
    x = np.asarray(initial)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != v or x.shape[0] not in (1, b):
        raise InvalidInputError(
            f"initial must be [{v}] or [{b}, {v}] binary, got shape {np.shape(initial)}",
            fix="pass one 0/1 assignment per problem",
        )
    if not np.all((x == 0) | (x == 1)):
        raise InvalidInputError("initial must be binary (0/1)", fix="convert spins with (s + 1) // 2")
    return np.broadcast_to(x, (b, v)).astype(np.int8)


def solve_decomposed(
    ir: QuadraticIR,
    *,
    sampler: dimod.Sampler | str,
    max_variables: int,
    strategy: Strategy = "auto",
    sweeps: int = 10,
    restarts: int = 1,
    alternate: bool = True,
    num_reads: int | None = None,
    seed: int | None = None,
    initial: ArrayLike | None = None,
    plan: DecomposePlan | None = None,
    tol: float = 1e-9,
    sampler_options: Mapping[str, Any] | None = None,
    sample_options: Mapping[str, Any] | None = None,
) -> DecomposeResult:
    """Minimise every problem of ``ir`` by block-coordinate descent with subproblems that fit.

    Args:
        ir: BINARY or SPIN IR (a SPIN IR is solved in its QUBO form; samples are binary).
        sampler: a backend name (see :func:`qama_compile.available_backends`) or any
            ``dimod.Sampler``; it solves every subproblem. With the ``exact`` backend,
            blocks of up to 16 variables are enumerated in numpy for the whole batch at
            once (the same minimiser, without one sampler call per problem).
        max_variables: largest subproblem (e.g. the backend's or target's limit).
        strategy: ``"head"``, ``"tokens"`` or ``"auto"`` (see :func:`plan_blocks`).
        sweeps: at most this many passes over all blocks; stops once a full cycle of
            partitions lowers no problem's energy by more than ``tol`` (one sweep if one
            block holds everything).
        restarts: independent descents per problem, run as one expanded batch: the first
            starts from ``initial``, the others from seeded uniform random assignments;
            the lowest final energy wins and ``history`` is the best-so-far over restarts.
        alternate: cycle the sweeps through the primary plan and the partitions of
            :func:`alternate_plans` (blocks straddling the primary boundaries).
        num_reads: reads per subproblem, where the sampler accepts it.
        seed: base seed; the subproblem of problem ``b``, restart ``j``, sweep ``s``, block
            ``k`` gets a seed derived from ``(seed, b, j, s, k)``. Same seed, same result.
        initial: starting assignment ``[V]`` or ``[B, V]`` (0/1); default all zeros.
        plan: a precomputed :class:`DecomposePlan` (e.g. from :class:`DecomposePass`).
        tol: improvement below this does not count as progress for stopping.
        sampler_options: constructor options when ``sampler`` is a name.
        sample_options: extra keywords for ``sampler.sample``.
    """
    import dimod

    from ..runtime.solve import checked_samples, sample_kwargs

    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)) or sweeps < 1:
        raise InvalidInputError(f"sweeps must be a positive integer, got {sweeps!r}", fix="pass e.g. sweeps=10")
    qubo = ir.to_binary()
    b, v = qubo.batch_size, qubo.num_variables
    plan = plan if plan is not None else plan_blocks(qubo, max_variables=max_variables, strategy=strategy)
    covered = np.sort(np.concatenate(plan.blocks)) if plan.blocks else np.zeros(0, dtype=np.int64)
    if not np.array_equal(covered, np.arange(v)):
        raise InvalidInputError(
            f"the plan's blocks must cover each of the {v} variables exactly once",
            fix="build the plan with plan_blocks(ir, ...) for this IR",
        )
    if plan.blocks and max(plan.sizes) > max_variables:
        raise InvalidInputError(
            f"the plan has a block of {max(plan.sizes)} variables, over max_variables={max_variables}",
            fix="build the plan with the same max_variables",
        )
    smp, name = _as_sampler(sampler, sampler_options)
    backend_limit = (getattr(smp, "properties", None) or {}).get("max_variables")
    if backend_limit is not None and plan.blocks and max(plan.sizes) > int(backend_limit):
        raise InvalidInputError(
            f"subproblems of up to {max(plan.sizes)} variables exceed the {name!r} backend limit of "
            f"{backend_limit} variables",
            fix=f"pass max_variables <= {backend_limit}",
        )
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise InvalidInputError(f"restarts must be a positive integer, got {restarts!r}", fix="pass e.g. restarts=4")
    t0 = time.perf_counter()
    r = int(restarts)
    # restart j of problem p is row p * r + j of an expanded batch: all restarts run together
    owner = np.repeat(np.arange(b), r)
    trial = np.tile(np.arange(r), b)
    big = qubo.select(owner) if r > 1 else qubo
    x = np.repeat(_initial(initial, b, v), r, axis=0)
    if r > 1:
        rng = np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 0x5EED]))
        random_start = rng.integers(0, 2, size=x.shape, dtype=np.int8)
        x[trial > 0] = random_start[trial > 0]
    energy = big.energies(x[:, None, :])[:, 0]
    history = [energy.copy()]
    accepted = np.zeros(b * r, dtype=np.int64)
    calls = 0
    rows_solved = 0
    fast = _is_exact(smp) and not sample_options
    sweeps_run = 0
    max_sweeps = 1 if len(plan.blocks) == 1 else int(sweeps)
    plans = [plan, *alternate_plans(qubo, plan)] if alternate else [plan]
    everything = np.arange(v)
    extra = dict(sample_options or {})
    stalled = 0
    for sweep in range(max_sweeps):
        sweeps_run += 1
        start_energy = energy.copy()
        for k, block in enumerate(plans[sweep % len(plans)].blocks):
            rest = np.setdiff1d(everything, block, assume_unique=True)
            sub = condition(big, rest, x[:, rest])  # [B*R, |S|]; its energies are full energies
            candidate = x.copy()
            if fast and block.size <= _ENUMERATE_MAX:  # exact backend: the whole batch in numpy
                candidate[:, block] = _enumerate_best(sub)
                rows_solved += b * r
            else:
                for row in range(b * r):  # one sampler call per problem (dimod samplers take one BQM)
                    rows, cols, data = sub.coo(row)
                    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
                        sub.linear[row],
                        (rows, cols, data),
                        float(sub.offset[row]),
                        vartype=dimod.BINARY,
                        variable_order=range(block.size),
                    )
                    sub_seed = _block_seed(seed, int(owner[row]), int(trial[row]), sweep, k)
                    ss = smp.sample(bqm, **sample_kwargs(smp, num_reads=num_reads, seed=sub_seed), **extra)
                    calls += 1
                    sub_samples, sub_energies = checked_samples(sub, row, bqm, ss, backend=name)
                    candidate[row, block] = sub_samples[int(np.argmin(sub_energies))]
            new_energy = big.energies(candidate[:, None, :])[:, 0]
            take = new_energy <= energy  # accept only if the full energy does not increase
            accepted += take & np.any(candidate != x, axis=1)
            x[take] = candidate[take]
            energy = np.where(take, new_energy, energy)
            history.append(energy.copy())
        stalled = 0 if np.any(energy < start_energy - tol) else stalled + 1
        if stalled >= len(plans):  # a full cycle of partitions without progress
            break
    per_trial = energy.reshape(b, r)
    best = np.argmin(per_trial, axis=1)  # first restart wins ties
    pick = np.arange(b) * r + best
    trace = np.stack(history, axis=1).reshape(b, r, -1).min(axis=1)  # best so far over restarts
    return DecomposeResult(
        samples=x[pick],
        energies=energy[pick],
        history=trace,
        info={
            "backend": name,
            "strategy": plan.strategy,
            "max_variables": plan.max_variables,
            "blocks": [blk.tolist() for blk in plan.blocks],
            "sweeps_run": sweeps_run,
            "restarts": r,
            "alternates": {pl.strategy: [blk.tolist() for blk in pl.blocks] for pl in plans[1:]},
            "best_restart": best,
            "restart_energies": per_trial,
            "sampler_calls": calls,
            "enumerated_subproblems": rows_solved,
            "accepted": accepted.reshape(b, r).sum(axis=1),
            "seed": seed,
            "num_reads": num_reads,
            "wall_time_s": time.perf_counter() - t0,
        },
    )


# --------------------------------------------------------------------------- the pass
def _target_limits(target: Any) -> tuple[int | None, int | None]:
    """``(max_variables, max_clique)`` a target states, read defensively (None if unknown)."""
    if target is None:
        return None, None
    limits = {}
    for key, names in (
        ("variables", ("max_variables", "num_qubits", "qubits")),
        ("clique", ("max_clique", "largest_clique", "clique_size")),
    ):
        for attr in names:
            value = getattr(target, attr, None)
            value = value() if callable(value) else value
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
                limits[key] = int(value)
                break
    return limits.get("variables"), limits.get("clique")


@dataclass(frozen=True, kw_only=True)
class DecomposePass(Pass):
    """Plan a decomposition when the IR is over a limit; the IR itself passes through unchanged.

    The limit is ``max_variables`` (else the context option ``max_variables``, else the
    target's variable or qubit count) and ``max_clique`` (else the option ``max_clique``,
    else the target's largest embeddable clique): subproblems are dense, so with a clique
    limit the block size is ``min(max_variables, max_clique)``. When the IR has more
    variables than that, or a head block larger than the clique, the plan is stored in
    ``context.properties["decompose"]`` (keys ``needed``, ``plan`` (a
    :class:`DecomposePlan`), ``limit``, ``reason``); :func:`solve_decomposed` takes it as
    ``plan=``.

    >>> import numpy as np
    >>> from qama_compile import lower_attention
    >>> from qama_compile.passes.base import PassManager
    >>> ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 5, 4)), bits=2).ir
    >>> _, ctx = PassManager([DecomposePass(max_variables=8)]).run(ir)
    >>> ctx.properties["decompose"]["needed"], ctx.properties["decompose"]["plan"].sizes
    (True, [6, 4, 6, 4])
    """

    name: ClassVar[str] = "decompose"
    max_variables: int | None = None
    max_clique: int | None = None
    strategy: Strategy = "auto"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        target_vars, target_clique = _target_limits(context.target)
        max_vars = self.max_variables or context.option("max_variables") or target_vars
        clique = self.max_clique or context.option("max_clique") or target_clique
        limits = [int(x) for x in (max_vars, clique) if x is not None]
        if not limits:
            context.properties["decompose"] = {"needed": False, "reason": "no limit given"}
            context.report(details={"decompose": "no limit given"})
            return ir
        limit = min(limits)
        reasons = []
        if max_vars is not None and ir.num_variables > int(max_vars):
            reasons.append(f"{ir.num_variables} variables > limit {int(max_vars)}")
        heads, _ = _units(ir)
        largest_head = max((h.size for h in heads), default=0)
        if clique is not None and largest_head > int(clique):
            reasons.append(f"head block of {largest_head} variables > largest clique {int(clique)}")
        if not reasons:
            context.properties["decompose"] = {"needed": False, "limit": limit, "reason": "fits"}
            context.report(details={"decompose": "fits", "limit": limit})
            return ir
        plan = plan_blocks(ir, max_variables=limit, strategy=self.strategy)
        context.properties["decompose"] = {
            "needed": True,
            "plan": plan,
            "limit": limit,
            "reason": "; ".join(reasons),
        }
        context.report(
            details={
                "decompose": "; ".join(reasons),
                "strategy": plan.strategy,
                "blocks": len(plan.blocks),
                "largest_block": max(plan.sizes),
                "limit": limit,
            }
        )
        return ir

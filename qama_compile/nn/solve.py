"""The solver step of the QAMA operator: detached couplings and fields -> one binary selection per item.

Pure numpy (no torch), so that nothing here is traced by ``torch.compile``. The problems are
built by the compiler's own lowering (:func:`qama_compile.core.lowering.build_qama_ir`) and
sampled through the one sampling path (:func:`qama_compile.runtime.sampling.sample_batch`):
a backend with a batched ``sample_ir`` (``cim``, ``exact``) solves a whole batch in one call.

Token layouts (docs/operator.md, "Tokens, padding and masks"):

* **shared** (``Lq == Lk``, the authors' problem): token ``i`` is query ``i`` and key ``i``;
  the problem has one weight ``w_ti`` per head and token, ``J [Lq, Lk]`` is square.
* **bipartite** (``Lq != Lk``): queries and keys are different tokens; query ``i`` gets
  ``u_ti``, key ``j`` gets ``w_tj``, and the energy ``-alpha sum J_ij u_i w_j - beta sum h_j w_j``
  is lowered as a square problem over the ``Lq + Lk`` tokens (queries first) whose only
  couplings are the query-key block. Queries carry no field (values belong to keys).

Padded keys (``kept[b, j]`` False) are not in the problem at all: the items of a batch are
grouped by their number of kept keys and each group is one IR (one backend call); a batch
without padding is one call. Their bits come back as 0.

>>> import numpy as np
>>> from qama_compile.runtime.registry import get_backend
>>> J = np.zeros((2, 1, 3, 3)); h = np.ones((2, 1, 3))
>>> kept = np.array([[True, True, False], [True, True, True]])
>>> sel = solve_selection(J, h, kept=kept, bits=1, sampler=get_backend("exact"), num_reads=1, seed=0)
>>> sel.x[..., 0].tolist(), sel.info["calls"], [g["variables"] for g in sel.info["groups"]]
([[[1, 1, 0]], [[1, 1, 1]]], 2, [2, 3])
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.lowering import build_qama_ir
from ..errors import InvalidInputError
from ..runtime.sampling import sample_batch

__all__ = ["Selection", "solve_selection"]


@dataclass(frozen=True)
class Selection:
    """The solver's answer for a batch.

    Attributes:
        x: ``[B, H, T, bits]`` int8 in {0, 1}; ``T = N`` (shared) or ``Lq + Lk`` (bipartite,
            queries first); padded keys are 0.
        energy: ``[B]``, the QUBO energy of each item's ``x`` (recomputed from its IR).
        info: backend, calls, groups (tokens, items, variables per group), reads, seed, route,
            wall time, and the backend's own facts for batched calls.
    """

    x: NDArray[np.int8]
    energy: NDArray[np.float64]
    info: dict[str, Any] = field(default_factory=dict)


def _group_problems(
    couplings: NDArray[np.float64],
    fields: NDArray[np.float64],
    kept: NDArray[np.bool_] | None,
    shared: bool,
) -> list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]]:
    """``(items [G], tokens [G, T], J [G, H, T, T], h [G, H, T])`` per number of kept keys.

    ``tokens`` are the positions of the problem's tokens on the operator's token axis.
    """
    b, heads, lq, lk = couplings.shape
    if kept is None:
        items, pos = np.arange(b), np.broadcast_to(np.arange(lk), (b, lk))
        parts = [(items, pos, couplings, fields)]
    else:
        hh = np.arange(heads)[None, :, None]
        counts = kept.sum(axis=1)
        parts = []
        for n in np.unique(counts):  # one group per distinct sequence length, not per token
            items = np.flatnonzero(counts == n)
            pos = np.nonzero(kept[items])[1].reshape(items.size, int(n))  # kept key positions, ascending
            rows = pos if shared else np.broadcast_to(np.arange(lq), (items.size, lq))
            sub_j = couplings[items[:, None, None, None], hh[..., None], rows[:, None, :, None], pos[:, None, None, :]]
            parts.append((items, pos, sub_j, fields[items[:, None, None], hh, pos[:, None, :]]))
    if shared:
        return parts
    groups = []
    for items, pos, sub_j, sub_h in parts:  # queries first, then the kept keys; only the query-key block couples
        t = lq + pos.shape[1]
        jg = np.zeros((items.size, heads, t, t))
        jg[:, :, :lq, lq:] = sub_j
        hg = np.zeros((items.size, heads, t))
        hg[:, :, lq:] = sub_h
        tokens = np.concatenate([np.broadcast_to(np.arange(lq), (items.size, lq)), lq + pos], axis=1)
        groups.append((items, tokens, jg, hg))
    return groups


def solve_selection(
    couplings: NDArray[np.float64],
    fields: NDArray[np.float64],
    *,
    kept: NDArray[np.bool_] | None = None,
    shared: bool = True,
    bits: int,
    alpha: float = 1.0,
    beta: float = 1.0,
    penalty: float = 2.0,
    sampler: Any,
    name: str | None = None,
    num_reads: int = 1,
    seed: int | None = None,
    sample_options: Mapping[str, Any] | None = None,
) -> Selection:
    """Solve the QAMA selection problems of a batch: ``J [B, H, Lq, Lk]``, ``h [B, H, Lk]`` -> :class:`Selection`.

    ``J`` and ``h`` are the operator's normalised, masked couplings and fields (disallowed
    pairs already 0). Group ``g`` (in order of increasing kept length) is sampled with seed
    ``seed + (items before it)``, so problem ``b`` of the batch always gets its own stream.
    """
    b, heads, lq, lk = couplings.shape
    if shared and lq != lk:
        raise InvalidInputError(
            f"the shared token layout needs as many queries as keys, got {lq} and {lk}",
            fix="use shared=False (queries and keys as separate tokens)",
        )
    if fields.shape != (b, heads, lk):
        raise InvalidInputError(
            f"fields must be [B, H, Lk] = {(b, heads, lk)}, got {fields.shape}", fix="pass one field per key"
        )
    for what, arr in (("couplings", couplings), ("fields", fields)):
        if not np.isfinite(arr).all():
            raise InvalidInputError(
                f"the QAMA {what} contain NaN or infinite values",
                fix="check the inputs and the layer's parameters for NaN/inf (a diverged training step "
                "shows up here; lower the learning rate or clip gradients)",
            )
    if kept is not None and not kept.any(axis=1).all():
        raise InvalidInputError(
            "an item has every key padded; its problem has no variables",
            fix="leave at least one key unpadded per item (or drop the item)",
        )
    label = name or type(sampler).__name__
    t_total = lq + lk if not shared else lk
    x = np.zeros((b, heads, t_total, bits), dtype=np.int8)
    energy = np.zeros(b)
    hh = np.arange(heads)
    groups_info: list[dict[str, Any]] = []
    routes: list[str] = []
    backend_info: list[Mapping[str, Any]] = []
    t0 = time.perf_counter()
    offset = 0
    for items, tokens, jg, hg in _group_problems(couplings, fields, kept, shared):
        ir = build_qama_ir(jg, hg, bits=bits, alpha=alpha, beta=beta, penalty=penalty)
        group_seed = None if seed is None else seed + offset
        out = sample_batch(ir, sampler, num_reads=num_reads, seed=group_seed, name=label, **dict(sample_options or {}))
        xg, eg = out.best()
        x[items[:, None, None], hh[None, :, None], tokens[:, None, :]] = xg.reshape(items.size, heads, -1, bits)
        energy[items] = eg
        offset += items.size
        routes.append(out.route)
        if out.route == "batched":
            backend_info.append(dict(out.info[0]))
        groups_info.append({"tokens": int(tokens.shape[1]), "items": int(items.size), "variables": ir.num_variables})
    info: dict[str, Any] = {
        "backend": label,
        "calls": len(groups_info),
        "groups": groups_info,
        "route": routes[0] if len(set(routes)) == 1 else routes,
        "path": "batched" if set(routes) == {"batched"} else "per-item",
        "num_reads": num_reads,
        "seed": seed,
        "layout": "shared" if shared else "bipartite",
        "wall_time_s": time.perf_counter() - t0,
    }
    if backend_info:
        info["backend_info"] = backend_info[0] if len(backend_info) == 1 else backend_info
    return Selection(x=x, energy=energy, info=info)

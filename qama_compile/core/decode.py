"""Decoders: the way back from a compiled (physical) problem to logical samples, as data.

A :class:`DecodeStep` is a frozen dataclass plus one function. ``decode(samples)`` takes
``[B, S, V_out]`` samples in the vartype of the IR a pass *returned* and gives
``[B, S, V_in]`` samples in the vartype of the IR the pass *received*; decoding applies the
steps of a pipeline in reverse order (:func:`decode_samples`). ``select(indices)`` gives the
same step for a sub-batch, so one problem can be decoded without touching the others.

>>> import numpy as np
>>> steps = [VartypeChange(source="BINARY", target="SPIN"), AncillaGauge(ancilla=2)]
>>> decode_samples(steps, np.array([[1, -1, -1]])).tolist()
[[[0, 1]]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInputError
from .ir import Vartype

__all__ = [
    "UNEMBED_METHODS",
    "AncillaGauge",
    "ChainEmbedding",
    "DecodeStep",
    "FixVariables",
    "UnembedMethod",
    "VartypeChange",
    "as_batched_samples",
    "decode_physical",
    "decode_samples",
    "decode_samples_with_info",
    "select_steps",
    "step_from_data",
    "step_to_data",
    "steps_from_data",
    "steps_to_data",
]

UnembedMethod = Literal["majority", "discard", "weighted_random"]
UNEMBED_METHODS = ("majority", "discard", "weighted_random")


def as_batched_samples(samples: ArrayLike, batch_size: int | None = None) -> NDArray[Any]:
    """Samples as a ``[B, S, V]`` array (``[S, V]`` gains a batch axis, broadcast to ``batch_size``).

    >>> as_batched_samples(np.zeros((4, 3)), 2).shape
    (2, 4, 3)
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim == 2:
        x = x[None]
        if batch_size is not None:
            x = np.broadcast_to(x, (batch_size, *x.shape[1:]))
    if x.ndim != 3:
        raise InvalidInputError(
            f"samples must be [S, V] or [B, S, V], got shape {np.shape(samples)}",
            fix="stack the samples into one array",
        )
    return x


class DecodeStep(ABC):
    """One step on the way back from physical to logical samples (pure data + a function).

    Subclasses are frozen dataclasses. ``decode`` maps ``[B, S, V_out]`` to ``[B, S, V_in]``;
    ``decode_with_info`` also returns facts such as the chain-break fraction.
    """

    @abstractmethod
    def decode(self, samples: NDArray[Any]) -> NDArray[Any]:
        """Map samples of the pass's output IR to samples of its input IR."""

    def decode_with_info(self, samples: NDArray[Any]) -> tuple[NDArray[Any], dict[str, Any]]:
        """``decode`` plus a dict of facts about the decoding (empty by default)."""
        return self.decode(samples), {}

    def select(self, indices: NDArray[np.int64]) -> DecodeStep:
        """The same step for the sub-batch ``indices`` (steps without per-problem data return themselves)."""
        return self


@dataclass(frozen=True)
class VartypeChange(DecodeStep):
    """The pass converted the IR from ``source`` to ``target`` vartype; decoding converts back.

    >>> VartypeChange(source="BINARY", target="SPIN").decode(np.array([[[-1, 1]]])).tolist()
    [[[0, 1]]]
    """

    source: Vartype
    target: Vartype

    def decode(self, samples: NDArray[Any]) -> NDArray[Any]:
        x = np.asarray(samples)
        if self.source == self.target:
            return x
        if self.source == "BINARY":  # target SPIN -> back to binary
            return ((x + 1) // 2).astype(np.int8)
        return (2 * x - 1).astype(np.int8)


@dataclass(frozen=True, eq=False)
class FixVariables(DecodeStep):
    """Variables ``indices`` of the input IR were fixed to ``values`` and removed.

    ``values`` is ``[k]`` (same for the batch) or ``[B, k]``, in the input IR's vartype;
    ``num_variables`` is the input IR's variable count. The kept variables keep their order.

    >>> step = FixVariables(indices=np.array([1]), values=np.array([1]), num_variables=3)
    >>> step.decode(np.array([[[0, 0], [1, 1]]])).tolist()
    [[[0, 1, 0], [1, 1, 1]]]
    """

    indices: NDArray[np.int64]
    values: NDArray[Any]
    num_variables: int

    def __post_init__(self) -> None:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        vals = np.asarray(self.values)
        if vals.shape[-1] != idx.size:
            raise InvalidInputError(f"FixVariables: {idx.size} indices but values of shape {vals.shape}")
        for name, arr in (("indices", idx), ("values", vals)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def kept(self) -> NDArray[np.int64]:
        """Indices of the input variables that remain in the output IR."""
        mask = np.ones(self.num_variables, dtype=bool)
        mask[self.indices] = False
        return np.flatnonzero(mask)

    def select(self, indices: NDArray[np.int64]) -> FixVariables:
        if self.values.ndim == 1:
            return self
        return FixVariables(indices=self.indices, values=self.values[indices], num_variables=self.num_variables)

    def decode(self, samples: NDArray[Any]) -> NDArray[Any]:
        x = np.asarray(samples)
        b, s, _ = x.shape
        out = np.empty((b, s, self.num_variables), dtype=x.dtype)
        out[:, :, self.kept] = x
        vals = self.values if self.values.ndim == 2 else self.values[None, :]
        out[:, :, self.indices] = np.broadcast_to(vals[:, None, :], (b, s, self.indices.size))
        return out


def select_steps(decoders: Sequence[DecodeStep], indices: ArrayLike) -> tuple[DecodeStep, ...]:
    """The decoders for the sub-batch ``indices`` (so one problem decodes without the others).

    >>> step = FixVariables(indices=np.array([0]), values=np.array([[1], [0]]), num_variables=2)
    >>> decode_samples(select_steps([step], [1]), np.array([[1]])).tolist()
    [[[0, 1]]]
    """
    idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
    return tuple(step.select(idx) for step in decoders)


def decode_samples(
    decoders: Sequence[DecodeStep], samples: ArrayLike, *, batch_size: int | None = None
) -> NDArray[Any]:
    """Apply ``decoders`` in reverse order to physical samples; returns ``[B, S, V]``."""
    return decode_samples_with_info(decoders, samples, batch_size=batch_size)[0]


def decode_samples_with_info(
    decoders: Sequence[DecodeStep], samples: ArrayLike, *, batch_size: int | None = None
) -> tuple[NDArray[Any], dict[str, Any]]:
    """Like :func:`decode_samples`, also merging every step's info dict (later steps win)."""
    x = as_batched_samples(samples, batch_size)
    info: dict[str, Any] = {}
    for step in reversed(tuple(decoders)):
        x, step_info = step.decode_with_info(x)
        info.update(step_info)
    return x, info


@dataclass(frozen=True, eq=False)
class ChainEmbedding(DecodeStep):
    """Physical spin ``p`` (hardware qubit ``qubits[p]``) belongs to the chain of logical ``chain_of[p]``.

    Physical indices are sorted by chain, so each chain is a contiguous segment. ``decode``
    unembeds ``[B, S, Q]`` spins to ``[B, S, V]`` spins by ``method``:

    * ``"majority"``: the sign of the chain sum; a tie takes the chain's first qubit;
    * ``"weighted_random"``: ``+1`` with probability = the chain's fraction of ``+1`` (seeded);
    * ``"discard"``: majority values, but samples with a broken chain are dropped (for a
      batch, samples broken in any problem are dropped, keeping the batch rectangular).

    ``decode_with_info`` reports ``chain_break_fraction`` (mean fraction of broken chains per
    problem) and, for discard, ``kept_fraction``.

    >>> step = ChainEmbedding(qubits=np.array([7, 8, 9]), chain_of=np.array([0, 0, 1]), num_logical=2)
    >>> out, info = step.decode_with_info(np.array([[[1, -1, -1], [1, 1, -1]]]))
    >>> out.tolist(), info["chain_break_fraction"].tolist()
    ([[[1, -1], [1, -1]]], [0.25])
    """

    qubits: NDArray[np.int64]
    chain_of: NDArray[np.int64]
    num_logical: int
    method: UnembedMethod = "majority"
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.method not in UNEMBED_METHODS:
            raise InvalidInputError(f"unembed method must be one of {UNEMBED_METHODS}, got {self.method!r}")
        chain_of = np.asarray(self.chain_of, dtype=np.int64)
        if chain_of.size and np.any(np.diff(chain_of) < 0):
            raise InvalidInputError("physical indices must be sorted by chain")
        for name, arr in (("qubits", np.asarray(self.qubits, dtype=np.int64)), ("chain_of", chain_of)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def chain_lengths(self) -> NDArray[np.int64]:
        return np.bincount(self.chain_of, minlength=self.num_logical)

    @property
    def chain_starts(self) -> NDArray[np.int64]:
        return np.concatenate([[0], np.cumsum(self.chain_lengths)[:-1]]).astype(np.int64)

    def chains(self) -> dict[int, tuple[int, ...]]:
        """The embedding as ``{logical index: (hardware qubits...)}`` (dwave.embedding format)."""
        parts = np.split(self.qubits, np.cumsum(self.chain_lengths)[:-1])
        return {i: tuple(int(q) for q in part) for i, part in enumerate(parts)}

    def decode(self, samples: NDArray[Any]) -> NDArray[Any]:
        return self.decode_with_info(samples)[0]

    def decode_with_info(self, samples: NDArray[Any]) -> tuple[NDArray[Any], dict[str, Any]]:
        x = np.asarray(samples)
        if x.ndim != 3 or x.shape[2] != self.qubits.size:
            raise InvalidInputError(
                f"physical samples must be [B, S, {self.qubits.size}] spins, got {x.shape}",
                fix="pass samples in the physical IR's variable order (CompiledProblem.physical.labels)",
            )
        if self.num_logical == 0:
            return np.zeros((*x.shape[:2], 0), dtype=np.int8), {"chain_break_fraction": np.zeros(x.shape[0])}
        lengths = self.chain_lengths
        starts = self.chain_starts
        total = np.add.reduceat(x.astype(np.int64), starts, axis=2)  # [B, S, V] chain sums
        broken = np.abs(total) != lengths  # not all equal
        first = x[:, :, starts]
        majority = np.where(total > 0, 1, np.where(total < 0, -1, first)).astype(np.int8)
        cbf = broken.mean(axis=(1, 2)) if broken.size else np.zeros(x.shape[0])
        info: dict[str, Any] = {"chain_break_fraction": cbf}
        if self.method == "weighted_random":
            frac_up = (total / lengths + 1) / 2
            rng = np.random.default_rng(self.seed)
            out = np.where(rng.random(frac_up.shape) < frac_up, 1, -1).astype(np.int8)
        elif self.method == "discard":
            ok = ~np.any(broken, axis=(0, 2))  # [S]
            out = majority[:, ok]
            info["kept_fraction"] = float(ok.mean()) if ok.size else 0.0
        else:
            out = majority
        return out, info


@dataclass(frozen=True)
class AncillaGauge(DecodeStep):
    """Spins ``ancilla .. ancilla + count - 1`` (the last ones) carry the fields; logical
    spins are ``s_i * g`` with ``g`` the ancillas' majority sign (a tie takes the first).

    >>> AncillaGauge(ancilla=2).decode(np.array([[[1, -1, -1]]])).tolist()
    [[[-1, 1]]]
    >>> AncillaGauge(ancilla=2, count=3).decode(np.array([[[1, -1, -1, 1, -1]]])).tolist()
    [[[-1, 1]]]
    """

    ancilla: int
    count: int = 1

    def decode(self, samples: NDArray[Any]) -> NDArray[Any]:
        x = np.asarray(samples)
        anc = x[:, :, self.ancilla : self.ancilla + self.count]
        total = anc.sum(axis=2, keepdims=True, dtype=np.int64)
        gauge = np.where(total == 0, anc[:, :, :1], np.sign(total))
        return (x[:, :, : self.ancilla] * gauge).astype(np.int8)


# --------------------------------------------------------------------------- steps as plain JSON data
_STEP_TYPES: dict[str, type[DecodeStep]] = {
    "VartypeChange": VartypeChange,
    "FixVariables": FixVariables,
    "ChainEmbedding": ChainEmbedding,
    "AncillaGauge": AncillaGauge,
}
_STEP_KEYS: dict[str, frozenset[str]] = {
    "VartypeChange": frozenset({"type", "source", "target"}),
    "FixVariables": frozenset({"type", "indices", "values", "num_variables"}),
    "ChainEmbedding": frozenset({"type", "qubits", "chain_of", "num_logical", "method", "seed"}),
    "AncillaGauge": frozenset({"type", "ancilla", "count"}),
}


def step_to_data(step: DecodeStep) -> dict[str, Any]:
    """A decode step as plain JSON data (lists of ints, strings); :func:`step_from_data` reads it back.

    >>> step_to_data(AncillaGauge(ancilla=2))
    {'type': 'AncillaGauge', 'ancilla': 2, 'count': 1}
    >>> step_from_data(step_to_data(VartypeChange(source="BINARY", target="SPIN")))
    VartypeChange(source='BINARY', target='SPIN')
    """
    if isinstance(step, VartypeChange):
        return {"type": "VartypeChange", "source": step.source, "target": step.target}
    if isinstance(step, FixVariables):
        return {
            "type": "FixVariables",
            "indices": step.indices.tolist(),
            "values": step.values.astype(np.int64).tolist(),
            "num_variables": int(step.num_variables),
        }
    if isinstance(step, ChainEmbedding):
        return {
            "type": "ChainEmbedding",
            "qubits": step.qubits.tolist(),
            "chain_of": step.chain_of.tolist(),
            "num_logical": int(step.num_logical),
            "method": step.method,
            "seed": None if step.seed is None else int(step.seed),
        }
    if isinstance(step, AncillaGauge):
        return {"type": "AncillaGauge", "ancilla": int(step.ancilla), "count": int(step.count)}
    raise InvalidInputError(
        f"decode step {type(step).__name__} has no data form",
        fix=f"use the built-in steps ({', '.join(_STEP_TYPES)}) or add a data form for it",
    )


def _bad(what: str) -> InvalidInputError:
    return InvalidInputError(f"decode step: {what}", fix="the decode steps are corrupt; re-export the file")


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise _bad(f"{what} must be an integer in {lo}..{hi}, got {str(value)[:40]!r}")
    return int(value)


def _ints(value: Any, what: str, lo: int, hi: int, ndim: int = 1) -> NDArray[np.int64]:
    if not isinstance(value, list):
        raise _bad(f"{what} must be a list of integers")
    try:
        arr = np.asarray(value) if value else np.zeros((0,) * ndim, dtype=np.int64)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _bad(f"{what} is not a list of integers ({type(exc).__name__})") from None
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu" or arr.ndim != ndim:
        raise _bad(f"{what} must be a {ndim}-D list of integers")
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise _bad(f"{what} holds values outside {lo}..{hi}")
    return arr.astype(np.int64)


def step_from_data(data: Any, *, max_variables: int = 1 << 31) -> DecodeStep:
    """The decode step of :func:`step_to_data` output, validated (sizes bounded by ``max_variables``).

    Raises:
        InvalidInputError: unknown type, missing or extra keys, wrong types, values out of range.

    >>> step_from_data({"type": "AncillaGauge", "ancilla": -1, "count": 1})
    Traceback (most recent call last):
    ...
    qama_compile.errors.InvalidInputError: decode step: ancilla must be an integer in 0..2147483648, got '-1'; \
fix: the decode steps are corrupt; re-export the file
    """
    if not isinstance(data, dict) or data.get("type") not in _STEP_TYPES:
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise _bad(f"unknown type {str(kind)[:40]!r} (known: {', '.join(_STEP_TYPES)})")
    kind = str(data["type"])
    if set(data) != _STEP_KEYS[kind]:
        raise _bad(f"{kind} needs exactly the keys {sorted(_STEP_KEYS[kind])}, got {sorted(map(str, data))[:10]}")
    top = int(max_variables)
    if kind == "VartypeChange":
        if data["source"] not in ("BINARY", "SPIN") or data["target"] not in ("BINARY", "SPIN"):
            raise _bad("VartypeChange source and target must be 'BINARY' or 'SPIN'")
        return VartypeChange(source=data["source"], target=data["target"])
    if kind == "AncillaGauge":
        ancilla = _int(data["ancilla"], "ancilla", 0, top)
        return AncillaGauge(ancilla=ancilla, count=_int(data["count"], "count", 1, top))
    if kind == "FixVariables":
        n = _int(data["num_variables"], "num_variables", 0, top)
        idx = _ints(data["indices"], "indices", 0, n - 1)
        if np.unique(idx).size != idx.size:
            raise _bad("FixVariables indices repeat")
        raw = data["values"]
        ndim = 2 if isinstance(raw, list) and raw and isinstance(raw[0], list) else 1
        vals = _ints(raw, "values", -1, 1, ndim)
        if vals.shape[-1] != idx.size and not (vals.size == 0 and idx.size == 0):
            raise _bad(f"FixVariables has {idx.size} indices but values of shape {vals.shape}")
        return FixVariables(indices=idx, values=vals.reshape(*vals.shape[:-1], idx.size), num_variables=n)
    num_logical = _int(data["num_logical"], "num_logical", 0, top)
    qubits = _ints(data["qubits"], "qubits", 0, 2**62)
    chain_of = _ints(data["chain_of"], "chain_of", 0, max(num_logical - 1, 0))
    if qubits.size != chain_of.size or (qubits.size == 0) != (num_logical == 0):
        raise _bad(f"ChainEmbedding has {qubits.size} qubits and {chain_of.size} chain entries")
    if np.unique(qubits).size != qubits.size:
        raise _bad("ChainEmbedding uses a qubit twice")
    if np.any(np.diff(chain_of) < 0) or np.bincount(chain_of, minlength=num_logical).min(initial=1) == 0:
        raise _bad("ChainEmbedding chains must be sorted and non-empty")
    method, seed = data["method"], data["seed"]
    if method not in UNEMBED_METHODS:
        raise _bad(f"unembed method must be one of {UNEMBED_METHODS}")
    if seed is not None:
        seed = _int(seed, "seed", 0, 2**63 - 1)
    return ChainEmbedding(qubits=qubits, chain_of=chain_of, num_logical=num_logical, method=method, seed=seed)


def steps_to_data(steps: Sequence[DecodeStep]) -> list[dict[str, Any]]:
    """:func:`step_to_data` of every step, in pipeline order."""
    return [step_to_data(s) for s in steps]


def steps_from_data(data: Any, *, max_variables: int = 1 << 31, max_steps: int = 64) -> tuple[DecodeStep, ...]:
    """:func:`step_from_data` of every entry of a list (at most ``max_steps``)."""
    if not isinstance(data, list) or len(data) > max_steps:
        raise _bad(f"the decoder must be a list of at most {max_steps} steps")
    return tuple(step_from_data(d, max_variables=max_variables) for d in data)


# --------------------------------------------------------------------------- physical samples -> logical
def decode_physical(
    decoder: Sequence[DecodeStep],
    logical: Any,
    num_qubits: int,
    physical_samples: ArrayLike,
    *,
    vartype: Vartype = "SPIN",
    problems: Sequence[int] | None = None,
) -> tuple[NDArray[np.int8], dict[str, Any]]:
    """Physical samples ``[B', S, Q]`` / ``[S, Q]`` -> logical samples ``[B', S, V]`` and info.

    The one implementation behind :meth:`CompiledProblem.decode
    <qama_compile.compiler.compiled.CompiledProblem.decode>` and the loaded physical files:
    values are checked (``-1/+1`` for SPIN, ``0/1`` for BINARY), the steps applied in reverse,
    and ``info["logical_energies"] [B', S]`` recomputed from ``logical`` (a ``QuadraticIR``).

    >>> from qama_compile.ir import QuadraticIR
    >>> ir = QuadraticIR.from_coo(linear=[1.0, -1.0])
    >>> x, info = decode_physical([VartypeChange(source="BINARY", target="SPIN")], ir, 2, [[1, -1]])
    >>> x.tolist(), info["logical_energies"].tolist()
    ([[[1, 0]]], [[1.0]])
    """
    b = logical.batch_size
    idx = np.arange(b) if problems is None else np.atleast_1d(np.asarray(problems, dtype=np.int64))
    if idx.size and (idx.min() < 0 or idx.max() >= b):
        raise InvalidInputError(f"problem index out of range for a batch of {b}", fix=f"use indices in 0..{b - 1}")
    q = int(num_qubits)
    x = as_batched_samples(physical_samples, idx.size)
    if x.shape[0] != idx.size or x.shape[2] != q:
        raise InvalidInputError(
            f"physical samples must be [S, {q}] or [{idx.size}, S, {q}], got {np.shape(physical_samples)}",
            fix="order the columns like the physical problem's qubits (CompiledProblem.qubits)",
        )
    lo = -1 if vartype == "SPIN" else 0
    valid = (x == lo) | (x == 1)
    if not valid.all():
        raise InvalidInputError(
            f"physical samples must be {lo} or 1 ({vartype}), got {x[~valid][:5].tolist()}",
            fix="pass vartype='BINARY' for 0/1 samples" if vartype == "SPIN" else "pass vartype='SPIN' for +-1",
        )
    spins = (2 * x.astype(np.int8) - 1).astype(np.int8) if vartype == "BINARY" else x.astype(np.int8)
    steps = tuple(decoder) if problems is None else select_steps(decoder, idx)
    out, info = decode_samples_with_info(steps, spins)
    out = out.astype(np.int8)
    sub = logical if problems is None else logical.select(idx)
    info["logical_energies"] = sub.energies(out) if out.shape[1] else np.zeros((idx.size, 0))
    return out, info

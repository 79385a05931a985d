"""Self-contained physical files: what a compiled problem's file carries to be decoded without us.

Every physical format (``bqm-json`` batch, ``ising-npz``, ``ising-txt``, ``pauli-json``,
``qasm3``, ``lp``) written from a :class:`~qama_compile.compiler.compiled.CompiledProblem`
carries one JSON document, the *compiled record* (schema ``qama-compile/physical``, version 1)::

    {"schema": "qama-compile/physical", "version": 1,
     "target": "dwave-advantage", "graph_id": "pegasus(16)", "kind": "annealer",
     "qubits": [q0, q1, ...],                   # hardware qubit of each physical variable, in file order
     "embedding": {"chains": [[q, ...], ...],    # logical variable i -> its chain of hardware qubits
                   "chain_strength": [...], "unembed": "majority"} | null,
     "quantization": {"bits": 8, "h_step": ..., "j_step": ..., "scale": [...]} | null,
     "decoder": [{"type": "VartypeChange", ...}, {"type": "ChainEmbedding", ...}],  # pipeline order
     "logical": {"vartype": "BINARY", "label_fields": [...], "labels": [[...]], "linear": [[...]],
                 "offset": [...], "rows": [...], "cols": [...], "data": [[...]]},
     "attention": {"heads": H, "tokens": N, "bits": q} | null}

``decoder`` is :func:`~qama_compile.core.decode.steps_to_data`; ``logical`` is the logical
problem (all of the batch, COO of the non-zero couplings, floats in shortest round-trip form,
so logical energies are exact); ``attention`` is what token weights and masks need.
:func:`~qama_compile.formats.load` gives back a :class:`PhysicalFile` for such a file (a
file written without a compiled problem, e.g. by :class:`~qama_compile.formats.physical.ExportPass`,
loads as the physical :class:`~qama_compile.core.ir.QuadraticIR`).

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile import compile, lower_attention
>>> from qama_compile.formats import load
>>> from qama_compile.formats.physical import export_compiled
>>> cp = compile(lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 1, 3, 4)), bits=1), target="chimera-c16")
>>> path = export_compiled(cp, pathlib.Path(tempfile.mkdtemp()) / "p.json")
>>> pf = load(path)
>>> type(pf).__name__, pf.target, pf.num_qubits == cp.num_qubits
('PhysicalFile', 'chimera-c16', True)
>>> spins = np.random.default_rng(1).choice([-1, 1], size=(5, pf.num_qubits))
>>> bool(np.array_equal(pf.decode(spins)[1]["logical_energies"], cp.decode(spins)[1]["logical_energies"]))
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.decode import (
    ChainEmbedding,
    DecodeStep,
    decode_physical,
    steps_from_data,
    steps_to_data,
)
from ..core.ir import QuadraticIR, Vartype
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from ..passes.reports import EmbeddingReport, QuantizationReport
from ._base import build_ir, short
from .validate import as_float, as_int, as_text, check_declared, fail, float_array, int_array

if TYPE_CHECKING:
    import dimod

    from ..compiler.compiled import CompiledProblem

__all__ = ["LEGACY_FIX", "SCHEMA", "PhysicalFile", "compiled_record", "ir_data", "ir_from_data", "open_physical"]

SCHEMA = "qama-compile/physical"
#: The fix for a physical file of qama-compile 0.x (other envelope, no decode data).
LEGACY_FIX = (
    "re-export it with this qama-compile: qama compile INPUT --target T -o FILE{suffix} "
    "(Python: qama_compile.formats.physical.export_compiled)"
)
RECORD_VERSION = 1
_RECORD_KEYS = frozenset(
    {"schema", "version", "target", "graph_id", "kind", "qubits", "embedding", "quantization", "decoder", "logical",
     "attention"}
)  # fmt: skip


# --------------------------------------------------------------------------- an IR as plain data
def ir_data(ir: QuadraticIR) -> dict[str, Any]:
    """``ir`` (the whole batch) as plain JSON data: COO of the couplings non-zero in any problem.

    >>> ir = QuadraticIR.from_coo(linear=[[1.0, 2.0]], rows=[0], cols=[1], data=[[0.5]])
    >>> ir_data(ir)["data"], ir_from_data("x", ir_data(ir)).energies([[1, 1]]).tolist()
    ([[0.5]], [[3.5]])
    """
    flat = ir.flatten()
    keep = np.any(flat.data != 0, axis=0)
    return {
        "vartype": ir.vartype,
        "label_fields": list(ir.label_fields),
        "labels": ir.labels.tolist(),
        "linear": ir.linear.tolist(),
        "offset": ir.offset.tolist(),
        "rows": flat.rows[keep].tolist(),
        "cols": flat.cols[keep].tolist(),
        "data": flat.data[:, keep].tolist(),
    }


def ir_from_data(
    path: str | os.PathLike[str], data: Any, *, fmt: str = "physical", field: str = "logical"
) -> QuadraticIR:
    """The IR of :func:`ir_data` output, every field validated (a FileFormatError naming ``path`` otherwise)."""
    if not isinstance(data, dict):
        fail(path, f"must be an object, got {type(data).__name__}", fmt=fmt, field=field)
    vartype = as_text(path, data.get("vartype"), fmt=fmt, field=f"{field}.vartype", choices=("BINARY", "SPIN"))
    fields = data.get("label_fields")
    if not isinstance(fields, list) or not 1 <= len(fields) <= 8 or not all(isinstance(f, str) for f in fields):
        fail(path, f"must be a list of 1 to 8 names, got {short(fields)}", fmt=fmt, field=f"{field}.label_fields")
    linear = float_array(path, data.get("linear"), fmt=fmt, field=f"{field}.linear")
    if linear.ndim != 2:
        fail(path, f"must be [B, V], got shape {linear.shape}", fmt=fmt, field=f"{field}.linear")
    b, v = linear.shape
    labels = int_array(path, data.get("labels"), fmt=fmt, field=f"{field}.labels", lo=-(2**62), hi=2**62)
    if labels.size == 0:
        labels = labels.reshape(0, len(fields))
    if labels.shape != (v, len(fields)):
        fail(path, f"has shape {labels.shape}, expected ({v}, {len(fields)})", fmt=fmt, field=f"{field}.labels")
    if v > 1 and np.unique(labels, axis=0).shape[0] != v:
        fail(path, "labels two variables alike", fmt=fmt, field=f"{field}.labels")
    offset = float_array(path, data.get("offset"), fmt=fmt, field=f"{field}.offset", shape=(b,))
    rows = int_array(path, data.get("rows"), fmt=fmt, field=f"{field}.rows", lo=0, hi=max(v, 1))
    if rows.ndim != 1:
        fail(path, f"must be a flat list, got shape {rows.shape}", fmt=fmt, field=f"{field}.rows")
    e = rows.size
    cols = int_array(path, data.get("cols"), fmt=fmt, field=f"{field}.cols", shape=(e,), lo=0, hi=max(v, 1))
    values = float_array(path, data.get("data"), fmt=fmt, field=f"{field}.data")
    if values.size == 0:
        values = values.reshape(b, 0)
    if values.shape != (b, e):
        fail(path, f"has shape {values.shape}, expected ({b}, {e})", fmt=fmt, field=f"{field}.data")
    if e and np.any(rows == cols):
        fail(path, "couples a variable with itself", fmt=fmt, field=f"{field}.rows")
    return build_ir(
        path,
        fmt,
        linear=linear,
        rows=rows,
        cols=cols,
        data=values,
        offset=offset,
        vartype=vartype,
        labels=labels,
        label_fields=tuple(fields),
    )


# --------------------------------------------------------------------------- the loaded object
@dataclass(frozen=True, eq=False)
class PhysicalFile:
    """A physical file read back: the physical problem and everything needed to decode it.

    Attributes:
        physical: the problem on the hardware, SPIN, labels (field ``qubit``) = hardware qubit ids.
        logical: the logical problem (energies of decoded samples are recomputed from it).
        decoder: the decode steps, pipeline order (applied in reverse by :meth:`decode`).
        target, graph_id, kind: the target's name, graph fingerprint and kind.
        embedding: logical variable ``i`` -> its chain of hardware qubits (empty without one).
        chain_strength: per problem (empty without an embedding).
        quantization: ``bits``, ``h_step``, ``j_step``, ``scale`` (``None`` when not quantized).
        attention: ``heads``, ``tokens``, ``bits`` when the logical problem is QAMA attention.
        format: the file format it was read from.
    """

    physical: QuadraticIR
    logical: QuadraticIR
    decoder: tuple[DecodeStep, ...]
    target: str | None
    graph_id: str = ""
    kind: str | None = None
    embedding: dict[int, tuple[int, ...]] = field(default_factory=dict)
    chain_strength: tuple[float, ...] = ()
    quantization: dict[str, Any] | None = None
    attention: dict[str, int] | None = None
    format: str = ""

    @property
    def num_qubits(self) -> int:
        return self.physical.num_variables

    @property
    def qubits(self) -> NDArray[np.int64]:
        """Hardware qubit id of each physical variable: the column order of samples."""
        return self.physical.labels[:, 0]

    @property
    def batch_size(self) -> int:
        return self.physical.batch_size

    def decode(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN", problems: Sequence[int] | None = None
    ) -> tuple[NDArray[np.int8], dict[str, Any]]:
        """Physical samples -> logical samples ``[B', S, V]`` and info, as :meth:`CompiledProblem.decode
        <qama_compile.compiler.compiled.CompiledProblem.decode>` (``info["logical_energies"]``,
        ``chain_break_fraction``, ...)."""
        return decode_physical(
            self.decoder, self.logical, self.num_qubits, physical_samples, vartype=vartype, problems=problems
        )

    def weights(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN", problems: Sequence[int] | None = None
    ) -> NDArray[np.float64]:
        """Token weights ``[B', S, H, N]`` (needs the attention facts of a QAMA problem)."""
        logical, _ = self.decode(physical_samples, vartype=vartype, problems=problems)
        return self.weights_of(logical)

    def weights_of(self, logical: NDArray[Any]) -> NDArray[np.float64]:
        """Token weights ``[B', S, H, N]`` of decoded logical (BINARY) samples ``[B', S, V]``."""
        from ..core.hamiltonian import bit_weights

        if self.attention is None:
            raise InvalidInputError(
                "this physical file has no attention facts (it was compiled from an IR, not an AttentionProblem)",
                fix="decode() gives the logical samples and energies; masks need a compiled AttentionProblem",
            )
        h, n, q = self.attention["heads"], self.attention["tokens"], self.attention["bits"]
        x = np.asarray(logical)
        if self.logical.vartype == "SPIN":
            x = (x + 1) // 2
        out: NDArray[np.float64] = x.reshape(*x.shape[:2], h, n, q).astype(np.float64) @ bit_weights(q)
        return out

    def masks(
        self, physical_samples: ArrayLike, *, vartype: Vartype = "SPIN", problems: Sequence[int] | None = None
    ) -> NDArray[np.float64]:
        """Pairwise masks ``[B', S, H, N, N]`` (``w_i w_j``) of physical samples."""
        return AttentionProblem.masks(self.weights(physical_samples, vartype=vartype, problems=problems))

    def to_bqm(self, index: int = 0) -> dimod.BinaryQuadraticModel:
        """Physical problem ``index`` as a SPIN BQM labelled by hardware qubit."""
        from ..core.convert import ir_to_bqm

        return ir_to_bqm(self.physical, index, vartype="SPIN")


# --------------------------------------------------------------------------- writing and reading the record
def compiled_record(compiled: CompiledProblem) -> dict[str, Any]:
    """The compiled record (module docstring) of ``compiled``, plain JSON data."""
    physical = compiled.physical
    emb = compiled.report(EmbeddingReport)
    chain = next((s for s in compiled.decoder if isinstance(s, ChainEmbedding)), None)
    embedding = None
    if chain is not None:
        embedding = {
            "chains": [list(c) for c in chain.chains().values()],
            "chain_strength": [float(x) for x in (emb.chain_strength if emb is not None else ())],
            "unembed": chain.method,
        }
    quant = compiled.report(QuantizationReport)
    quantization = None
    if quant is not None:
        quantization = {
            "bits": quant.bits,
            "h_step": quant.h_step,
            "j_step": quant.j_step,
            "scale": [float(x) for x in quant.scale],
        }
    attention = None
    if compiled.problem is not None:
        _, h, n, q = compiled.problem.shape
        attention = {"heads": int(h), "tokens": int(n), "bits": int(q)}
    return {
        "schema": SCHEMA,
        "version": RECORD_VERSION,
        "target": compiled.target.name,
        "graph_id": compiled.target.graph_id,
        "kind": compiled.target.kind,
        "qubits": physical.labels[:, 0].tolist(),
        "embedding": embedding,
        "quantization": quantization,
        "decoder": steps_to_data(compiled.decoder),
        "logical": ir_data(compiled.logical),
        "attention": attention,
    }


def _optional_text(path: str | os.PathLike[str], value: Any, fmt: str, name: str) -> str | None:
    return None if value is None else as_text(path, value, fmt=fmt, field=f"compiled.{name}")


def _in_order(path: str | os.PathLike[str], ir: QuadraticIR, qubits: NDArray[np.int64], fmt: str) -> QuadraticIR:
    """``ir`` with its variables permuted into the order of ``qubits`` (the same set of labels)."""
    flat = ir.flatten()
    new_index = np.empty(ir.num_variables, dtype=np.int64)
    new_index[np.argsort(ir.labels[:, 0])] = np.argsort(qubits)  # old position -> new position (k-th smallest label)
    old_of_new = np.empty_like(new_index)
    old_of_new[new_index] = np.arange(ir.num_variables)
    return build_ir(
        path,
        fmt,
        linear=flat.linear[:, old_of_new],
        rows=new_index[flat.rows],
        cols=new_index[flat.cols],
        data=flat.data,
        offset=flat.offset,
        vartype=flat.vartype,
        labels=qubits.reshape(-1, 1),
        label_fields=flat.label_fields,
        meta=flat.meta,
    )


def qubit_batch(
    path: str | os.PathLike[str],
    fmt: str,
    *,
    linear: NDArray[np.float64],
    keys: list[NDArray[np.int64]],
    which: list[NDArray[np.int64]],
    values: list[NDArray[np.float64]],
    offset: ArrayLike,
    qubits: NDArray[np.int64],
    size: int,
    what: str,
    extra_bytes: int = 0,
) -> QuadraticIR:
    """The SPIN batch over ``qubits`` from per-problem couplings keyed ``i * Q + j`` (``i < j``).

    ``keys[k]``, ``which[k]`` (the problem of each entry) and ``values[k]`` are the coupling
    lists of each problem; entries with the same key add up, and the batch shares the union of
    the keys. The merged arrays (plus ``extra_bytes``) are checked against the loader limit of
    a ``size``-byte file before they are allocated.
    """
    q = qubits.size
    b = linear.shape[0]
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    check_declared(path, 8 * b * uniq.size + extra_bytes, file_size=size, fmt=fmt, field="problems",
                   what=f"{what} and {uniq.size} couplers")  # fmt: skip
    data = np.zeros((b, uniq.size))
    if keys:
        np.add.at(data, (np.concatenate(which).astype(np.int64), inverse), np.concatenate(values))
    return build_ir(
        path,
        fmt,
        linear=linear,
        rows=uniq // max(q, 1),
        cols=uniq % max(q, 1),
        data=data,
        offset=offset,
        vartype="SPIN",
        labels=qubits.reshape(q, 1),
        label_fields=("qubit",),
    )


def open_physical(
    path: str | os.PathLike[str], physical: QuadraticIR, record: Any, *, fmt: str
) -> QuadraticIR | PhysicalFile:
    """The loaded object: ``physical`` alone when ``record`` is ``None``, else a validated :class:`PhysicalFile`.

    Checks that the record's qubits are the physical problem's, that the decode steps take
    ``[B, S, Q]`` spins to ``[B, S, V]`` logical samples, and that the embedding and attention
    facts agree with them; anything else is a FileFormatError naming ``path``.
    """
    if record is None:
        return physical
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        fail(path, f"is not a {SCHEMA} record", fmt=fmt, field="compiled")
    if as_int(path, record.get("version"), fmt=fmt, field="compiled.version") != RECORD_VERSION:
        fail(
            path,
            f"compiled record version {record.get('version')} is not supported (this reads {RECORD_VERSION})",
            fix="upgrade qama-compile, or re-export the file with this one",
            fmt=fmt,
            field="compiled.version",
        )
    extra = set(record) - _RECORD_KEYS
    if extra:
        fail(path, f"has unknown keys {sorted(extra)[:5]}", fmt=fmt, field="compiled")
    q = physical.num_variables
    qubits = int_array(path, record.get("qubits"), fmt=fmt, field="compiled.qubits", shape=(q,), lo=0, hi=2**62)
    if physical.labels.shape[1] != 1 or not np.array_equal(np.sort(qubits), np.sort(physical.labels[:, 0])):
        fail(path, "the qubit ids differ from the physical problem's variables", fmt=fmt, field="compiled.qubits")
    if not np.array_equal(qubits, physical.labels[:, 0]):  # e.g. dimod serializes sorted labels
        physical = _in_order(path, physical, qubits, fmt)
    logical = ir_from_data(path, record.get("logical"), fmt=fmt, field="compiled.logical")
    if logical.batch_size != physical.batch_size:
        fail(
            path,
            f"holds {logical.batch_size} logical problems for {physical.batch_size} physical ones",
            fmt=fmt,
            field="compiled.logical",
        )
    bound = max(q, logical.num_variables)
    try:
        decoder = steps_from_data(record.get("decoder"), max_variables=bound)
        probe, _ = decode_physical(decoder, logical, q, -np.ones((physical.batch_size, 1, q), dtype=np.int8))
    except InvalidInputError as exc:
        fail(path, f"decode steps do not fit the problem ({str(exc).split('; fix:')[0]})", fmt=fmt,
             field="compiled.decoder")  # fmt: skip
    except (ValueError, IndexError, TypeError) as exc:
        fail(path, f"decode steps do not fit the problem ({type(exc).__name__})", fmt=fmt, field="compiled.decoder")
    if probe.shape != (physical.batch_size, 1, logical.num_variables):
        fail(
            path,
            f"decode steps give {probe.shape[-1]} logical variables, the logical problem has {logical.num_variables}",
            fmt=fmt,
            field="compiled.decoder",
        )
    embedding: dict[int, tuple[int, ...]] = {}
    strength: tuple[float, ...] = ()
    chain = next((s for s in decoder if isinstance(s, ChainEmbedding)), None)
    raw_emb = record.get("embedding")
    if raw_emb is not None:
        if not isinstance(raw_emb, dict) or chain is None:
            fail(path, "an embedding needs a ChainEmbedding decode step", fmt=fmt, field="compiled.embedding")
        embedding = chain.chains()
        chains = raw_emb.get("chains")
        if not isinstance(chains, list) or [list(c) if isinstance(c, list) else c for c in chains] != [
            list(c) for c in embedding.values()
        ]:
            fail(path, "the chains differ from the ChainEmbedding decode step", fmt=fmt, field="compiled.embedding")
        cs = raw_emb.get("chain_strength", [])
        values = float_array(path, cs, fmt=fmt, field="compiled.embedding.chain_strength")
        if values.ndim != 1:
            fail(path, f"must be a flat list of numbers, got shape {values.shape}", fmt=fmt,
                 field="compiled.embedding.chain_strength")  # fmt: skip
        strength = tuple(values.tolist())
    quantization = record.get("quantization")
    if quantization is not None:
        if not isinstance(quantization, dict):
            fail(path, "must be an object or null", fmt=fmt, field="compiled.quantization")
        for key in ("h_step", "j_step"):
            if quantization.get(key) is not None:
                as_float(path, quantization[key], fmt=fmt, field=f"compiled.quantization.{key}")
    attention = record.get("attention")
    if attention is not None:
        if not isinstance(attention, dict) or set(attention) != {"heads", "tokens", "bits"}:
            fail(path, "must be {heads, tokens, bits} or null", fmt=fmt, field="compiled.attention")
        attention = {k: as_int(path, attention[k], fmt=fmt, field=f"compiled.attention.{k}") for k in attention}
        if attention["heads"] * attention["tokens"] * attention["bits"] != logical.num_variables or not all(
            attention.values()
        ):
            fail(path, "heads * tokens * bits is not the logical variable count", fmt=fmt, field="compiled.attention")
    return PhysicalFile(
        physical=physical,
        logical=logical,
        decoder=decoder,
        target=_optional_text(path, record.get("target"), fmt, "target"),
        graph_id=_optional_text(path, record.get("graph_id"), fmt, "graph_id") or "",
        kind=_optional_text(path, record.get("kind"), fmt, "kind"),
        embedding=embedding,
        chain_strength=strength,
        quantization=quantization,
        attention=attention,
        format=fmt,
    )

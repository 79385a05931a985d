"""File formats: save and load QAMA problems and IRs, versioned, atomic, without pickle.

==========  =============  ========  ===========================================================
format      suffixes       holds     content
==========  =============  ========  ===========================================================
bqm-json    .json          both      dimod ``to_serializable`` in an envelope (logical: one problem)
npz         .npz           logical   IR arrays of the whole batch (+ J, h, attention, parameters)
coo         .coo, .txt     logical   ``# key: value`` header, ``i j bias`` lines
mtx         .mtx           logical   Matrix Market upper-triangular QUBO
lp          .lp            both      CPLEX LP via ``dimod.lp`` (exact)
kaiwu       .csv           logical   Kaiwu SDK Ising matrix, fields on an ancilla spin (last)
ising-npz   .npz           physical  Ising arrays, integer DAC codes when quantized
ising-txt   .txt           physical  ``problem i j value`` lines, qubit ids in the header
pauli-json  .json          physical  Pauli-Z terms and the qubit order
qasm3       .qasm, .qasm3  physical  QAOA circuit (OpenQASM 3) + the problem as data
==========  =============  ========  ===========================================================

One registry (:mod:`qama_compile.formats.registry`) lists them all; :func:`load` reads every
file written by :func:`save` (logical) or :func:`~qama_compile.formats.physical.export_compiled`
(physical: a :class:`~qama_compile.formats.physical_file.PhysicalFile` that decodes samples
by itself; see :mod:`qama_compile.formats.physical_file`). Where several formats share a
suffix (``.json``, ``.npz``, ``.txt``), :func:`load` tells them apart by the file's format tag.

Single-problem formats take ``index``; for a batch of ``B > 1`` with ``index=None``,
:func:`save` writes one file per problem, ``name_b0.json``, ``name_b1.json`` ..., as one
atomic set (a temporary directory, then every file moved into place with interrupts held
off) with ``name.manifest.json`` listing the complete set, and returns the list of paths.
Every file carries ``qama-compile/<format>`` and a version; loading a corrupt, truncated,
wrong-format, wrong-version, oversized or pickled file raises
:class:`~qama_compile.errors.FileFormatError` naming the path, the field and the fix, and
no file makes a reader allocate more than a small multiple of its size
(:func:`~qama_compile.formats.validate.loader_limit`).

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 2, 3, 4)), bits=2)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> [p.name for p in save(problem, d / "p.coo")]
['p_b0.coo', 'p_b1.coo']
>>> sorted(p.name for p in d.iterdir())
['p.manifest.json', 'p_b0.coo', 'p_b1.coo']
>>> ir = load(d / "p_b1.coo")
>>> x = np.random.default_rng(1).integers(0, 2, size=(4, ir.num_variables))
>>> bool(np.allclose(ir.energies(x)[0], problem.reference_energy(x)[1]))
True
>>> save(problem, d / "all.npz").name, type(load(d / "all.npz")).__name__
('all.npz', 'AttentionProblem')
"""

from __future__ import annotations

import os
from pathlib import Path

from ..base.atomic import atomic_file_set, check_output_path
from ..base.memory import check_memory, writer_bytes
from ..core.ir import QuadraticIR
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError
from . import npz
from ._base import DEFAULT_MAX_BYTES, VERSION, count_couplings, index_of
from .decode_file import DecodedSamples, decode_file, read_samples
from .physical_file import PhysicalFile
from .registry import FORMATS, FormatSpec, format_for_path, read_file

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "VERSION",
    "DecodedSamples",
    "FormatSpec",
    "PhysicalFile",
    "decode_file",
    "format_for_path",
    "load",
    "read_samples",
    "save",
]


def save(
    obj: QuadraticIR | AttentionProblem,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    index: int | None = None,
) -> Path | list[Path]:
    """Write ``obj`` to ``path`` atomically; returns the path, or the list of paths written.

    Args:
        obj: a :class:`QuadraticIR` or an :class:`AttentionProblem` (only ``npz`` keeps the
            attention facts; the other formats store its IR).
        path: the output file; the suffix picks the format unless ``format`` is given. Its
            directory must exist; a directory or a symbolic link at ``path`` is refused.
        format: one of :data:`FORMATS`.
        index: the problem of the batch to write. ``npz`` then writes that one problem;
            single-problem formats write it to ``path``. With ``index=None`` a batch of one
            goes to ``path`` and a batch of ``B > 1`` to ``<stem>_b<i><suffix>``, one per
            problem, written as one set with ``<stem>.manifest.json`` naming it.

    Raises:
        ProblemTooLargeError: the writer would need more memory than the budget
            (:func:`qama_compile.base.memory.writer_bytes`), checked before writing.
        InvalidInputError: an output path that is a directory, a symbolic link, or whose
            directory does not exist.
    """
    if not isinstance(obj, (QuadraticIR, AttentionProblem)):
        raise InvalidInputError(
            f"save() takes a QuadraticIR or an AttentionProblem, got {type(obj).__name__}",
            fix="lower attention tensors with qama_compile.lower_attention first",
        )
    fmt = format_for_path(path, format)
    if not FORMATS[fmt].logical:
        raise InvalidInputError(
            f"{fmt} is a physical format: it holds a problem compiled for a target",
            fix="compile first and write with qama_compile.formats.physical.export_compiled (CLI: qama compile "
            "--target T -o FILE), or pick a logical format: "
            + ", ".join(s.name for s in FORMATS.values() if s.logical),
        )
    target = check_output_path(path)
    ir = obj.ir if isinstance(obj, AttentionProblem) else obj
    if FORMATS[fmt].batch:
        if index is not None:
            i = index_of(ir, index)
            obj = obj.select([i])
            ir = obj.ir if isinstance(obj, AttentionProblem) else obj
        _check_writer(fmt, ir, range(ir.batch_size))
        npz.write(obj, target)
        return target
    write = FORMATS[fmt].write
    assert write is not None
    if index is not None or ir.batch_size == 1:
        i = index_of(ir, index)
        _check_writer(fmt, ir, [i])
        write(ir, target, i)
        return target
    paths = [target.with_name(f"{target.stem}_b{b}{target.suffix}") for b in range(ir.batch_size)]
    _check_writer(fmt, ir, range(ir.batch_size))
    with atomic_file_set(paths, manifest=target.with_name(f"{target.stem}.manifest.json")) as temps:
        for b, p in enumerate(temps):  # one file per problem of the batch
            write(ir, p, b)
    return paths


def _check_writer(fmt: str, ir: QuadraticIR, indices: range | list[int]) -> None:
    """Refuse (before writing) when the writer's transient memory exceeds the budget."""
    couplers = max((count_couplings(ir, b) for b in indices), default=0) if fmt != "npz" else ir.num_couplers
    # the kaiwu writer's chunk is at least one matrix row (V + 1 entries); the others' one block row
    block = ir.num_variables + 1 if fmt == "kaiwu" else ir.block_size
    need = writer_bytes(fmt, variables=ir.num_variables, couplers=couplers, batch=len(indices), block=block)
    check_memory(
        need,
        what=f"writing {fmt} ({len(indices)} problem(s) of {ir.num_variables} variables, {couplers} couplers)",
        fix="write fewer problems (--index), use the npz format, or lower a smaller problem",
    )


def load(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QuadraticIR | AttentionProblem | PhysicalFile:
    """Read any file of :data:`FORMATS`: written by :func:`save` or by a physical export.

    ``npz`` files give back what was saved (an :class:`AttentionProblem` or a batched
    :class:`QuadraticIR`); the single-problem formats give a :class:`QuadraticIR` with
    ``batch_size == 1``; a physical file written from a compiled problem gives a
    :class:`~qama_compile.formats.physical_file.PhysicalFile` (``decode()``, logical energies,
    masks), one written from an IR alone its physical :class:`QuadraticIR`. Files over
    ``max_bytes`` (default 1 GiB) are refused before reading; every declared size is checked
    against the bytes present and the loader's memory limit before anything is allocated.

    Raises:
        FileFormatError: corrupt, truncated, inconsistent, wrong format or version, oversized,
            pickled; the message names the path and the field, and ends with the fix.
        UnknownNameError: the format cannot be inferred or is unknown.
    """
    return read_file(path, format=format, max_bytes=max_bytes)

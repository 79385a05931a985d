"""The one table of file formats: name, suffixes, reader, writers, and what each can hold.

Every format has one :class:`FormatSpec` in :data:`FORMATS`; ``load`` reads any of them, ``save``
writes the logical ones, :func:`~qama_compile.formats.physical.export_compiled` the physical
ones. Adding a format is one entry here plus its module (``read``; ``write`` for logical
problems, ``write_physical`` for compiled ones).

>>> [s.name for s in FORMATS.values() if s.physical]
['bqm-json', 'lp', 'ising-npz', 'ising-txt', 'pauli-json', 'qasm3']
>>> spec_for_suffix(".txt")[0].name, [s.name for s in spec_for_suffix(".txt")]
('coo', ['coo', 'ising-txt'])
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError
from . import bqm_json, coo, ising_npz, ising_txt, kaiwu, lp, mtx, npz, pauli_json, qasm3

__all__ = ["FORMATS", "FormatSpec", "format_for_path", "read_file", "register", "spec_for_suffix"]


@dataclass(frozen=True)
class FormatSpec:
    """A registered file format.

    Attributes:
        name: the format's name (``format=`` / ``--format``); files carry ``qama-compile/<name>``.
        suffixes: file suffixes it is inferred from (the first format listing a suffix wins
            for writing; reading looks at the file's format tag).
        batch: ``True``: a logical file holds the whole batch; ``False``: one problem per file.
        description: one line for docs and ``--help``.
        read: ``read(path, *, max_bytes) -> QuadraticIR | AttentionProblem | PhysicalFile``.
        write: logical writer ``write(ir, path, index)`` (``npz``: ``write(obj, path)``), or ``None``.
        write_physical: physical writer ``write_physical(spin_ir, path, *, head, record[, reps])``, or ``None``.
        kinds: target kinds this is the default physical format of (``"annealer"``, ``"cim"``, ...).
    """

    name: str
    suffixes: tuple[str, ...]
    batch: bool
    description: str
    read: Callable[..., Any] | None = None
    write: Callable[..., None] | None = None
    write_physical: Callable[..., None] | None = None
    kinds: tuple[str, ...] = ()

    @property
    def logical(self) -> bool:
        """Writes logical problems (:func:`qama_compile.formats.save`)."""
        return self.write is not None

    @property
    def physical(self) -> bool:
        """Writes compiled problems (:func:`qama_compile.formats.physical.export_compiled`)."""
        return self.write_physical is not None


FORMATS: dict[str, FormatSpec] = {}


def register(spec: FormatSpec) -> FormatSpec:
    """Add ``spec`` to :data:`FORMATS` (its name must be new); returns it."""
    if spec.name in FORMATS:
        raise ValueError(f"format {spec.name!r} is registered already")
    FORMATS[spec.name] = spec
    return spec


def spec_for_suffix(suffix: str) -> list[FormatSpec]:
    """The formats that use ``suffix``, in registry order."""
    return [s for s in FORMATS.values() if suffix.lower() in s.suffixes]


for _spec in (
    FormatSpec("bqm-json", (".json",), False, "dimod BQM JSON (to_serializable) in an envelope; physical: "
               "one BQM per problem + the compiled record", bqm_json.read, bqm_json.write, bqm_json.write_physical,
               ("annealer",)),
    FormatSpec("npz", (".npz",), True, "numpy archive of the whole batch, no pickle", npz.read, npz.write),
    FormatSpec("coo", (".coo", ".txt"), False, "text: '#' header, then 'i j bias' lines", coo.read, coo.write),
    FormatSpec("mtx", (".mtx",), False, "Matrix Market upper-triangular QUBO", mtx.read, mtx.write),
    FormatSpec("lp", (".lp",), False, "CPLEX LP via dimod.lp (exact)", lp.read, lp.write, lp.write_physical),
    FormatSpec("kaiwu", (".csv",), False, "QBoson Kaiwu SDK Ising matrix (CSV, fields on an ancilla spin, last) "
               "for the paper's CIM", kaiwu.read, kaiwu.write),
    FormatSpec("ising-npz", (".npz",), True, "physical Ising batch as arrays (integer DAC codes when quantized)",
               ising_npz.read, None, ising_npz.write, ("cim",)),
    FormatSpec("ising-txt", (".txt",), True, "physical Ising batch as 'problem i j value' lines, qubit ids in "
               "the header", ising_txt.read, None, ising_txt.write),
    FormatSpec("pauli-json", (".json",), True, "physical problem as Pauli-Z terms with the qubit order",
               pauli_json.read, None, pauli_json.write),
    FormatSpec("qasm3", (".qasm", ".qasm3"), True, "QAOA circuit (OpenQASM 3) + the problem as data",
               qasm3.read, None, qasm3.write, ("gate", "simulator")),
):  # fmt: skip
    register(_spec)


def _known() -> str:
    return ", ".join(f"{s.name} ({'/'.join(s.suffixes)})" for s in FORMATS.values())


def format_for_path(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format name: ``format`` if given (validated), else inferred from the suffix.

    >>> format_for_path("out/problem.mtx"), format_for_path("x.dat", "coo")
    ('mtx', 'coo')
    """
    if format is not None:
        if format not in FORMATS:
            raise UnknownNameError(
                f"unknown format {format!r}; known formats: {_known()}",
                fix="pick one of the known formats",
                name=format,
                known=sorted(FORMATS),
            )
        return format
    suffix = Path(path).suffix.lower()
    for spec in FORMATS.values():
        if suffix in spec.suffixes:
            return spec.name
    raise UnknownNameError(
        f"cannot infer the format of {str(path)!r} from its suffix {suffix or '(none)'!r}; known formats: {_known()}",
        fix="use one of the suffixes or pass format=... (--format on the command line)",
        name=suffix,
        known=sorted(FORMATS),
    )


_TAG = re.compile(rb"qama-compile/([a-z0-9-]{1,32})")
_LEGACY_TAGS = {"bqm": "bqm-json", "pauli": "pauli-json", "ising": "ising-npz"}


def _sniff(path: str | os.PathLike[str], candidates: list[FormatSpec]) -> FormatSpec:
    """Of the formats sharing a suffix, the one the file's tag names (else the first; its reader reports)."""
    if len(candidates) < 2:
        return candidates[0]
    names = {c.name: c for c in candidates}
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, ValueError):
        return candidates[0]
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                members = set(z.namelist()[:64])
        except Exception:  # only a sniff: the chosen reader validates and reports
            return candidates[0]
        if {"J.npy", "header.npy"} <= members and "ising-npz" in names:
            return names["ising-npz"]
        return candidates[0]
    if head.startswith(b"# qama-compile ising") and "ising-txt" in names:
        return names["ising-txt"]
    found = _TAG.search(head)
    if found:
        tag = found.group(1).decode()
        tag = _LEGACY_TAGS.get(tag, tag)
        if tag in names:
            return names[tag]
    return candidates[0]


def read_file(path: str | os.PathLike[str], *, format: str | None = None, max_bytes: int) -> Any:
    """Read ``path`` with the reader of ``format`` (else of its suffix, told apart by the file's tag)."""
    if format is not None:
        spec = FORMATS[format_for_path(path, format)]
    else:
        spec = _sniff(path, spec_for_suffix(Path(path).suffix) or [FORMATS[format_for_path(path)]])
    assert spec.read is not None
    return spec.read(path, max_bytes=max_bytes)

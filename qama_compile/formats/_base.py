"""Shared helpers of the file formats: envelopes, versions, size caps, error construction."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..errors import FileFormatError, InvalidInputError

#: Prefix of every format name written into a file (``qama-compile/<name>``).
PREFIX = "qama-compile/"
#: The one version each format currently writes and reads.
VERSION = 1
#: Files larger than this are refused before reading (override with ``max_bytes=``).
DEFAULT_MAX_BYTES = 1 << 30


def fail(
    path: str | os.PathLike[str], message: str, *, fix: str, fmt: str | None = None, version: Any = None
) -> NoReturn:
    """Raise :class:`FileFormatError` naming ``path``."""
    raise FileFormatError(f"{path}: {message}", fix=fix, path=str(path), format=fmt, version=version)


def read_text(path: str | os.PathLike[str], fmt: str, *, fix: str) -> str:
    """The whole file as UTF-8 text; anything else is a :class:`FileFormatError`."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        fail(path, f"is not UTF-8 text ({exc})", fix=fix, fmt=fmt)


def check_size(path: str | os.PathLike[str], max_bytes: int) -> int:
    """The file size; refuse a missing file or one over ``max_bytes`` before reading it."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        fail(path, "no such file", fix="check the path")
    except OSError as exc:
        fail(path, f"cannot be read ({exc.strerror or exc})", fix="check the path and its permissions")
    except ValueError as exc:  # e.g. an embedded NUL byte
        fail(path, f"is not a valid path ({exc})", fix="check the path")
    if not p.is_file():
        fail(path, "is not a regular file", fix="pass the path of a file")
    if size > max_bytes:
        fail(
            path,
            f"is {size} bytes, over the limit of {max_bytes} bytes",
            fix="pass a larger max_bytes= to load() if you trust this file",
        )
    return size


def check_version(path: str | os.PathLike[str], fmt: str, found_format: Any, version: Any) -> None:
    """Refuse a file whose format tag is not ``qama-compile/<fmt>`` or whose version is unsupported."""
    expected = PREFIX + fmt
    if found_format != expected:
        fail(
            path,
            f"format tag is {found_format!r}, expected {expected!r}",
            fix=f"load it with the matching format (format=...), or re-export it as {fmt}",
            fmt=fmt,
        )
    try:
        v = int(version)
    except (TypeError, ValueError):
        fail(path, f"version {version!r} is not an integer", fix="re-export the file with qama-compile", fmt=fmt)
    if v != VERSION:
        newer = v > VERSION
        fail(
            path,
            f"{fmt} version {v} is not supported (this qama-compile reads version {VERSION})",
            fix="upgrade qama-compile" if newer else "re-export the file with this qama-compile",
            fmt=fmt,
            version=v,
        )


def build_ir(path: str | os.PathLike[str], fmt: str, **kwargs: Any) -> QuadraticIR:
    """``QuadraticIR(...)`` / ``from_coo`` whose validation errors become FileFormatErrors."""
    try:
        if "blocks" in kwargs:
            return QuadraticIR(**kwargs)
        return QuadraticIR.from_coo(**kwargs)
    except (InvalidInputError, ValueError, TypeError) as exc:
        fail(path, f"inconsistent {fmt} content ({exc})", fix="the file is corrupt; re-export it", fmt=fmt)


def parse_labels(path: str | os.PathLike[str], fmt: str, text: str, v: int, k: int) -> NDArray[np.int64]:
    """Labels written as ``a,b,c a,b,c ...`` (``k`` fields per variable) -> ``[v, k]``."""
    try:
        flat = np.array(text.replace(",", " ").split(), dtype=np.int64)
    except ValueError:
        fail(path, "labels are not integers", fix="the file is corrupt; re-export it", fmt=fmt)
    if flat.size != v * k:
        fail(
            path,
            f"expected {v} labels of {k} fields, found {flat.size} numbers",
            fix="the file is corrupt or truncated; re-export it",
            fmt=fmt,
        )
    return flat.reshape(v, k)


def format_labels(labels: NDArray[np.int64]) -> str:
    """Inverse of :func:`parse_labels` (vectorised string building)."""
    if labels.size == 0:
        return ""
    s = labels.astype(str)
    joined = s[:, 0]
    for col in range(1, s.shape[1]):  # label fields (1..3), not variables
        joined = np.char.add(np.char.add(joined, ","), s[:, col])
    return " ".join(joined.tolist())


def index_of(ir: QuadraticIR, index: int | None) -> int:
    """A valid problem index of ``ir`` (``None`` means 0)."""
    i = 0 if index is None else int(index)
    if not -ir.batch_size <= i < ir.batch_size:
        raise InvalidInputError(
            f"problem index {i} out of range for a batch of {ir.batch_size}",
            fix=f"use an index in 0..{ir.batch_size - 1}",
        )
    return i % ir.batch_size

"""Shared helpers of the file formats: versions, size caps, IR construction, chunked text output.

Validation of untrusted content lives in :mod:`qama_compile.formats.validate` (re-exported
here where the readers use it).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from .validate import CORRUPT, check_declared, fail, int_array, loader_limit

__all__ = [
    "CHUNK",
    "CORRUPT",
    "DEFAULT_MAX_BYTES",
    "PREFIX",
    "VERSION",
    "build_ir",
    "check_declared",
    "check_size",
    "check_unique_labels",
    "check_version",
    "count_couplings",
    "fail",
    "index_of",
    "iter_couplings",
    "label_fields",
    "labels_array",
    "loader_limit",
    "parse_labels",
    "read_header",
    "read_text",
    "short",
    "text_file",
    "text_of",
    "write_labels",
]

#: Prefix of every format name written into a file (``qama-compile/<name>``).
PREFIX = "qama-compile/"
#: The one version each format currently writes and reads.
VERSION = 1
#: Files larger than this are refused before reading (override with ``max_bytes=``).
DEFAULT_MAX_BYTES = 1 << 30
#: Entries formatted per chunk by the text writers (bounds their memory, not their output).
CHUNK = 1 << 14

_add = getattr(np, "strings", np.char).add  # numpy >= 2: the faster ufunc


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (file content in messages stays short)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: str | os.PathLike[str], fmt: str, *, fix: str) -> str:
    """The whole file as UTF-8 text; anything else is a :class:`FileFormatError`."""
    with text_file(path, fmt, fix=fix) as fh:
        return fh.read()


@contextmanager
def text_file(path: str | os.PathLike[str], fmt: str, *, fix: str = CORRUPT) -> Iterator[IO[str]]:
    """``path`` open as UTF-8 text; undecodable bytes and OS errors become :class:`FileFormatError`."""
    try:
        with open(path, encoding="utf-8", newline=None) as fh:
            yield fh
    except UnicodeDecodeError as exc:
        fail(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", fix=fix, fmt=fmt)
    except OSError as exc:
        fail(path, f"cannot be read ({exc.strerror or exc})", fix="check the path and its permissions", fmt=fmt)


def read_header(
    fh: IO[str],
    path: str | os.PathLike[str],
    fmt: str,
    *,
    required: tuple[str, ...],
    max_lines: int,
    ends: Callable[[str], bool] | None = None,
) -> tuple[dict[str, str], str]:
    """The leading ``# key: value`` lines of a text file (format and version checked), and the first other line.

    At most ``max_lines`` header lines are read; ``ends(line)`` may end the header early (a
    comment line that belongs to the body). A missing ``required`` key is a
    :class:`FileFormatError` naming it.
    """
    header: dict[str, str] = {}
    first = ""
    for count in itertools.count():
        line = fh.readline()
        if not line.startswith("#") or (ends is not None and ends(line)):
            first = line
            break
        if count >= max_lines:
            fail(path, f"has more than {max_lines} header lines", fmt=fmt)
        key, sep, value = line[1:].strip().partition(":")
        if sep:
            header[key.strip()] = value.strip()
    check_version(path, fmt, header.get("format"), header.get("version"))
    missing = [k for k in required if k not in header]
    if missing:
        fail(path, f"lacks {missing}", fmt=fmt, field="header")
    return header, first


def label_fields(path: str | os.PathLike[str], fmt: str, text: str) -> tuple[str, ...]:
    """The names of a header's ``label_fields`` line (``index`` when empty; at most 8)."""
    fields = tuple(text.split()) or ("index",)
    if len(fields) > 8:
        fail(path, f"has {len(fields)} fields, at most 8 are allowed", fmt=fmt, field="label_fields")
    return fields


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


def _version_number(version: Any) -> int | None:
    if isinstance(version, np.ndarray) and version.shape == () and version.dtype.kind in "iu":
        return int(version)
    if isinstance(version, (int, np.integer)) and not isinstance(version, (bool, np.bool_)):
        return int(version)
    if isinstance(version, str) and 0 < len(version.strip()) <= 18 and version.strip().isdecimal():
        return int(version.strip())
    return None


def check_version(path: str | os.PathLike[str], fmt: str, found_format: Any, version: Any) -> None:
    """Refuse a file whose format tag is not ``qama-compile/<fmt>`` or whose version is unsupported."""
    expected = PREFIX + fmt
    if not isinstance(found_format, str) or found_format != expected:
        fail(
            path,
            f"format tag is {short(found_format)}, expected {expected!r}",
            fix=f"load it with the matching format (format=...), or re-export it as {fmt}",
            fmt=fmt,
            field="format",
        )
    v = _version_number(version)
    if v is None:
        fail(
            path,
            f"version {short(version)} is not an integer",
            fix="re-export the file with qama-compile",
            fmt=fmt,
            field="version",
        )
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
        fail(path, f"inconsistent {fmt} content ({exc})", fix=CORRUPT, fmt=fmt)


def parse_labels(
    path: str | os.PathLike[str], fmt: str, text: str, v: int, k: int, *, field: str = "labels"
) -> NDArray[np.int64]:
    """Labels written as ``a,b,c a,b,c ...`` (``k`` fields per variable) -> ``[v, k]``.

    Parsed by numpy's C reader (no Python object per number); every label field must be an
    int64 and the count must be exactly ``v * k``.
    """
    if len(text) < 2 * v * k - 1:  # every number takes at least one digit and one separator
        fail(path, f"lists fewer than the {v} labels of {k} fields declared", fmt=fmt, field=field)
    line = text.replace(",", " ")
    if "\n" in line or "\r" in line:
        fail(path, "labels must be on one line", fmt=fmt, field=field)
    if not line.strip():
        flat = np.zeros(0, dtype=np.int64)
    else:
        try:
            flat = np.loadtxt([line], dtype=np.int64, ndmin=1, comments=None)
        except (ValueError, OverflowError) as exc:
            fail(path, f"labels are not integers ({str(exc)[:80]})", fmt=fmt, field=field)
    if flat.size != v * k:
        fail(path, f"expected {v} labels of {k} fields, found {flat.size} numbers", fmt=fmt, field=field)
    return flat.reshape(v, k)


def text_of(values: NDArray[Any]) -> NDArray[np.str_]:
    """Numbers as text, vectorised; floats in shortest round-trip form (``repr``)."""
    return values.astype(str)


def write_labels(fh: IO[str], labels: NDArray[np.int64], *, sep: str = " ") -> None:
    """Write ``a,b,c a,b,c ...`` (one group per variable) in chunks of :data:`CHUNK` variables."""
    for start in range(0, labels.shape[0], CHUNK):  # chunks of variables, not variables
        s = labels[start : start + CHUNK].astype(str)
        joined = s[:, 0]
        for col in range(1, s.shape[1]):  # label fields (1..3)
            joined = _add(_add(joined, ","), s[:, col])
        fh.write(("" if start == 0 else sep) + sep.join(joined.tolist()))


def iter_couplings(
    ir: QuadraticIR, index: int, *, chunk: int = CHUNK
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
    """The non-zero couplings of problem ``index`` (``rows < cols``) in chunks of about ``chunk``.

    The sparse list first, then each dense block a few rows at a time, so a writer's memory
    does not grow with the problem. Same entries as :meth:`QuadraticIR.coo`.
    """
    data = ir.data[index]
    for start in range(0, ir.rows.size, chunk):  # chunks of the sparse list
        d = data[start : start + chunk]
        keep = d != 0
        yield ir.rows[start : start + chunk][keep], ir.cols[start : start + chunk][keep], d[keep]
    n = ir.block_size
    step = max(1, chunk // max(n, 1))
    for g in range(ir.block_count):  # one dense block per head
        block = ir.blocks[index, g]
        for r0 in range(0, n, step):  # row ranges of the block
            sub = block[r0 : r0 + step]
            ii, jj = np.nonzero(sub)
            yield g * n + r0 + ii, g * n + jj, sub[ii, jj]


def count_couplings(ir: QuadraticIR, index: int) -> int:
    """Number of entries :func:`iter_couplings` yields, without materialising them."""
    return int(np.count_nonzero(ir.data[index])) + int(np.count_nonzero(ir.blocks[index]))


def labels_array(
    path: str | os.PathLike[str], fmt: str, values: Any, v: int, k: int, *, field: str
) -> NDArray[np.int64]:
    """Labels from a JSON list (``[[h, t, b], ...]`` or ``[i, ...]`` when ``k == 1``) as ``[v, k]`` int64."""
    arr = int_array(path, values, fmt=fmt, field=field, lo=-(2**62), hi=2**62)
    if k == 1 and arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape != (v, k):
        fail(path, f"has shape {arr.shape}, expected {v} labels of {k} fields", fmt=fmt, field=field)
    return arr


def check_unique_labels(path: str | os.PathLike[str], fmt: str, labels: NDArray[np.int64], *, field: str) -> None:
    """Refuse a file that labels two variables alike."""
    if labels.shape[0] > 1 and np.unique(labels, axis=0).shape[0] != labels.shape[0]:
        fail(path, "labels two variables alike", fmt=fmt, field=field)


def index_of(ir: QuadraticIR, index: int | None) -> int:
    """A valid problem index of ``ir`` (``None`` means 0)."""
    i = 0 if index is None else int(index)
    if not -ir.batch_size <= i < ir.batch_size:
        raise InvalidInputError(
            f"problem index {i} out of range for a batch of {ir.batch_size}",
            fix=f"use an index in 0..{ir.batch_size - 1}",
        )
    return i % ir.batch_size

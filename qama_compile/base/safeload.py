"""Reading untrusted files: JSON and ``.npz`` parsed under explicit limits, never unpickled.

Every failure is a :class:`~qama_compile.errors.FileFormatError` naming the file, the part of
it at fault (``field``) and the fix. Declared sizes (``.npy`` headers, zip directories) are
checked against the bytes actually present and against a byte limit *before* anything is
allocated, and no file content reaches native code unchecked: ``.npy`` headers are parsed
here (not by numpy), only plain numeric and text dtypes are accepted, and array data is read
into a buffer of exactly the declared size.

>>> import tempfile, pathlib, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
>>> np.savez(path, x=np.arange(3.0), name=np.array("hello"))
>>> arrays = read_npz(path, limit=1 << 20)
>>> arrays["x"].tolist(), str(arrays["name"])
([0.0, 1.0, 2.0], 'hello')
>>> loads_json('{"a": [1, 2]}', path="f.json")
{'a': [1, 2]}
>>> try:
...     loads_json('{"version": Infinity}', path="f.json", fmt="bqm-json")
... except FileFormatError as exc:
...     print(exc.fields["path"], "|", str(exc).split(";")[0])
f.json | f.json: is not valid JSON (the non-finite number Infinity is not allowed)
"""

from __future__ import annotations

import ast
import json
import lzma
import os
import re
import struct
import zipfile
import zlib
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..errors import FileFormatError

__all__ = [
    "JSON_MAX_DEPTH",
    "NPZ_MAX_MEMBERS",
    "file_error",
    "json_depth",
    "loads_json",
    "read_npz",
]

#: Deepest nesting of JSON containers accepted anywhere (our files nest at most 4 deep).
JSON_MAX_DEPTH = 64
#: Most arrays an ``.npz`` may hold (ours hold at most 20, the shipped dataset about 30).
NPZ_MAX_MEMBERS = 1024
#: Longest ``.npy`` header accepted (numpy's own default ``max_header_size``).
NPY_MAX_HEADER = 10_000
_NPY_MAGIC = b"\x93NUMPY"
#: Plain numeric and text dtypes only: bool, (u)int 8..64 bit, float 16..64 bit, complex, unicode text.
_NPY_DESCR = re.compile(r"^[<>|=]?(?:b1|[iu][1248]|f[248]|c(?:8|16)|U[1-9][0-9]{0,6})$")
_CHUNK = 1 << 20
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CORRUPT = "the file is corrupt or truncated; re-export it"
#: Errors zipfile and its decompressors raise on damaged archives (besides BadZipFile).
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
    struct.error,
    OverflowError,
    UnicodeDecodeError,
    KeyError,
    IndexError,
)


def file_error(
    path: str | os.PathLike[str],
    message: str,
    *,
    fix: str,
    fmt: str | None = None,
    field: str | None = None,
    **fields: Any,
) -> FileFormatError:
    """A :class:`FileFormatError` whose message starts with ``path`` (and names ``field``)."""
    where = f"{path}: " + (f"{field}: " if field else "")
    return FileFormatError(where + message, fix=fix, path=str(path), format=fmt, field=field, **fields)


def _fail(path: str | os.PathLike[str], message: str, **kwargs: Any) -> NoReturn:
    kwargs.setdefault("fix", _CORRUPT)
    raise file_error(path, message, **kwargs)


# --------------------------------------------------------------------------- JSON
def _no_constant(name: str) -> Any:
    raise ValueError(f"the non-finite number {name} is not allowed")


def json_depth(obj: Any, *, limit: int = JSON_MAX_DEPTH) -> int:
    """Nesting depth of dicts and lists in ``obj`` (iterative; stops counting past ``limit``).

    >>> json_depth({"a": [1, [2]]}), json_depth(3)
    (3, 0)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:  # containers only; scalars cost nothing
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads_json(
    text: str,
    *,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    field: str | None = None,
    fix: str = _CORRUPT,
    max_depth: int | None = None,
) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, integers of at most 4300 digits, no deep nesting.

    ``max_depth`` (if given) bounds the nesting of the result; deeper input than Python's
    recursion limit is refused either way.
    """
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        _fail(path, "is JSON nested too deeply to read", fix=fix, fmt=fmt, field=field)
    except ValueError as exc:  # JSONDecodeError, the constants above, over-long integers
        _fail(path, f"is not valid JSON ({exc})", fix=fix, fmt=fmt, field=field)
    if max_depth is not None and json_depth(obj, limit=max_depth) > max_depth:
        _fail(path, f"is JSON nested more than {max_depth} levels deep", fix=fix, fmt=fmt, field=field)
    return obj


# --------------------------------------------------------------------------- .npz
def _npy_header(path: str | os.PathLike[str], fh: Any, member: str, size: int, fmt: str | None) -> tuple[Any, int]:
    """``(dtype, shape, fortran)`` of one ``.npy`` member and its header length, validated."""
    field = member
    lead = fh.read(10)
    if len(lead) < 10 or lead[:6] != _NPY_MAGIC:
        _fail(path, "is not an .npy array (bad magic)", fmt=fmt, field=field)
    major = lead[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", lead[8:10])
        start = 10
    elif major in (2, 3):
        rest = fh.read(2)
        if len(rest) < 2:
            _fail(path, "has a truncated .npy header", fmt=fmt, field=field)
        (hlen,) = struct.unpack("<I", lead[8:10] + rest)
        start = 12
    else:
        _fail(path, f"has an unsupported .npy version {major}.{lead[7]}", fmt=fmt, field=field)
    if hlen > NPY_MAX_HEADER or start + hlen > size:
        _fail(path, f"declares a .npy header of {hlen} bytes in a member of {size}", fmt=fmt, field=field)
    raw = fh.read(hlen)
    if len(raw) != hlen:
        _fail(path, "has a truncated .npy header", fmt=fmt, field=field)
    try:
        text = raw.decode("utf-8" if major == 3 else "latin1")
        header = ast.literal_eval(text.strip())
    except (UnicodeDecodeError, ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
        _fail(path, f"has an unreadable .npy header ({type(exc).__name__})", fmt=fmt, field=field)
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        _fail(path, "has a .npy header without exactly descr, fortran_order and shape", fmt=fmt, field=field)
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or not _NPY_DESCR.match(descr):
        if isinstance(descr, str) and descr.lstrip("|<>=") == "O":
            _fail(
                path,
                "contains pickled object arrays, which are never loaded (unsafe)",
                fix="re-export the file with qama-compile; it writes no object arrays",
                fmt=fmt,
                field=field,
            )
        _fail(path, f"has unsupported dtype {str(descr)[:40]!r} (plain numbers and text only)", fmt=fmt, field=field)
    if (
        not isinstance(fortran, bool)
        or not isinstance(shape, tuple)
        or len(shape) > 32
        or not all(type(n) is int and n >= 0 for n in shape)  # a bool is no size
    ):
        _fail(path, f"has a malformed .npy header (shape {str(shape)[:60]})", fmt=fmt, field=field)
    if any(n > max(size, 1) for n in shape):  # an axis longer than the member's bytes: never backed by data
        _fail(path, f"declares shape {shape}, more than its {size} bytes can hold", fmt=fmt, field=field)
    dtype = np.dtype(descr)
    return (dtype, shape, fortran), start + hlen


def _read_member(
    path: str | os.PathLike[str], zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, fmt: str | None
) -> NDArray[Any]:
    with zf.open(info) as fh:
        (dtype, shape, fortran), header_bytes = _npy_header(path, fh, name, info.file_size, fmt)
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.itemsize
        if header_bytes + nbytes != info.file_size:
            _fail(
                path,
                f"declares shape {shape} of {dtype} ({nbytes} bytes) but holds {info.file_size - header_bytes} bytes",
                fmt=fmt,
                field=name,
            )
        out = np.empty(count, dtype=dtype)
        view = memoryview(out.reshape(-1).view(np.uint8)) if nbytes else memoryview(b"")  # type: ignore[arg-type]
        done = 0
        while done < nbytes:  # chunks of the member, not elements
            got = fh.readinto(view[done : done + _CHUNK])  # type: ignore[attr-defined]
            if not got:
                _fail(path, f"ends after {done} of {nbytes} data bytes", fmt=fmt, field=name)
            done += got
    arr = out.reshape(shape, order="F" if fortran else "C")
    return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def read_npz(
    path: str | os.PathLike[str],
    *,
    limit: int,
    max_bytes: int | None = None,
    fmt: str | None = None,
    fix: str = _CORRUPT,
    not_zip_fix: str | None = None,
) -> dict[str, NDArray[Any]]:
    """Every array of the ``.npz`` at ``path`` (keys without ``.npy``), checked before allocation.

    Args:
        limit: refuse archives whose arrays unpack to more than this many bytes (the
            caller's memory budget for them; see :mod:`qama_compile.base.memory`).
        max_bytes: the user-facing size cap (``load(max_bytes=...)``), reported as such.
        fmt: format name for the error's ``format`` field.
        fix: the fix for corrupt content; ``not_zip_fix`` for a file that is no zip at all.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            size = fh.seek(0, os.SEEK_END)
    except OSError as exc:
        _fail(path, f"cannot be read ({exc.strerror or exc})", fix="check the path and its permissions", fmt=fmt)
    if size == 0:
        _fail(path, "is not a readable .npz archive (the file is empty)", fix=fix, fmt=fmt)
    if head.startswith(_NPY_MAGIC):
        _fail(path, "holds a single .npy array, not an .npz archive", fix=not_zip_fix or fix, fmt=fmt)
    if not head.startswith(b"PK"):  # np.load would try to unpickle anything that is neither zip nor .npy
        _fail(
            path,
            "is not an .npz (zip) archive; numpy could only read it by unpickling, which is never done (unsafe)",
            fix=not_zip_fix or fix,
            fmt=fmt,
        )
    arrays: dict[str, NDArray[Any]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > NPZ_MAX_MEMBERS:
                _fail(path, f"holds {len(infos)} members, more than {NPZ_MAX_MEMBERS}", fix=fix, fmt=fmt)
            unpacked = sum(int(i.file_size) for i in infos)
            if max_bytes is not None and unpacked > max_bytes:
                _fail(
                    path,
                    f"unpacks to {unpacked} bytes, over the limit of {max_bytes} bytes",
                    fix="pass a larger max_bytes= to load() if you trust this file",
                    fmt=fmt,
                )
            if unpacked > limit:
                _fail(
                    path,
                    f"unpacks to {unpacked} bytes from {size} on disk, over the loader's limit of {limit} bytes "
                    "(a small multiple of the file size, and at most the memory budget)",
                    fix="save it uncompressed (np.savez) if you trust it, or use a machine with more memory",
                    fmt=fmt,
                    size=unpacked,
                    limit=limit,
                )
            for info in infos:
                name = info.filename
                if info.is_dir() or not name.endswith(".npy") or name[:-4] in arrays:
                    _fail(path, f"has an unexpected member {name[:80]!r}", fix=fix, fmt=fmt)
                if info.compress_type not in _ZIP_METHODS:  # bzip2 / lzma cost megabytes to even start
                    _fail(
                        path,
                        f"is compressed with zip method {info.compress_type}; only stored and deflated members are "
                        "read (what np.savez and np.savez_compressed write)",
                        fix="re-save it with np.savez or np.savez_compressed",
                        fmt=fmt,
                        field=name[:-4],
                    )
                arrays[name[:-4]] = _read_member(path, zf, info, name[:-4], fmt)
    except FileFormatError:
        raise
    except _ZIP_ERRORS as exc:
        name = (
            type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
        )
        _fail(path, f"is not a readable .npz archive ({name}: {str(exc)[:200]})", fix=fix, fmt=fmt)
    return arrays

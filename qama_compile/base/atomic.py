"""Atomic file writes: a temporary file in the same directory, fsync, then rename.

An interrupted run (Ctrl-C, SIGTERM, a killed process) leaves either the old file or the
new one, never a partial file. The rules, each tested in ``tests/test_atomic.py``:

* **interrupts**: SIGINT and SIGTERM are held off from just before the temporary file is
  created until its cleanup is armed, so no interrupt can leave it behind;
  :func:`sigterm_as_interrupt` makes SIGTERM raise like Ctrl-C (the CLI installs it);
* **permissions**: rewriting an existing file keeps its mode (a 0600 file stays 0600); a
  new file gets ``0666 & ~umask``;
* **symbolic links** at the output path are refused (never followed, never replaced);
* **missing parent directories** are an error (nothing is created implicitly), as is an
  output path that is a directory;
* **sets of files** (:func:`atomic_file_set`) are written into a temporary directory and
  moved into place together with interrupts held off, then a manifest naming the complete
  set is written last.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_write(d / "out.txt", "w") as fh:
...     _ = fh.write("done")
>>> (d / "out.txt").read_text()
'done'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from ..errors import InvalidInputError

__all__ = [
    "MANIFEST_FORMAT",
    "Terminated",
    "atomic_file_set",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_path",
    "held_signals",
    "sigterm_as_interrupt",
]

#: Signals held off while temporary files are created and while a set is committed.
_HELD = (signal.SIGINT, signal.SIGTERM)
MANIFEST_FORMAT = "qama-compile/manifest"


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM once :func:`sigterm_as_interrupt` is installed.

    A ``KeyboardInterrupt``, so everything that cleans up after Ctrl-C cleans up after it.
    """

    signum = int(signal.SIGTERM)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"terminated by signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Held:
    """SIGINT/SIGTERM handlers swapped for one that only records the signal (main thread only).

    Swapping the Python-level handlers, not ``pthread_sigmask``: a process-directed signal can
    be taken by any thread (BLAS, Dask, ...), and Python then runs the handler in the main thread
    regardless of the main thread's mask.
    """

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        self.pending: list[int] = []
        self.previous: dict[int, Any] = {}
        if self.active:
            for sig in _HELD:
                self.previous[sig] = signal.signal(sig, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def release(self) -> None:
        """Restore the handlers, then deliver what arrived meanwhile (raising here, if it raises)."""
        if not self.active:
            return
        self.active = False
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(self.pending):  # each signal once, in arrival order
            handler = self.previous[sig]
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), sig)  # the default action (e.g. terminate), as if never held
                time.sleep(0.1)  # let it land here


def _hold() -> _Held:
    return _Held()


def _release(held: _Held) -> None:
    held.release()


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM are held off inside the block and delivered when it ends."""
    held = _hold()
    try:
        yield
    finally:
        _release(held)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` after the output rules: not a symbolic link, not a directory, parent exists.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_path(d / "new.txt").name
    'new.txt'
    >>> try:
    ...     check_output_path(d / "missing" / "x.txt")
    ... except InvalidInputError as exc:
    ...     print(exc.fix)
    create the directory first (qama-compile never creates directories)
    """
    target = Path(path)
    shown = str(path)
    if target.is_symlink():
        raise InvalidInputError(
            f"cannot write {shown!r}: it is a symbolic link, and outputs never replace or follow one",
            fix="write to the link's target path directly, or remove the link",
            path=shown,
        )
    if target.name in ("", ".", "..") or target.is_dir():
        raise InvalidInputError(
            f"cannot write {shown!r}: it is a directory", fix="pass the path of a file inside it", path=shown
        )
    parent = target.parent
    if not parent.is_dir():
        raise InvalidInputError(
            f"cannot write {shown!r}: its directory {str(parent)!r} does not exist",
            fix="create the directory first (qama-compile never creates directories)",
            path=shown,
        )
    return target


def _mode_for(target: Path) -> int:
    try:
        st = os.stat(target, follow_symlinks=False)
    except OSError:
        return 0o666 & ~_umask()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0o666 & ~_umask()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path`` (see the module rules)."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_write supports modes 'w' and 'wb'")
    target = check_output_path(path)
    # Interrupts are held off from before the temporary file exists until the `try` that removes
    # it is entered; one that arrived meanwhile is raised inside that `try` (deterministic).
    held = _hold()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except BaseException:
        _release(held)
        raise
    try:
        _release(held)
        fh: IO[Any] = os.fdopen(fd, "w", encoding="utf-8") if mode == "w" else os.fdopen(fd, "wb")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, _mode_for(target))  # mkstemp makes 0600; keep the old file's mode
        if target.is_symlink():  # appeared while we wrote: still never replaced
            check_output_path(target)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(text)


@contextlib.contextmanager
def atomic_file_set(
    paths: Sequence[str | os.PathLike[str]], *, manifest: str | os.PathLike[str] | None = None
) -> Iterator[list[Path]]:
    """Write several files as a set: yields temporary paths to write; on success all move into place.

    The temporaries live in one temporary directory beside the targets. After the block
    they are renamed over the targets with SIGINT/SIGTERM held off (so an interrupt cannot
    split the set: it is delivered after the commit, or the set is discarded before it),
    and with ``manifest`` the old manifest is removed first and the new one (names and
    sizes of the complete set) written last, so a set cut short by SIGKILL or a crash has
    no manifest.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_file_set([d / "a.txt", d / "b.txt"], manifest=d / "ab.manifest.json") as (a, b):
    ...     _ = a.write_text("1"), b.write_text("22")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'ab.manifest.json', 'b.txt']
    >>> json.loads((d / "ab.manifest.json").read_text())["files"]
    [{'name': 'a.txt', 'bytes': 1}, {'name': 'b.txt', 'bytes': 2}]
    """
    targets = [check_output_path(p) for p in paths]
    if not targets:
        yield []
        return
    if len({t.parent.resolve() for t in targets}) != 1:
        raise InvalidInputError("a file set must live in one directory", fix="write the files to one directory")
    directory = targets[0].parent
    held = _hold()
    try:
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{targets[0].stem}.", suffix=".tmpdir", dir=directory))
    except BaseException:
        _release(held)
        raise
    try:
        _release(held)
        temps = [tmpdir / t.name for t in targets]
        yield temps
        for t in temps:
            if not t.is_file():
                raise FileNotFoundError(f"{t.name} of the set was not written")
        listing = {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "files": [{"name": t.name, "bytes": s.stat().st_size} for t, s in zip(targets, temps, strict=True)],
        }
        man = None if manifest is None else check_output_path(manifest)
        if man is not None:
            with atomic_write(tmpdir / man.name, "w") as fh:
                fh.write(json.dumps(listing, indent=1) + "\n")
        modes = [_mode_for(t) for t in targets]
        with held_signals():  # the commit: every file, then the manifest
            if man is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(man)
            for tmp, target, mode in zip(temps, targets, modes, strict=True):
                if target.is_symlink():  # appeared while we wrote: still never replaced
                    check_output_path(target)
                os.chmod(tmp, mode)
                os.replace(tmp, target)
            if man is not None:
                os.replace(tmpdir / man.name, man)
            _fsync_dir(directory)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

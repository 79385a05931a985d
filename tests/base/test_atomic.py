"""Atomic writes: old file or new file, never half; modes kept; symlinks, directories and missing parents refused.

The interrupt tests are deterministic: the signal is sent by the code under test itself at the
exact point of interest (inside ``mkstemp``, between two renames of a set), not after a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

import qama_compile.base.atomic as atomic_mod
from qama_compile.base.atomic import (
    Terminated,
    atomic_file_set,
    atomic_write,
    atomic_write_text,
    sigterm_as_interrupt,
)
from qama_compile.errors import InvalidInputError

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and modes")


def test_failure_inside_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_killed_process_never_leaves_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    atomic_write_text(target, "old")
    code = (
        "import sys, time\n"
        "from qama_compile.base.atomic import atomic_write\n"
        f"with atomic_write({str(target)!r}, 'wb') as fh:\n"
        "    fh.write(b'x' * 1000); fh.flush(); print('writing', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert target.read_text() == "old"


def test_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_write(tmp_path / "x", "a"):
        pass


@posix_only
def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "perm.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "perm.txt").stat().st_mode & 0o777 == 0o644


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_rewriting_keeps_the_existing_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("old")
    target.chmod(mode)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == mode


@posix_only
def test_a_symlink_at_the_output_path_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(InvalidInputError, match="is a symbolic link") as exc:
        atomic_write_text(link, "new")
    assert exc.value.fields["path"] == str(link) and "remove the link" in str(exc.value.fix)
    assert link.is_symlink() and real.read_text() == "keep me"  # neither replaced nor followed
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(InvalidInputError, match="is a symbolic link"):
        atomic_write_text(dangling, "new")
    assert not (tmp_path / "nowhere.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.txt", "link.txt", "real.txt"]


def test_a_missing_parent_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist") as exc:
        atomic_write_text(tmp_path / "missing" / "deeper" / "out.txt", "x")
    assert "never creates directories" in str(exc.value.fix)
    assert list(tmp_path.iterdir()) == []  # nothing created


@pytest.mark.parametrize("name", ["dir", ".", ""])
def test_a_directory_at_the_output_path_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(InvalidInputError, match="it is a directory"):
        atomic_write_text(tmp_path / name if name else Path(""), "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


# --------------------------------------------------------------------------- interrupts, deterministic


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".tmpdir")))


@posix_only
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_mkstemp_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: int
) -> None:
    """The signal arrives while the temporary file is being created (the old race): it is held off
    and raised inside the cleanup, so the file is removed; the target keeps its old content."""
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    real_mkstemp = tempfile.mkstemp
    created: list[str] = []

    def mkstemp_then_signal(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)
        created.append(name)
        os.kill(os.getpid(), sig)  # pending while held off; delivered when released
        time.sleep(0.01)  # had it not been held off, it would have been raised by now
        return fd, name

    monkeypatch.setattr(atomic_mod.tempfile, "mkstemp", mkstemp_then_signal)
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt) as exc:
        atomic_write_text(target, "new")
    assert isinstance(exc.value, Terminated) == (sig == signal.SIGTERM)
    assert created and not Path(created[0]).exists()
    assert target.read_text() == "old" and _temps(tmp_path) == []


@posix_only
def test_sigterm_raises_terminated_only_inside_the_scope() -> None:
    assert signal.getsignal(signal.SIGTERM) is not atomic_mod._on_sigterm
    with sigterm_as_interrupt(), pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler raises at the next bytecode
    assert signal.getsignal(signal.SIGTERM) is not atomic_mod._on_sigterm


# --------------------------------------------------------------------------- file sets


def _old_set(tmp_path: Path) -> tuple[list[Path], Path]:
    paths = [tmp_path / f"p_b{i}.txt" for i in range(3)]
    manifest = tmp_path / "p.manifest.json"
    with atomic_file_set(paths, manifest=manifest) as temps:
        for t in temps:
            t.write_text("old")
    return paths, manifest


def test_a_file_set_is_written_with_a_manifest(tmp_path: Path) -> None:
    paths, manifest = _old_set(tmp_path)
    assert [p.read_text() for p in paths] == ["old"] * 3
    listing = json.loads(manifest.read_text())
    assert listing["format"] == "qama-compile/manifest"
    assert listing["files"] == [{"name": p.name, "bytes": 3} for p in paths]
    assert _temps(tmp_path) == []


@posix_only
def test_an_interrupted_set_leaves_the_old_set(tmp_path: Path) -> None:
    """Ctrl-C while the second file of a new set is written: every old file and the old manifest stay."""
    paths, manifest = _old_set(tmp_path)
    before = manifest.read_bytes()
    with pytest.raises(KeyboardInterrupt), atomic_file_set(paths, manifest=manifest) as temps:
        temps[0].write_text("new")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    assert [p.read_text() for p in paths] == ["old"] * 3 and manifest.read_bytes() == before
    assert _temps(tmp_path) == []


@posix_only
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_commit_waits_for_the_whole_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: int
) -> None:
    """The signal lands between the renames of a set (the old bug: new b0 beside old b1, b2): it is
    held off until every file and the manifest are in place, then raised."""
    paths, manifest = _old_set(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def replace_then_signal(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        if Path(dst).parent == tmp_path:  # the commit's renames (not the manifest's own temporary file)
            calls.append(Path(dst).name)
            if len(calls) == 1:
                os.kill(os.getpid(), sig)
                time.sleep(0.01)

    monkeypatch.setattr(atomic_mod.os, "replace", replace_then_signal)
    with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):  # noqa: SIM117 - scope order matters
        with atomic_file_set(paths, manifest=manifest) as temps:
            for t in temps:
                t.write_text("new!")
    assert [p.read_text() for p in paths] == ["new!"] * 3  # the complete new set
    assert calls == [p.name for p in paths] + [manifest.name]
    assert [f["bytes"] for f in json.loads(manifest.read_text())["files"]] == [4, 4, 4]
    assert _temps(tmp_path) == []


def test_a_set_refuses_a_member_that_was_not_written(tmp_path: Path) -> None:
    paths = [tmp_path / "a.txt", tmp_path / "b.txt"]
    with pytest.raises(FileNotFoundError, match=r"b\.txt"), atomic_file_set(paths) as temps:
        temps[0].write_text("only one")
    assert list(tmp_path.iterdir()) == []

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qama_compile.base.atomic import atomic_write, atomic_write_text


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
    time.sleep(0.05)
    assert target.read_text() == "old"


def test_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_write(tmp_path / "x", "a"):
        pass


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "perm.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "perm.txt").stat().st_mode & 0o777 == 0o644

"""Interrupted runs never leave a partial or corrupt output file.

A ``qama compile`` / ``qama solve`` subprocess is stopped with SIGKILL, SIGINT (Ctrl-C) or
SIGTERM (handled like Ctrl-C: exit 143, ``terminated; no partial output was written``)

* in the middle of writing its output (the write is held open after its first array, so
  the signal always lands mid-write, whatever the machine's speed);
* while solving (before anything is written);
* on a large problem with no instrumentation at all: the signal is sent the moment the
  output directory changes (a temporary file appears, or the output itself changes).

Afterwards the output path holds the previous complete content (or, if the run finished
first, a complete new file that loads); after SIGINT/SIGTERM no temporary file is left, the
exit status is 130/143 and the message says so. A batch written as one file per problem is
a set: interrupted, every old file stays (never new ``_b0`` beside old ``_b1``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.formats import load, save

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

TIMEOUT = 60.0  # seconds for any one wait; generous for a loaded shared machine

#: Run the real CLI in a subprocess; optionally hold the output open after its first array.
RUNNER = textwrap.dedent(
    """
    import sys, time
    argv, mode = sys.argv[2:], sys.argv[1]
    if mode == "pause-set":
        import qama_compile.formats.coo as coo
        original_body = coo._write_body
        calls = []
        def _write_body(fh, *args):
            original_body(fh, *args)
            calls.append(1)
            if len(calls) == 3:  # the second file of the set has started
                fh.flush()
                print("WRITING", flush=True)
                time.sleep(600)
        coo._write_body = _write_body
    if mode == "pause-write":
        import numpy.lib.format as fmt
        original = fmt.write_array
        def write_array(fp, array, *args, **kwargs):
            original(fp, array, *args, **kwargs)
            print("WRITING", flush=True)  # the output file is now partly written
            time.sleep(600)
        fmt.write_array = write_array
    from qama_compile.cli.main import main
    if mode == "pause-solve":
        import qama_compile.runtime.solve as solve_mod
        original_solve = solve_mod.solve
        def solve(*args, **kwargs):
            print("SOLVING", flush=True)
            time.sleep(600)
            return original_solve(*args, **kwargs)
        solve_mod.solve = solve
    print("STARTED", flush=True)
    sys.exit(main(argv))
    """
)


def _start(mode: str, argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, mode, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_line(proc: subprocess.Popen[str], marker: str) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == marker:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate(timeout=TIMEOUT)
    pytest.fail(f"the subprocess never printed {marker!r}; stderr:\n{err}")


def _stop(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    os.kill(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the subprocess did not stop after signal {sig}")
    return proc.returncode, err


def _temp_files(directory: Path, name: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def _previous(path: Path) -> bytes:
    """Put a complete earlier result at ``path`` (a small problem in the path's format)."""
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 2)), bits=1)
    if path.name.startswith("masks"):
        np.savez(path, weights=np.zeros((1, 1, 2)), format=np.array("earlier run"))
    else:
        save(problem, path)
    return path.read_bytes()


def _check_after_signal(code: int, err: str, directory: Path, name: str, sig: int = signal.SIGINT) -> None:
    if sig == signal.SIGTERM:
        assert code == 143, err
        assert "terminated; no partial output was written" in err and "Traceback" not in err, err
    else:
        assert code == 130, err
        assert "interrupted; no partial output was written" in err and "Traceback" not in err, err
    assert _temp_files(directory, name) == []
    assert not [p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".tmpdir"))]


COMPILE = ["compile", "--random", "1,2,8,8", "--bits", "2", "-o", "out.npz"]
SOLVE = ["solve", "--random", "1,2,3,4", "--bits", "2", "--seed", "1", "-o", "masks.npz"]


SIGNALS = [signal.SIGKILL, signal.SIGINT, signal.SIGTERM]
SIGNAL_IDS = ["SIGKILL", "SIGINT", "SIGTERM"]


@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
@pytest.mark.parametrize("argv", [COMPILE, SOLVE], ids=["compile", "solve"])
def test_interrupted_mid_write_keeps_the_previous_file(tmp_path: Path, argv: list[str], sig: int) -> None:
    out = tmp_path / argv[-1]
    old = _previous(out)
    proc = _start("pause-write", argv, tmp_path)
    _wait_for_line(proc, "WRITING")
    assert len(_temp_files(tmp_path, out.name)) == 1  # the write goes to a temporary file ...
    assert out.read_bytes() == old  # ... never to the output path
    code, err = _stop(proc, sig)
    assert out.read_bytes() == old  # the previous complete content, untouched
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        _check_after_signal(code, err, tmp_path, out.name, sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
def test_interrupted_while_solving_writes_nothing(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "masks.npz"
    proc = _start("pause-solve", [*SOLVE[:-1], str(out), "--sampleset", "ss.json"], tmp_path)
    _wait_for_line(proc, "SOLVING")
    code, err = _stop(proc, sig)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no sample sets, no temp files
    if sig != signal.SIGKILL:
        _check_after_signal(code, err, tmp_path, out.name, sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
def test_an_interrupted_batch_keeps_the_whole_old_set(tmp_path: Path, sig: int) -> None:
    """``-o p.coo`` for a batch of 3 writes p_b0..p_b2 as a set: stopped while the second file is
    written, all three old files and the old manifest stay (before issue 13: new b0 beside old b1, b2)."""
    argv = ["compile", "--random", "3,1,3,2", "--bits", "1", "--seed", "4", "-o", "p.coo"]
    assert main_in_subprocess(argv, tmp_path) == 0
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(old) == ["p.manifest.json", "p_b0.coo", "p_b1.coo", "p_b2.coo"]
    proc = _start("pause-set", [*argv[:-3], "9", "-o", "p.coo"], tmp_path)  # another seed: other content
    _wait_for_line(proc, "WRITING")
    code, err = _stop(proc, sig)
    # the old set, whole; after SIGKILL the temporary directory stays behind (nothing can clean up)
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir() if sig != signal.SIGKILL or p.is_file()}
    assert kept == old
    if sig != signal.SIGKILL:
        assert code == (143 if sig == signal.SIGTERM else 130), err
        assert "no partial output was written" in err


def main_in_subprocess(argv: list[str], cwd: Path) -> int:
    proc = _start("plain", argv, cwd)
    proc.communicate(timeout=TIMEOUT)
    return proc.returncode


def _signal_on_first_change(proc: subprocess.Popen[str], directory: Path, out: Path, sig: int) -> bool:
    """Poll until a temporary file appears or ``out`` changes, then send ``sig``; whether it caught one."""
    before = out.stat()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        changed = out.stat()
        if _temp_files(directory, out.name) or (changed.st_mtime_ns, changed.st_size, changed.st_ino) != (
            before.st_mtime_ns,
            before.st_size,
            before.st_ino,
        ):
            os.kill(proc.pid, sig)
            return True
        time.sleep(0.0005)
    return False


@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
def test_real_interrupt_of_a_large_compile(tmp_path: Path, sig: int) -> None:
    """No instrumentation: ``qama compile`` of a ~20 MB problem, signalled as soon as it starts writing."""
    out = tmp_path / "big.npz"
    old = _previous(out)
    argv = ["compile", "--random", "1,4,160,8", "--bits", "4", "--seed", "3", "-o", out.name]
    proc = _start("plain", argv, tmp_path)
    # the signal goes out the moment a temporary file appears: even inside mkstemp() it leaves none
    # (tests/test_atomic.py::test_a_signal_during_mkstemp_leaves_no_temporary_file checks that exact point)
    caught = _signal_on_first_change(proc, tmp_path, out, sig)
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the subprocess did not stop")
    assert caught, f"the run never started writing (exit {proc.returncode}): {err}"
    data = out.read_bytes()
    if data != old:  # only a finished run may replace the file, and then with a complete one
        problem = load(out)
        assert problem.shape == (1, 4, 160, 4)  # type: ignore[union-attr]
    else:
        assert load(out).shape == (1, 1, 2, 1)  # type: ignore[union-attr]
    if sig != signal.SIGKILL:
        assert _temp_files(tmp_path, out.name) == [], err
        if caught and data == old:
            assert proc.returncode == (130 if sig == signal.SIGINT else 143) and "no partial output" in err, err

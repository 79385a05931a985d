"""Mutated files never crash the loaders or escape as anything but FileFormatError.

* :func:`test_corpus_replays_cleanly`: every file in ``tests/formats/corpus/`` (each once
  crashed, hung or blew up a reader; see its README) through ``scripts/fuzz_formats.py
  --replay``, in worker subprocesses so a segfault fails the test instead of killing pytest;
* :func:`test_fuzzer_finds_nothing`: the fuzzer itself over every reader with a fixed seed and
  a budget of seconds (``python scripts/fuzz_formats.py --cases 30000`` runs the long campaign);
* an in-process hypothesis fuzz of byte mutations (fast, shrinks failures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from qama_compile import lower_attention
from qama_compile.compiler import compile
from qama_compile.core.ir import QuadraticIR
from qama_compile.core.problem import AttentionProblem
from qama_compile.errors import FileFormatError
from qama_compile.formats import PhysicalFile, load, save
from qama_compile.formats.physical import export_compiled

from ..helpers import mutate, mutations

SUFFIXES = [".json", ".npz", ".coo", ".mtx", ".lp"]
#: Physical files (with their compiled record): name -> export format.
PHYSICAL = {"p.json": "bqm-json", "p.npz": "ising-npz", "p.txt": "ising-txt", "g.json": "pauli-json",
            "p.qasm": "qasm3", "p.lp": "lp"}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
FUZZER = ROOT / "scripts" / "fuzz_formats.py"
CORPUS = Path(__file__).resolve().parent / "corpus"
#: Seconds of fuzzing on every test run (the fuzzer stops starting cases after this).
BUDGET_S = float(os.environ.get("QAMA_FUZZ_SECONDS", "20"))


def _run_fuzzer(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, str(FUZZER), *args, "--out", str(tmp_path / "findings"), "--json", str(summary)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert summary.exists(), proc.stderr[-3000:]
    result = json.loads(summary.read_text())
    assert proc.returncode == 0 and not result["findings"], (proc.stdout[-2000:], result["findings"][:5])
    return result  # type: ignore[no-any-return]


PHYSICAL_TARGETS = {"ising-npz", "ising-txt", "pauli-json", "qasm3"}


def test_corpus_replays_cleanly(tmp_path: Path) -> None:
    files = [f for f in CORPUS.iterdir() if f.suffix in {".json", ".npz", ".coo", ".mtx", ".lp", ".txt", ".qasm"}]
    result = _run_fuzzer(tmp_path, "--replay", str(CORPUS))
    assert sum(sum(c.values()) for c in result["counts"].values()) == len(files) >= 60
    assert set(result["counts"]) == {"bqm-json", "npz", "coo", "mtx", "lp", "cli-input", "dataset"} | PHYSICAL_TARGETS


@pytest.mark.slow
def test_fuzzer_finds_nothing(tmp_path: Path) -> None:
    """Fixed seed, a time budget of seconds; every reader gets cases (crashes, hangs and blow-ups fail)."""
    result = _run_fuzzer(tmp_path, "--seed", "13", "--cases", "100000", "--seconds", str(BUDGET_S))
    for target, counts in result["counts"].items():
        assert sum(counts.values()) >= 20, (target, counts)  # the budget really fuzzed every reader
        assert counts.get("FileFormatError", 0) + counts.get("exit 2", 0) > 0, (target, counts)


_PROBLEM = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 2, 3)), bits=1)


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    d = tmp_path_factory.mktemp("fuzz")
    for suffix in SUFFIXES:
        save(_PROBLEM, d / f"orig{suffix}")
    originals = {s: (d / f"orig{s}").read_bytes() for s in SUFFIXES}
    compiled = compile(_PROBLEM.select([0]), target="chimera-c16", seed=0)
    for name, fmt in PHYSICAL.items():
        originals[name] = export_compiled(compiled, d / name, format=fmt).read_bytes()
    return d, originals


@pytest.mark.parametrize("suffix", SUFFIXES + list(PHYSICAL))
@settings(max_examples=25, deadline=None)
@given(mutation=mutations)
def test_mutated_files_fail_cleanly(
    originals: tuple[Path, dict[str, bytes]], suffix: str, mutation: tuple[str, float, bytes]
) -> None:
    directory, original = originals
    data = mutate(original[suffix], mutation)
    path = directory / ("mutated" + (suffix if suffix.startswith(".") else Path(suffix).suffix))
    path.write_bytes(data)
    try:
        obj = load(path)
    except FileFormatError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(obj, (QuadraticIR, AttentionProblem, PhysicalFile))  # a harmless change (e.g. in a comment)


def test_truncated_mtx_number_does_not_crash(tmp_path: Path) -> None:
    """scipy.io.mmread segfaults on this truncation (scipy 1.17); our reader refuses it."""
    save(_PROBLEM, tmp_path / "p.mtx")
    text = (tmp_path / "p.mtx").read_text()
    cut = text.rindex("e")  # '... -1.7042166932168019e' with the exponent and later lines gone
    (tmp_path / "p.mtx").write_text(text[: cut + 1])
    with pytest.raises(FileFormatError):
        load(tmp_path / "p.mtx")

"""Mutated files never crash the loaders or escape as anything but FileFormatError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.core.problem import AttentionProblem
from qama_compile.errors import FileFormatError
from qama_compile.formats import load, save

SUFFIXES = [".json", ".npz", ".coo", ".mtx", ".lp"]
_PROBLEM = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 2, 3)), bits=1)


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    d = tmp_path_factory.mktemp("fuzz")
    for suffix in SUFFIXES:
        save(_PROBLEM, d / f"orig{suffix}")
    return d, {s: (d / f"orig{s}").read_bytes() for s in SUFFIXES}


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1), st.binary(max_size=0)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=6)),
)


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=25, deadline=None)
@given(mutation=mutations)
def test_mutated_files_fail_cleanly(
    originals: tuple[Path, dict[str, bytes]], suffix: str, mutation: tuple[str, float, bytes]
) -> None:
    directory, original = originals
    kind, where, payload = mutation
    data = original[suffix]
    at = int(where * (len(data) - 1))
    if kind == "truncate":
        data = data[:at]
    elif kind == "flip":
        data = data[:at] + payload + data[at + len(payload) :]
    else:
        data = data[:at] + payload + data[at:]
    path = directory / f"mutated{suffix}"
    path.write_bytes(data)
    try:
        obj = load(path)
    except FileFormatError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(obj, (QuadraticIR, AttentionProblem))  # a harmless change (e.g. in a comment)


def test_truncated_mtx_number_does_not_crash(tmp_path: Path) -> None:
    """scipy.io.mmread segfaults on this truncation (scipy 1.17); our reader refuses it."""
    save(_PROBLEM, tmp_path / "p.mtx")
    text = (tmp_path / "p.mtx").read_text()
    cut = text.rindex("e")  # '... -1.7042166932168019e' with the exponent and later lines gone
    (tmp_path / "p.mtx").write_text(text[: cut + 1])
    with pytest.raises(FileFormatError):
        load(tmp_path / "p.mtx")

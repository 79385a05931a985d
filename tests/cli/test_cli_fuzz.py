"""Fuzz the ``qama`` argument parsing: random argv lists never let anything but a QamaError escape.

Each example runs :func:`qama_compile.cli.main.main` in-process on an argv built from the
real subcommand and option names (read from the parser, so new options are fuzzed too),
values drawn from pools of good and bad values, and random junk. The only outcomes allowed
are

* a return code (0, 1 or 2); a return of 2 with ``error:`` on stderr is one line;
* argparse's ``SystemExit`` with code 0 (``--help``, ``--version``) or 2 (usage error).

Anything else (a traceback from ``ValueError``, ``TypeError``, ``OSError`` ...) fails.
Backends are kept cheap (exact, sa, small ``--random`` sizes) and ``qama demo`` is parsed
but its run is replaced by a stub, so each example is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qama_compile.cli.main import build_parser, main

#: Options whose run would be slow or leave the machine (a Dask cluster): never generated.
EXCLUDED = {"--workers", "--scheduler", "--batch-size", "--graph"}
#: Options that name files we write: only ever given safe relative paths inside the fuzz directory.
OUTPUT_OPTIONS = {"-o", "--output", "--sampleset", "--json", "--csv", "--plot", "--out"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("qama has no subcommands")


SUBPARSERS = _subparsers()
OPTIONS: dict[str, list[tuple[str, bool]]] = {
    name: [
        (opt, action.nargs != 0)  # (option string, takes a value)
        for action in sub._actions
        for opt in action.option_strings
        if opt not in EXCLUDED and opt not in ("-h", "--help")
    ]
    for name, sub in SUBPARSERS.items()
}

OUTPUTS = [
    "out.npz",
    "out.json",
    "out.coo",
    "out.mtx",
    "out.lp",
    "out.csv",
    "out.png",
    "out.txt",
    "out",
    "sub/dir/out.json",
    "",
    ".",
    "missing-dir/",
    "bad\x00name.npz",
    "input.npz",
]
VALUES: dict[str, list[str]] = {
    "--random": [
        "1,1,2,2",
        "1,2,2,3",
        "2,1,2,2",
        "1,1,3,2",
        "0,1,2,2",
        "1,1,2",
        "a,b,c,d",
        "",
        "-1,1,1,1",
        "1,1,2,2,2",
        "99999999999999999999,1,1,1",
        "100000,100,100,64",
        "1,1,1e3,1",
    ],
    "--seed": ["0", "1", "-1", "2147483647", "99999999999", "x", ""],
    "--bits": ["1", "2", "0", "9", "-1", "x"],
    "--heads": ["1", "0", "2", "0,1", "1:2", ":", "5", "-1", "a", ",", "0,,1", "2:1"],
    "--tokens": ["1", "2", "0,1", "1:3", "9", "-2", "x:y", ""],
    "--alpha": ["1", "0", "-2.5", "nan", "inf", "1e308", "x"],
    "--beta": ["1", "nan", "-inf", "0"],
    "--penalty": ["2", "0", "nan", "-1"],
    "--normalize": ["none", "standardise", "minmax", "zscore"],
    "--sentence": ["0", "99", "-1"],
    "--layer": ["0", "6", "-1"],
    "--backend": ["exact", "sa", "steepest", "nope", "", "EXACT"],
    "--backends": ["exact", "exact,sa", "exact,nope", ",", "", "exact,,exact"],
    "--reads": ["1", "3", "0", "-1", "x"],
    "--num-reads": ["1", "0", "-1"],
    "--target": ["cim-550", "cim", "nope", "", "aer"],
    "--format": ["bqm-json", "npz", "coo", "mtx", "lp", "ising-npz", "qasm3", "zz", ""],
    "--index": ["0", "1", "-1", "5", "x"],
    "--sweep": ["tokens=2,3", "bits=1,2", "heads=1", "tokens=0", "bits=9", "zz=1", "tokens=", "=", "tokens=a"],
    "--option": [
        "exact.max_variables=20",
        "sa.num_sweeps=10",
        "exact.zz=1",
        "bad",
        "sa.=1",
        ".x=1",
        "sa.num_sweeps=[1",
    ],
}
INPUTS = ["input.npz", "corrupt.npz", "pickle.npz", "missing.npz", "qkv.txt", "dir.npz", "problem.npz", "example", ""]
JUNK = st.text(min_size=0, max_size=12).filter(lambda s: not s.startswith("/") and ".." not in s)


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    if draw(st.integers(0, 19)) == 0:  # sometimes pure junk
        return draw(st.lists(JUNK, max_size=6))
    command = draw(st.sampled_from(sorted(SUBPARSERS)))
    argv = [command]
    takes_input = any(a.dest == "input" for a in SUBPARSERS[command]._actions)
    if takes_input:
        if draw(st.integers(0, 2)) == 0:
            argv.append(draw(st.sampled_from(INPUTS)))
        else:
            argv += ["--random", draw(st.sampled_from(VALUES["--random"][:4]))]
    if command == "compile" and draw(st.integers(0, 9)) > 0:
        argv += ["-o", draw(st.sampled_from(OUTPUTS))]
    options = OPTIONS[command]
    for _ in range(draw(st.integers(0, 4))):
        opt, takes_value = draw(st.sampled_from(options))
        argv.append(opt)
        if takes_value and draw(st.integers(0, 19)) > 0:  # sometimes the value is missing
            if opt in OUTPUT_OPTIONS:
                argv.append(draw(st.sampled_from(OUTPUTS)))
            elif opt in VALUES and draw(st.integers(0, 7)) > 0:
                argv.append(draw(st.sampled_from(VALUES[opt])))
            else:
                argv.append(draw(JUNK))
    if command == "compare" and "--backends" not in argv:
        argv += ["--backends", "exact"]  # the default list includes QAOA: slow
    if draw(st.integers(0, 9)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(JUNK))
    if draw(st.integers(0, 15)) == 0:
        argv.append(draw(st.sampled_from(["-h", "--help", "--version"])))
    return argv


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pickle

    import numpy as np

    from qama_compile import lower_attention
    from qama_compile.formats import save

    d = tmp_path_factory.mktemp("cli-fuzz")
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 1, 2, 2, 3))
    np.savez(d / "input.npz", q=q, k=k, v=v)
    (d / "corrupt.npz").write_bytes((d / "input.npz").read_bytes()[:150])
    (d / "pickle.npz").write_bytes(pickle.dumps({"q": [1.0]}))
    (d / "qkv.txt").write_text("q k v\n")
    (d / "dir.npz").mkdir()
    save(lower_attention(q, k, v, bits=1), d / "problem.npz")
    return d


@pytest.fixture
def stub_demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """``qama demo`` parses its arguments for real; the long run itself is a stub."""
    import qama_compile.tools.demo as demo

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: calls.append(kwargs))
    yield calls


def run(argv: list[str]) -> tuple[int | str | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: help/version (0) or usage (2)
            assert exc.code in (0, 2), (argv, exc.code, err.getvalue())
            code = f"exit {exc.code}"
    return code, out.getvalue(), err.getvalue()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(argv=argvs())
def test_random_argv_only_exits_cleanly(fuzz_dir: Path, stub_demo: list[dict[str, object]], argv: list[str]) -> None:
    with contextlib.chdir(fuzz_dir):
        code, _, err = run(argv)
    assert code in (0, 1, 2, "exit 0", "exit 2"), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2 and "error:" in err:  # a QamaError handled by main: exactly one line
        assert err.startswith(f"qama {argv[0]}: error: ") and err.count("\n") == 1, (argv, err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(JUNK, max_size=8))
def test_pure_junk_argv(fuzz_dir: Path, stub_demo: list[dict[str, object]], argv: list[str]) -> None:
    with contextlib.chdir(fuzz_dir):
        code, _, err = run(argv)
    assert code in (0, 1, 2, "exit 0", "exit 2"), (argv, code, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["solve", "bad\x00name.npz"],
        ["compile", "--random", "1,1,2,2", "-o", "bad\x00name.npz"],
        ["solve", "--random", "1,1,2,2", "-o", "bad\x00name.npz"],
        ["compile", "--random", "1,1,2,2", "-o", "missing-dir/"],
        ["inspect", "--random", "99999999999999999999,1,1,1"],  # was: ValueError from numpy
        ["solve", "--random", "100000,100,100,64"],  # refused before allocating 1.4 TiB
        ["compile", "--random", "1,2,2,3", "--alpha", "1e308", "-o", "out.lp"],  # was: DOcplexException (NaN)
    ],
)
def test_found_by_the_fuzzer(fuzz_dir: Path, stub_demo: list[dict[str, object]], argv: list[str]) -> None:
    """Regression cases the fuzzer found: each is a one-line error, not a traceback."""
    with contextlib.chdir(fuzz_dir):
        code, _, err = run(argv)
    assert code == 2 and err.startswith(f"qama {argv[0]}: error: ") and err.count("\n") == 1, (argv, err)

"""The catalogue of bad inputs (docs/errors.md): each one raises a QamaError with a clear message and fix.

Every test here is named in the catalogue. The assertions check the exception class, the
message (as printed by the CLI: ``message; fix: ...``), the suggested fix and the
structured fields, so a change to any of them shows up here.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import dimod
import numpy as np
import pytest

import qama_compile
from qama_compile import (
    BackendError,
    FileFormatError,
    InvalidInputError,
    MissingDependencyError,
    ProblemTooLargeError,
    QamaError,
    UnknownNameError,
    available_backends,
    available_targets,
    get_backend,
    get_target,
    lower_attention,
    solve,
)
from qama_compile.base.optional import optional_import
from qama_compile.cli.main import main
from qama_compile.formats import FORMATS, load, save

from .helpers import peak_bytes

RNG = np.random.default_rng(7)
Q = RNG.normal(size=(2, 3, 4))  # [H, N, d]
K = RNG.normal(size=(2, 3, 4))
V = RNG.normal(size=(2, 3, 4))


@pytest.fixture(scope="module")
def small() -> qama_compile.AttentionProblem:
    return lower_attention(Q, K, V, bits=1)  # 6 variables


def _fix(exc: pytest.ExceptionInfo[QamaError]) -> str:
    assert exc.value.fix, "every catalogued error suggests a fix"
    assert str(exc.value).endswith(f"; fix: {exc.value.fix}")
    return exc.value.fix


# --------------------------------------------------------------------------- tensors


def test_nan_tensor() -> None:
    q = Q.copy()
    q[0, 1, 2] = np.nan
    with pytest.raises(InvalidInputError) as exc:
        lower_attention(q, K, V)
    assert str(exc.value).startswith("tensor 'q' contains NaN (1 entries, first at index (0, 1, 2))")
    assert _fix(exc) == "remove or impute non-finite values before lowering"
    assert exc.value.fields["tensor"] == "q" and exc.value.fields["index"] == (0, 1, 2)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_tensor(value: float) -> None:
    v = V.copy()
    v[1, 0, 3] = value
    with pytest.raises(InvalidInputError, match=r"tensor 'v' contains infinite values \(1 entries") as exc:
        lower_attention(Q, K, v)
    assert exc.value.fields["tensor"] == "v" and exc.value.fields["index"] == (1, 0, 3)
    _fix(exc)


def test_complex_tensor() -> None:
    with pytest.raises(InvalidInputError, match="tensor 'k' is complex; attention tensors must be real") as exc:
        lower_attention(Q, K + 1j, V)
    assert "np.real" in _fix(exc)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[1.0, None]], dtype=object),
        np.array([["a", "b"]]),
        np.zeros((2, 3), dtype="S2"),
        np.zeros((2, 3), dtype=[("a", "f8")]),
        np.zeros((2, 3), dtype="M8[s]"),
        np.zeros((2, 3), dtype="m8[s]"),
        None,
        {"q": 1},
    ],
    ids=["object", "str", "bytes", "structured", "datetime", "timedelta", "None", "dict"],
)
def test_object_and_non_numeric_tensors(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"tensor 'q' has dtype .*; a numeric array is required") as exc:
        lower_attention(bad, K, V)
    assert _fix(exc) == "pass a float array"


def test_object_array_of_numbers_is_still_refused() -> None:
    """An object array is refused even when its items are numbers (no silent conversion)."""
    with pytest.raises(InvalidInputError, match="dtype object"):
        lower_attention(Q.astype(object), K, V)


def test_ragged_nested_list() -> None:
    with pytest.raises(InvalidInputError, match="tensor 'q' is not a rectangular array") as exc:
        lower_attention([[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]])
    assert "same length" in _fix(exc)


@pytest.mark.parametrize("shape", [(), (4,), (1, 1, 1, 2, 2)])
def test_wrong_rank(shape: tuple[int, ...]) -> None:
    x = np.ones(shape)
    with pytest.raises(InvalidInputError) as exc:
        lower_attention(x, x, x)
    assert str(exc.value).startswith(
        f"tensor 'q' has rank {len(shape)} (shape {shape}); expected [N, d], [H, N, d] or [B, H, N, d]"
    )
    assert _fix(exc) == "reshape to [batch, heads, tokens, head_dim]"
    assert exc.value.fields["shape"] == shape


def test_mismatched_shapes() -> None:
    with pytest.raises(InvalidInputError, match=r"q and k must have the same shape, got q \(1, 2, 3, 4\) and k "):
        lower_attention(Q, RNG.normal(size=(2, 3, 5)), V)
    with pytest.raises(InvalidInputError, match=r"v must match q in batch, heads and tokens") as exc:
        lower_attention(Q, K, RNG.normal(size=(2, 4, 4)))
    assert "same batch, heads and tokens" in _fix(exc)
    # v may have another head_dim: not an error
    assert lower_attention(Q, K, RNG.normal(size=(2, 3, 7)), bits=1).shape == (1, 2, 3, 1)


@pytest.mark.parametrize(
    "shape, axis",
    [((0, 2, 3, 4), "batch"), ((1, 0, 3, 4), "heads"), ((1, 2, 0, 4), "tokens"), ((1, 2, 3, 0), "head_dim")],
)
def test_empty_tensors(shape: tuple[int, ...], axis: str) -> None:
    x = np.zeros(shape)
    with pytest.raises(InvalidInputError, match=f"^{axis} size is 0 .*nothing to lower") as exc:
        lower_attention(x, x, x)
    assert exc.value.fields["axis"] == axis and _fix(exc) == f"pass at least one element along {axis}"


def test_empty_value_dim() -> None:
    with pytest.raises(InvalidInputError, match="value_dim size is 0") as exc:
        lower_attention(Q, K, np.zeros((2, 3, 0)))
    assert exc.value.fields["axis"] == "value_dim"


@pytest.mark.parametrize("bits", [0, 9, -1, 2.5, True, "2", None])
def test_bits_out_of_range(bits: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"bits must be an integer in 1\.\.8, got ") as exc:
        lower_attention(Q, K, V, bits=bits)
    assert _fix(exc) == "use --bits between 1 and 8 (paper default 4)"
    assert exc.value.fields["bits"] is bits


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"alpha": float("nan")}, "alpha must be finite, got nan"),
        ({"beta": float("inf")}, "beta must be finite, got inf"),
        ({"penalty": "2"}, "penalty must be a real number, got '2'"),
        ({"alpha": None}, "alpha must be a real number, got None"),
        ({"alpha": 1j}, "alpha must be a real number, got 1j"),
        ({"eps": 0.0}, "eps must be positive, got 0.0"),
        ({"normalize": "zscore"}, "unknown normalisation 'zscore'"),
        ({"alpha": 1e308}, "the QUBO coefficients overflow float64"),
    ],
)
def test_bad_lowering_parameters(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle.replace("(", r"\(")) as exc:
        lower_attention(Q, K, V, **kwargs)
    _fix(exc)


def test_inputs_are_not_mutated_by_a_failed_lowering() -> None:
    q = Q.copy()
    q[0, 0, 0] = np.nan
    before = q.copy()
    with pytest.raises(InvalidInputError):
        lower_attention(q, K, V)
    np.testing.assert_array_equal(q, before)


# --------------------------------------------------------------------------- reads, seeds, backends, targets


@pytest.mark.parametrize("reads", [0, -1, 1.5, True, "10"])
@pytest.mark.parametrize("backend", ["exact", "sa"])
def test_negative_or_zero_reads(small: qama_compile.AttentionProblem, reads: Any, backend: str) -> None:
    with pytest.raises(InvalidInputError, match=f"num_reads must be a positive integer, got {reads!r}") as exc:
        solve(small, backend=backend, num_reads=reads)
    assert _fix(exc) == "pass num_reads >= 1"


@pytest.mark.parametrize("seed", [-1, "3", 2.0, True, 2**31, 2**70])
def test_bad_seed(small: qama_compile.AttentionProblem, seed: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"seed must be an integer in 0\.\.2147483647") as exc:
        solve(small, backend="sa", seed=seed)
    assert "below 2**31" in _fix(exc) and exc.value.fields["seed"] is seed


@pytest.mark.parametrize("seed", [-1, "3", 2.0, True])
def test_bad_seed_for_the_compiler(small: qama_compile.AttentionProblem, seed: Any) -> None:
    with pytest.raises(InvalidInputError, match="seed must be a non-negative integer") as exc:
        qama_compile.compile(small, target="cim-550", seed=seed)
    assert _fix(exc) == "pass e.g. seed=0"


def test_largest_seed_is_accepted_for_a_batch() -> None:
    problem = lower_attention(*RNG.normal(size=(3, 2, 1, 2, 3)), bits=1)  # B = 2
    assert solve(problem, backend="sa", seed=2**31 - 2, num_reads=2).samples.shape == (2, 2)
    with pytest.raises(InvalidInputError, match=r"0\.\.2147483646"):
        solve(problem, backend="sa", seed=2**31 - 1, num_reads=2)  # seed + 1 would overflow


@pytest.mark.parametrize("name", ["nope", "", "EXACT"])
def test_unknown_backend_lists_known(small: qama_compile.AttentionProblem, name: str) -> None:
    with pytest.raises(UnknownNameError) as exc:
        solve(small, backend=name)
    known = available_backends()
    assert str(exc.value).startswith(f"unknown backend {name!r}; known backends: {', '.join(known)}")
    assert exc.value.fields["known"] == known and exc.value.fields["name"] == name
    assert {"exact", "sa", "tabu", "steepest", "qaoa", "dwave"} <= set(known)
    assert "known backends" in _fix(exc)
    assert isinstance(exc.value, KeyError)


@pytest.mark.parametrize("backend", [None, 123, object()])
def test_backend_that_is_not_a_sampler(small: qama_compile.AttentionProblem, backend: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"backend must be a backend name or a sampler") as exc:
        solve(small, backend=backend)
    assert "available_backends" in _fix(exc)


def test_unknown_backend_option(small: qama_compile.AttentionProblem) -> None:
    with pytest.raises(InvalidInputError, match=r"backend 'exact' does not take the option\(s\) zzz") as exc:
        get_backend("exact", zzz=1)
    assert _fix(exc) == "its constructor options are: max_variables"
    with pytest.raises(InvalidInputError, match="unknown option"):
        solve(small, backend="sa", backend_options={"num_sweep": 10})  # typo of num_sweeps
    with pytest.raises(InvalidInputError, match=r"unknown option.*exact backend: zzz"):
        solve(small, backend="exact", zzz=1)  # a sampling option


@pytest.mark.parametrize(
    "kwargs, needle, fix",
    [
        ({"bits": 1}, r"bits \(the coupling bit width\) must be an integer in 2\.\.32, got 1", "bits=8"),
        ({"bits": 99}, r"must be an integer in 2\.\.32, got 99", "bits=8"),
        (
            {"chain_strength": "x"},
            "chain_strength must be a positive number, 'torque' or 'scaled', got 'x'",
            "'scaled'",
        ),
        ({"chain_strength": float("nan")}, "chain_strength must be positive and finite", "chain_strength=2.0"),
        ({"chain_strength": -1.0}, r"one per problem\), got -1\.0", "torque compensation"),
        ({"timeout": 0}, "timeout must be a positive number of seconds, got 0", "timeout=60"),
        ({"timeout": "x"}, "timeout must be a positive number of seconds, got 'x'", "timeout=60"),
        ({"unembed": "vote"}, "unembed must be one of", "pick one of them"),
        ({"rounding": "floor"}, "rounding must be 'nearest' or 'stochastic'", "pick one of the two"),
        ({"embedding": "magic"}, "embedding must be 'auto', 'clique' or 'heuristic'", "pick one of the three"),
    ],
)
def test_bad_compiler_options(
    small: qama_compile.AttentionProblem, kwargs: dict[str, Any], needle: str, fix: str | None
) -> None:
    with pytest.raises(InvalidInputError, match=needle) as exc:
        qama_compile.compile(small, target="dwave-advantage", **kwargs)
    if fix is not None:
        assert fix in _fix(exc)


@pytest.mark.parametrize("name", ["nope", "Advantage3", 123])
def test_unknown_target_lists_known(small: qama_compile.AttentionProblem, name: Any) -> None:
    known = available_targets()
    for call in (
        lambda: get_target(name),
        lambda: solve(small, target=name),
        lambda: qama_compile.compile(small, target=name),
    ):
        with pytest.raises(UnknownNameError) as exc:
            call()
        assert str(exc.value).startswith(f"unknown target {name!r}; known targets: {', '.join(known)}")
        assert exc.value.fields["known"] == known and "Target.from_graph" in _fix(exc)
    assert {"dwave-advantage", "dwave-advantage2", "chimera-c16", "cim-550", "cim-100k", "ibm-heron"} <= set(known)


def test_dwave_without_credentials(small: qama_compile.AttentionProblem, monkeypatch: pytest.MonkeyPatch) -> None:
    import qama_backends.dwave_qpu as qpu

    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setattr(qpu, "find_token", lambda: None)
    with pytest.raises(BackendError, match="no D-Wave credentials found") as exc:
        solve(small, backend="dwave")
    assert "dwave config create" in _fix(exc) and exc.value.fields["backend"] == "dwave"


# --------------------------------------------------------------------------- too large (refused before allocating)


def test_too_large_for_memory_is_refused_before_allocating() -> None:
    # H=16, N=4096, bits=8: the dense blocks alone would be 16 * 32768^2 * 8 B = 128 GiB
    x = np.broadcast_to(np.float64(0.5), (16, 4096, 2))  # no memory for the input itself

    def call() -> None:
        with pytest.raises(ProblemTooLargeError) as exc:
            lower_attention(x, x, x, bits=8)
        assert "B=1, H=16, N=4096, bits=8 needs about" in str(exc.value) and "over the limit of" in str(exc.value)
        assert exc.value.fields["unit"] == "bytes" and exc.value.fields["size"] > exc.value.fields["limit"]
        assert "fewer tokens" in _fix(exc)

    assert peak_bytes(call) < 16 << 20  # only the float64 copy of the inputs (~1.5 MiB each)


def test_too_large_for_memory_with_max_bytes() -> None:
    with pytest.raises(ProblemTooLargeError, match=r"over the limit of 1 KiB") as exc:
        lower_attention(Q, K, V, bits=8, max_bytes=1024)
    assert exc.value.fields["limit"] == 1024


def test_too_large_for_exact_backend_before_allocating() -> None:
    big = lower_attention(*RNG.normal(size=(3, 4, 8, 4)), bits=2)  # 64 variables: 2^64 states

    def call() -> None:
        with pytest.raises(ProblemTooLargeError) as exc:
            solve(big, backend="exact")
        assert str(exc.value).startswith(
            "exact enumeration scans 2^64 states for 64 variables; the limit is 30 variables"
        )
        assert exc.value.fields == {"size": 64, "limit": 30, "unit": "variables"}
        assert "heuristic backend" in _fix(exc)

    assert peak_bytes(call) < 16 << 20


def test_too_large_for_qaoa_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    import qama_backends.qaoa as qaoa_mod

    big = lower_attention(*RNG.normal(size=(3, 2, 7, 4)), bits=2)  # 28 qubits > 24
    with pytest.raises(ProblemTooLargeError, match=r"QAOA needs 28 qubits.*above the practical limit of 24") as exc:
        solve(big, backend="qaoa")
    assert exc.value.fields["unit"] == "qubits" and "decompose" in _fix(exc)
    monkeypatch.setattr(qaoa_mod, "available_memory", lambda: 1 << 20)  # 1 MiB free: 2^20 * 16 B do not fit
    mid = lower_attention(*RNG.normal(size=(3, 2, 5, 4)), bits=2)  # 20 qubits
    with pytest.raises(ProblemTooLargeError, match=r"over the 0\.0 GiB of available memory"):
        solve(mid, backend="qaoa")


def test_too_many_reads_for_memory_are_refused_before_sampling(small: qama_compile.AttentionProblem) -> None:
    def call() -> None:
        with pytest.raises(ProblemTooLargeError) as exc:
            solve(small, backend="sa", num_reads=10**12)
        assert str(exc.value).startswith(
            "num_reads=1000000000000 reads of 6 variables (1 problem(s) on sa) needs about"
        )
        assert "(half the physical memory)" in str(exc.value) and _fix(exc) == "use fewer reads per call"
        assert exc.value.fields["unit"] == "bytes"

    assert peak_bytes(call) < 16 << 20


def test_out_of_memory_in_the_cli_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MemoryError the size checks did not foresee is still one line, not a traceback."""

    def exhausted(*args: Any, **kwargs: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(sys.modules["qama_compile.runtime.solve"], "solve", exhausted)
    assert main(["solve", "--random", "1,1,2,2", "--bits", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qama solve: error: out of memory; fix: use a smaller problem") and err.count("\n") == 1


def test_too_large_for_a_heuristic_backend_limit(small: qama_compile.AttentionProblem) -> None:
    with pytest.raises(ProblemTooLargeError, match="the sa backend is limited to 4 variables; the problem has 6"):
        solve(small, backend="sa", backend_options={"max_variables": 4})


def test_too_large_for_a_target() -> None:
    big = lower_attention(*RNG.normal(size=(3, 8, 80, 4)), bits=1)  # 640 variables + 1 ancilla > 550 spins
    with pytest.raises(ProblemTooLargeError) as exc:
        qama_compile.compile(big, target="cim-550")
    assert "does not fit target 'cim-550': needs 641 spins" in str(exc.value)
    assert "decompose" in _fix(exc)


# --------------------------------------------------------------------------- missing optional dependencies


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import m`` fail for each module (as if not installed); restored after the test."""
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


def test_missing_matplotlib_names_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from qama_compile.tools import plotting

    _hide(monkeypatch, "matplotlib")
    w = np.full((1, 2), 0.5)
    with pytest.raises(MissingDependencyError) as exc:
        plotting.plot_masks(w, np.eye(2)[None], ["a", "b"], tmp_path / "m.png")
    assert (
        str(exc.value) == "optional dependency 'matplotlib' is not installed (needed for plots); "
        "fix: pip install 'matplotlib'"
    )
    assert exc.value.fields["package"] == "matplotlib" and isinstance(exc.value, ImportError)
    assert not (tmp_path / "m.png").exists()


def test_missing_torch_names_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "torch")
    for mod in [m for m in sys.modules if m == "qama_compile.nn" or m.startswith("qama_compile.nn.")]:
        monkeypatch.delitem(sys.modules, mod, raising=False)
    with pytest.raises(MissingDependencyError) as exc:
        importlib.import_module("qama_compile.nn")
    assert str(exc.value).startswith("optional dependency 'torch' is not installed")
    assert _fix(exc) == "pip install 'torch' (or pip install 'qama-compile[torch]')"


def test_missing_tqdm_for_progress(small: qama_compile.AttentionProblem, monkeypatch: pytest.MonkeyPatch) -> None:
    from qama_compile.tools.compare import compare

    _hide(monkeypatch, "tqdm")
    with pytest.raises(MissingDependencyError, match="'tqdm' is not installed") as exc:
        compare(small, backends=["exact"], num_reads=1, progress=True)
    assert _fix(exc) == "pip install 'tqdm'"
    assert compare(small, backends=["exact"], num_reads=1, progress=False).rows  # works without the bar


def test_missing_dask_names_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "distributed", "dask")
    with pytest.raises(MissingDependencyError) as exc:
        optional_import("distributed", purpose="solving on a Dask cluster")
    assert _fix(exc) == "pip install 'dask[distributed]' (or pip install 'qama-compile[dask]')"
    assert "needed for solving on a Dask cluster" in str(exc.value)


def test_missing_backend_package_names_pip_command(
    small: qama_compile.AttentionProblem, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide(monkeypatch, "dwave.samplers")
    monkeypatch.delitem(sys.modules, "qama_backends.dwave_samplers", raising=False)
    with pytest.raises(MissingDependencyError) as exc:
        solve(small, backend="sa")
    assert str(exc.value).startswith("backend 'sa' needs the Python package 'dwave-samplers'")
    assert _fix(exc) == "pip install 'dwave-samplers'" and exc.value.fields["backend"] == "sa"


def test_missing_dependency_in_the_cli_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide(monkeypatch, "matplotlib")
    argv = [
        "compare",
        "--random",
        "1,1,2,2",
        "--bits",
        "1",
        "--backends",
        "exact",
        "--reads",
        "1",
        "--plot",
        str(tmp_path / "c.png"),
        "--no-progress",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err == "qama compare: error: optional dependency 'matplotlib' is not installed (needed for plots); "
        "fix: pip install 'matplotlib'\n"
    )
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- files


def _saved(tmp_path: Path, problem: qama_compile.AttentionProblem, name: str) -> Path:
    path = tmp_path / name
    save(problem, path)
    return path


@pytest.mark.parametrize("suffix", [".json", ".npz", ".coo", ".mtx", ".lp"])
def test_corrupt_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"g{suffix}"
    path.write_bytes(b"\x00\xff not a problem file \x13\n" * 4)
    with pytest.raises(FileFormatError) as exc:
        load(path)
    assert str(exc.value).startswith(f"{path}: ") and exc.value.fields["path"] == str(path)
    _fix(exc)


@pytest.mark.parametrize("suffix", [".json", ".npz", ".coo", ".mtx", ".lp"])
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9])
def test_truncated_file(small: qama_compile.AttentionProblem, tmp_path: Path, suffix: str, keep: float) -> None:
    path = _saved(tmp_path, small, f"p{suffix}")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FileFormatError) as exc:
        load(path)
    assert exc.value.fields["path"] == str(path) and str(path) in str(exc.value)
    _fix(exc)


@pytest.mark.parametrize("version, advice", [(0, "re-export the file with this qama-compile"), (2, "upgrade")])
def test_wrong_version_file(small: qama_compile.AttentionProblem, tmp_path: Path, version: int, advice: str) -> None:
    path = _saved(tmp_path, small, "p.json")
    doc = json.loads(path.read_text())
    doc["version"] = version
    path.write_text(json.dumps(doc))
    with pytest.raises(FileFormatError, match=f"bqm-json version {version} is not supported") as exc:
        load(path)
    assert exc.value.fields["version"] == version and advice in _fix(exc)
    from qama_compile.formats.npz import arrays_for

    npz_path = tmp_path / "p.npz"
    np.savez(npz_path, **{**arrays_for(small), "version": np.array(version)})  # type: ignore[arg-type]
    with pytest.raises(FileFormatError, match=f"npz version {version} is not supported"):
        load(npz_path)


def test_oversized_file(small: qama_compile.AttentionProblem, tmp_path: Path) -> None:
    path = _saved(tmp_path, small, "p.coo")
    size = path.stat().st_size
    with pytest.raises(FileFormatError) as exc:
        load(path, max_bytes=size - 1)
    assert str(exc.value).startswith(f"{path}: is {size} bytes, over the limit of {size - 1} bytes")
    assert _fix(exc) == "pass a larger max_bytes= to load() if you trust this file"
    assert isinstance(load(path, max_bytes=size), qama_compile.QuadraticIR)


def test_oversized_npz_when_unpacked(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, zf.open("linear.npy", "w") as fh:
        np.lib.format.write_array(fh, np.zeros(500_000))
    with pytest.raises(FileFormatError, match="unpacks to 4000128 bytes, over the limit of 1000000 bytes"):
        load(path, max_bytes=1_000_000)


class _Evil:
    """Unpickling this would call ``_boom``: a test fails loudly if anything unpickles."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_boom, ())


def _boom() -> None:  # pragma: no cover - must never run
    raise AssertionError("a pickle was loaded")


def test_npz_with_pickled_object_arrays(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(
        path,
        format=np.array("qama-compile/npz"),
        version=np.array(1),
        linear=np.array([_Evil()], dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(FileFormatError) as exc:
        load(path)
    assert str(exc.value).startswith(f"{path}: linear: contains pickled object arrays, which are never loaded (unsafe)")
    assert exc.value.fields["field"] == "linear"
    assert "re-export" in _fix(exc)


def test_pickle_renamed_npz(tmp_path: Path) -> None:
    path = tmp_path / "problem.npz"
    path.write_bytes(pickle.dumps({"linear": _Evil()}))
    with pytest.raises(FileFormatError) as exc:
        load(path)
    assert str(exc.value).startswith(
        f"{path}: is not an .npz (zip) archive; numpy could only read it by unpickling, which is never done (unsafe)"
    )
    assert "format='npz'" in _fix(exc)


@pytest.mark.parametrize("name", ["p.xyz", "p", "p.pkl"])
def test_unknown_file_format(small: qama_compile.AttentionProblem, tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"whatever")
    for call in (lambda: load(tmp_path / name), lambda: save(small, tmp_path / f"out-{name}")):
        with pytest.raises(UnknownNameError) as exc:
            call()
        assert "cannot infer the format of" in str(exc.value)
        assert "known formats: bqm-json (.json), npz (.npz), coo (.coo/.txt), mtx (.mtx), lp (.lp), " in str(exc.value)
        assert "ising-txt (.txt), pauli-json (.json), qasm3 (.qasm/.qasm3)" in str(exc.value)
        assert exc.value.fields["known"] == sorted(FORMATS)
        assert {"bqm-json", "coo", "lp", "mtx", "npz", "ising-npz", "ising-txt", "pauli-json", "qasm3"} <= set(FORMATS)
    with pytest.raises(UnknownNameError, match="unknown format 'qubo'; known formats"):
        load(tmp_path / name, format="qubo")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no such file") as exc:
        load(tmp_path / "nope.json")
    assert _fix(exc) == "check the path"
    (tmp_path / "d.json").mkdir()
    with pytest.raises(FileFormatError, match="is not a regular file"):
        load(tmp_path / "d.json")


# --------------------------------------------------------------------------- the CLI: one line, exit 2


def _write_npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def _corpus(name: str) -> Path:
    return Path(__file__).resolve().parent / "formats" / "corpus" / name


def _cli_cases(tmp: Path) -> list[tuple[list[str], str]]:
    good = {"q": Q, "k": K, "v": V}
    nan_q = Q.copy()
    nan_q[0, 0, 0] = np.nan
    (tmp / "pickle.npz").write_bytes(pickle.dumps({"q": _Evil()}))
    (tmp / "outdir.npz").mkdir()
    (tmp / "empty.npz").write_bytes(b"")
    _write_npz(tmp / "good.npz", **good)
    (tmp / "truncated.npz").write_bytes((tmp / "good.npz").read_bytes()[:300])
    np.save(tmp / "single.npy", Q)
    (tmp / "single.npy").rename(tmp / "single.npz")
    np.savez(tmp / "objects.npz", q=np.array([_Evil()], dtype=object), k=K, v=V, allow_pickle=True)
    return [
        (["solve", str(_write_npz(tmp / "nan.npz", **{**good, "q": nan_q}))], "tensor 'q' contains NaN"),
        (["solve", str(_write_npz(tmp / "inf.npz", **{**good, "k": K * np.inf}))], "tensor 'k' contains infinite"),
        (["solve", str(_write_npz(tmp / "cplx.npz", **{**good, "v": V * 1j}))], "tensor 'v' is complex"),
        (["solve", str(_write_npz(tmp / "rank.npz", **{**good, "q": Q[0, 0]}))], "tensor 'q' has rank 1"),
        (["solve", str(_write_npz(tmp / "mism.npz", **{**good, "k": K[:, :2]}))], "q and k must have the same shape"),
        (["solve", str(_write_npz(tmp / "empty-t.npz", q=Q[:, :0], k=K[:, :0], v=V[:, :0]))], "tokens size is 0"),
        (["solve", str(_write_npz(tmp / "missing.npz", q=Q))], "missing arrays ['k', 'v']"),
        (["solve", str(tmp / "pickle.npz")], "numpy could only read it by unpickling, which is never done"),
        (["solve", str(tmp / "objects.npz")], "contains pickled object arrays, which are never loaded"),
        (["solve", str(tmp / "empty.npz")], "is not a readable .npz"),
        (["solve", str(tmp / "truncated.npz")], "is not a readable .npz"),
        (["solve", str(tmp / "single.npz")], "holds a single .npy array"),
        (["solve", str(tmp / "absent.npz")], "no such file"),
        (["solve", str(tmp / "q.txt")], "is not an .npz file"),
        (["solve", "--random", "1,1,2,2", "--bits", "9"], "bits must be an integer in 1..8, got 9"),
        (["solve", "--random", "1,1,2,2", "--reads", "0"], "--reads must be >= 1, got 0"),
        (["solve", "--random", "1,1,2,2", "--reads", "-3"], "--reads must be >= 1, got -3"),
        (["solve", "--random", "1,1,2,2", "--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["solve", "--random", "1,1,2,2", "--backend", "sa", "--seed", str(2**40)], "seed must be an integer in 0.."),
        (["solve", "--random", "1,1,2,2", "--backend", "nope"], "unknown backend 'nope'; known backends: cim, "),
        (["solve", "--random", "1,1,2,2", "--target", "nope"], "unknown target 'nope'; known targets: "),
        (["solve", "--random", "1,2,8,2", "--bits", "2"], "exact enumeration scans 2^32 states"),
        (["solve", "--random", "0,1,2,2"], "is not four positive integers"),
        (["solve", "--random", "100000,100,100,64"], "needs 1.43e+03 GiB for q, k and v, over the limit of"),
        (
            ["solve", "--random", "1,1,2,2", "--backend", "sa", "--reads", "1000000000000"],
            "qama solve for B=1, H=1, N=2, d=2, bits=4 needs about",
        ),
        (["solve", "--random", "1,1,2,2", "--alpha", "nan"], "alpha must be finite, got nan"),
        (["compile", "--random", "1,1,2,2", "-o", str(tmp / "out.xyz")], "cannot infer the format of"),
        (["compile", "--random", "1,1,2,2", "-o", str(tmp / "o.json"), "--format", "zz"], "unknown format 'zz'"),
        (["compile", "--random", "1,1,2,2", "-o", str(tmp / "outdir.npz")], "outdir.npz': it is a directory"),
        (["compile", "--random", "1,1,2,2", "-o", str(tmp)], "cannot infer the format of"),
        (["inspect", "--random", "1,1,2,2", "--sweep", "tokens=0"], "--sweep 'tokens=0' has values out of range"),
        (["compare", "--random", "1,1,2,2", "--option", "bad"], "is not BACKEND.KEY=VALUE"),
        # issue 13: refused before any work (no cluster started, nothing lowered or solved)
        (["solve", "--random", "1,1,2,2", "--workers", "1", "-o", str(tmp / "outdir.npz")], "outdir.npz': it is a dir"),
        (["compile", "--random", "2,1,2,2", "--bits", "1", "-o", str(tmp), "--format", "coo"], "': it is a directory"),
        (["compile", "--random", "1,1,2,2", "-o", str(tmp / "no" / "p.npz")], "its directory '" + str(tmp / "no")),
        (["solve", "--random", "1,1,2,2", "--scheduler", "notanaddress"], "is not a Dask scheduler address"),
        (["solve", "--random", "1,1,2,2", "--workers", "100000"], "--workers 100000 is more than the "),
        (["solve", "--random", "1,1,2,2", "--workers", "100000", "--force-workers"], "--workers 100000 (about"),
        (["solve", str(tmp / "good.npz"), "--tokens", "1000000000"], "--tokens selects tokens outside 0..2"),
        (["solve", str(tmp / "good.npz"), "--tokens", "0:1000000000"], "--tokens selects tokens outside 0..2"),
        (["solve", str(_corpus("cli-input-corrupt-deflate.npz"))], "(zlib.error: Error -3 while decompressing"),
        (["solve", str(_corpus("cli-input-npy-header-1-by-1e12.npz"))], "q: declares shape (1, 1000000000000)"),
    ]


def test_cli_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for argv, needle in _cli_cases(inputs):
        before = sorted(p.name for p in inputs.iterdir())
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith(f"qama {argv[0]}: error: "), (argv, err)
        assert err.count("\n") == 1 and "; fix: " in err, (argv, err)
        assert "Traceback" not in err and needle in err, (argv, needle, err)
        assert sorted(p.name for p in inputs.iterdir()) == before, argv  # nothing written


def test_cli_unknown_backend_in_compare_is_a_row(capsys: pytest.CaptureFixture[str]) -> None:
    """compare reports a failing backend as a row with the reason; the others still run."""
    argv = [
        "compare",
        "--random",
        "1,1,2,2",
        "--bits",
        "1",
        "--backends",
        "exact,nope",
        "--reads",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "unknown backend 'nope'" in out


def test_samples_are_checked(small: qama_compile.AttentionProblem) -> None:
    """A backend that reports wrong energies is caught (BackendError), not trusted."""

    class Liar(dimod.Sampler):  # type: ignore[misc]
        parameters: ClassVar[dict[str, Any]] = {}
        properties: ClassVar[dict[str, Any]] = {}

        def sample(self, bqm: dimod.BinaryQuadraticModel, **kw: Any) -> dimod.SampleSet:
            ss = dimod.ExactSolver().sample(bqm)
            return dimod.SampleSet.from_samples(
                (ss.record.sample, ss.variables), bqm.vartype, energy=ss.record.energy + 1.0
            )

    with pytest.raises(BackendError, match="reported energy") as exc:
        solve(small, backend=Liar())
    assert "cannot be trusted" in _fix(exc)


# ---------------------------------------------------------------- issue 13: memory refused before it is spent


def test_cli_refuses_huge_random_inputs_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    """``inspect --random 1,1,2,100000000`` spent 9.6 GB before refusing; now the whole command
    (q, k, v, their copies, the JS workspace) is estimated first."""
    monkeypatch.setenv("QAMA_MEMORY_LIMIT", "8G")  # the same outcome on any machine

    def call() -> None:
        with pytest.raises(ProblemTooLargeError) as exc:
            qama_compile.cli.cmd_inspect.run(
                qama_compile.cli.main.build_parser().parse_args(["inspect", "--random", "1,1,2,100000000"])
            )
        assert str(exc.value).startswith("qama inspect for B=1, H=1, N=2, d=100000000, bits=4 needs about")
        assert "over the limit of 8 GiB (QAMA_MEMORY_LIMIT)" in str(exc.value)

    import qama_compile.cli.cmd_inspect
    import qama_compile.cli.main

    assert peak_bytes(call) < 16 << 20


def test_tokens_selection_is_checked_before_index_arrays(tmp_path: Path) -> None:
    """``--tokens 1000000000`` built a 10**9-entry index array before checking it."""
    path = _write_npz(tmp_path / "qkv.npz", q=Q, k=K, v=V)

    def call() -> None:
        for sel in ("1000000000", "0:1000000000"):
            assert main(["inspect", str(path), "--tokens", sel]) == 2

    assert peak_bytes(call) < 16 << 20


def test_writers_refuse_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers had no memory check (coo used ~700 bytes per coupler); every writer is estimated
    (base.memory.writer_bytes) and refused before anything is written."""
    problem = lower_attention(*RNG.normal(size=(3, 16, 64, 8)), bits=4)  # 552,960 couplers
    monkeypatch.setenv("QAMA_MEMORY_LIMIT", "32M")
    with pytest.raises(ProblemTooLargeError, match=r"^writing mtx \(1 problem\(s\) of 4096 variables") as exc:
        save(problem, tmp_path / "p.mtx")
    assert "use the npz format" in _fix(exc) and exc.value.fields["unit"] == "bytes"
    assert list(tmp_path.iterdir()) == []
    save(problem, tmp_path / "p.coo")  # streamed in chunks: fits in 32 MiB
    assert main(["compile", "--random", "1,16,64,8", "--bits", "4", "-o", str(tmp_path / "q.mtx")]) == 2


def test_numpy_integer_bits_do_not_overflow() -> None:
    """``bits=np.int8(8)`` overflowed the memory estimate (OverflowError: 128 out of bounds for int8)."""
    problem = lower_attention(Q, K, V, bits=np.int8(8))
    assert problem.bits == 8 and type(problem.bits) is int
    assert problem.ir.num_variables == 2 * 3 * 8


@pytest.mark.parametrize("name", ["alpha", "beta", "penalty"])
def test_integer_weights_beyond_float64_are_invalid(name: str) -> None:
    """``alpha=10**400`` raised TypeError from np.isfinite."""
    with pytest.raises(InvalidInputError, match=f"{name} must be finite, got an integer of 401 digits") as exc:
        lower_attention(Q, K, V, **{name: 10**400})
    assert exc.value.fields["parameter"] == name


@pytest.mark.parametrize("backend", ["exact", "sa", "tabu", "steepest", "cim", "qaoa"])
def test_empty_batches_and_zero_variables_are_refused_before_any_backend(
    small: qama_compile.AttentionProblem, backend: str
) -> None:
    """A batch of 0 problems (cim: ValueError) or problems without variables (tabu: 'returned no
    samples', blamed on the backend) are refused by the sampling entry point itself."""
    from qama_compile.core.ir import QuadraticIR
    from qama_compile.runtime.sampling import sample_batch

    sampler = get_backend(backend)
    for ir in (small.ir.select([]), QuadraticIR.from_coo(linear=np.zeros((1, 0)))):
        with pytest.raises(InvalidInputError, match="nothing to sample: the batch has") as exc:
            sample_batch(ir, sampler, num_reads=2, seed=0)
        assert "at least one variable" in _fix(exc)
    with pytest.raises(InvalidInputError, match="nothing to sample"):
        solve(small.select([]), backend=backend)


def test_nan_never_reaches_a_backend(small: qama_compile.AttentionProblem) -> None:
    """NaN couplings (e.g. from the PyTorch layer's tensors) made a backend look broken
    (BackendError 'report this backend bug'); lowering and sampling now name the NaN instead."""
    from qama_compile.core.ir import QuadraticIR
    from qama_compile.core.lowering import build_qama_ir
    from qama_compile.runtime.sampling import sample_batch

    couplings = small.couplings.copy()
    couplings[0, 0, 1, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"couplings \(J or h\) contain NaN or infinity") as exc:
        build_qama_ir(couplings, small.fields, bits=1, alpha=1.0, beta=1.0, penalty=2.0)
    assert exc.value.fields["tensor"] == "couplings"
    linear = small.ir.linear.copy()
    linear[0, 0] = np.nan
    broken = QuadraticIR._owned(
        **{
            **{
                k: getattr(small.ir, k)
                for k in ("vartype", "offset", "blocks", "rows", "cols", "data", "labels", "label_fields", "meta")
            },
            "linear": linear,
        }
    )
    with pytest.raises(InvalidInputError, match="linear coefficients contain NaN or infinity; no backend") as exc2:
        sample_batch(broken, get_backend("sa"), num_reads=2, seed=0)
    assert "q, k, v" in _fix(exc2)


def test_sampleset_write_errors_name_the_sampleset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error writing --sampleset named the -o file instead."""
    import qama_compile.cli.cmd_solve as cmd_solve

    def disk_full(path: Any, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cmd_solve, "atomic_write_text", disk_full)
    out, ss = tmp_path / "m.npz", tmp_path / "ss.json"
    assert main(["solve", "--random", "1,1,2,2", "--bits", "1", "-o", str(out), "--sampleset", str(ss)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {str(ss)!r}: No space left on device" in err and err.count("\n") == 1


def test_demo_out_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``demo --out <existing file>`` was a FileExistsError traceback."""
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "file"), "--backends", ""]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "exists and is not a directory" in err and err.count("\n") == 1
    assert main(["demo", "--out", str(tmp_path / "no" / "deeper"), "--backends", ""]) == 2
    assert "parent directory" in capsys.readouterr().err

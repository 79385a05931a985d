"""Bad files raise FileFormatError naming the path and a fix; nothing is unpickled."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import FileFormatError, InvalidInputError, UnknownNameError
from qama_compile.formats import load, save

from ..helpers import peak_bytes

SUFFIX = {"bqm-json": ".json", "npz": ".npz", "coo": ".coo", "mtx": ".mtx", "lp": ".lp"}


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    return lower_attention(*rng.normal(size=(3, 1, 2, 3, 4)), bits=2)


def _assert_names(exc: pytest.ExceptionInfo[FileFormatError], path: Path) -> None:
    assert exc.value.fields["path"] == str(path)
    assert str(path) in str(exc.value)
    assert exc.value.fix


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_truncated_file(fmt: str, problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"p{SUFFIX[fmt]}"
    save(problem, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(FileFormatError) as exc:
        load(path)
    _assert_names(exc, path)


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_garbage_file(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"g{SUFFIX[fmt]}"
    path.write_bytes(b"\x00\xff garbage \x13 not a problem file\n" * 3)
    with pytest.raises(FileFormatError) as exc:
        load(path)
    _assert_names(exc, path)


@pytest.mark.parametrize("fmt", ["bqm-json", "coo", "mtx", "lp"])
def test_newer_version_is_refused(fmt: str, problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"p{SUFFIX[fmt]}"
    save(problem, path)
    text = path.read_text()
    if fmt == "bqm-json":
        text = text.replace('"version": 1', '"version": 99')
    else:
        text = text.replace("version: 1", "version: 99", 1)
    path.write_text(text)
    with pytest.raises(FileFormatError, match="version 99") as exc:
        load(path)
    assert exc.value.fields["version"] == 99
    assert "upgrade" in str(exc.value)


def test_npz_wrong_version_and_format(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from qama_compile.formats.npz import arrays_for

    arrays = arrays_for(problem)
    np.savez(tmp_path / "v.npz", **{**arrays, "version": np.array(2)})  # type: ignore[arg-type]
    with pytest.raises(FileFormatError, match="version 2"):
        load(tmp_path / "v.npz")
    np.savez(tmp_path / "f.npz", **{**arrays, "format": np.array("qama-compile/coo")})  # type: ignore[arg-type]
    with pytest.raises(FileFormatError, match="format tag"):
        load(tmp_path / "f.npz")


def test_wrong_format_content(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save(problem, tmp_path / "p.coo")
    (tmp_path / "p.json").write_text((tmp_path / "p.coo").read_text())
    with pytest.raises(FileFormatError, match="JSON"):
        load(tmp_path / "p.json")
    with pytest.raises(FileFormatError, match="MatrixMarket"):
        load(tmp_path / "p.coo", format="mtx")  # coo text read as Matrix Market
    (tmp_path / "o.json").write_text(json.dumps({"format": "qama-compile/npz", "version": 1}))
    with pytest.raises(FileFormatError, match="format tag"):
        load(tmp_path / "o.json")


def test_pickled_npz_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(
        path,
        format=np.array("qama-compile/npz"),
        version=np.array(1),
        linear=np.array([{"x": 1}], dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(FileFormatError, match="pickled") as exc:
        load(path)
    _assert_names(exc, path)


def test_attention_tensor_npz_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "qkv.npz"
    np.savez(path, q=np.zeros((2, 3)), k=np.zeros((2, 3)), v=np.zeros((2, 3)))
    with pytest.raises(FileFormatError, match="attention tensors"):
        load(path)


def test_oversized_file_is_refused_before_reading(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.json"
    save(problem, path)
    with pytest.raises(FileFormatError, match="over the limit") as exc:
        load(path, max_bytes=16)
    _assert_names(exc, path)


def test_npz_unpacked_size_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        buf = np.lib.format
        with zf.open("linear.npy", "w") as fh:
            buf.write_array(fh, np.zeros(1_000_000))
    assert path.stat().st_size < 100_000
    with pytest.raises(FileFormatError, match="unpacks to"):
        load(path, max_bytes=1_000_000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no such file"):
        load(tmp_path / "nope.coo")


def test_unknown_format_lists_known(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownNameError) as exc:
        save(problem, tmp_path / "p.xyz")
    assert "bqm-json" in str(exc.value) and "mtx" in str(exc.value)
    assert "npz" in exc.value.fields["known"]
    with pytest.raises(UnknownNameError, match="known formats"):
        save(problem, tmp_path / "p.coo", format="qubo")
    with pytest.raises(UnknownNameError):
        load(tmp_path / "p.xyz")


def test_bad_index_and_object(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="out of range"):
        save(problem, tmp_path / "p.coo", index=5)
    with pytest.raises(InvalidInputError, match="QuadraticIR or an AttentionProblem"):
        save({"q": 1}, tmp_path / "p.coo")  # type: ignore[arg-type]


def test_coo_bad_index_and_nan(tmp_path: Path) -> None:
    ir = QuadraticIR.from_coo(linear=[[1.0, 2.0]], rows=[0], cols=[1], data=[[0.5]])
    path = tmp_path / "p.coo"
    save(ir, path)
    good = path.read_text()
    path.write_text(good.replace("0 1 0.5", "0 7 0.5"))
    with pytest.raises(FileFormatError, match="indices"):
        load(path)
    path.write_text(good.replace("0 1 0.5", "0 1 nan"))
    with pytest.raises(FileFormatError, match="NaN"):
        load(path)


def test_nothing_is_left_behind_on_failed_write(problem, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import qama_compile.formats.npz as npz_mod

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(npz_mod.np, "savez", boom)
    with pytest.raises(RuntimeError):
        save(problem, tmp_path / "p.npz")
    assert list(tmp_path.iterdir()) == []


def test_plain_dimod_json_and_plain_mtx_load(tmp_path: Path) -> None:
    import dimod
    import scipy.io
    import scipy.sparse

    bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0}, {(0, 1): 0.5}, 0.25, "BINARY")
    (tmp_path / "d.json").write_text(json.dumps(bqm.to_serializable()))
    ir = load(tmp_path / "d.json")
    assert ir.energies([[1, 1]]).tolist() == [[bqm.energy({0: 1, 1: 1})]]
    scipy.io.mmwrite(str(tmp_path / "q.mtx"), scipy.sparse.coo_matrix(np.array([[1.0, 0.5], [0.5, -1.0]])))
    ir = load(tmp_path / "q.mtx")
    assert ir.energies([[1, 1]]).tolist() == [[1.0]]  # x^T Q x for the full matrix


@pytest.mark.parametrize("symmetry,dense", [("symmetric", False), ("general", True), ("symmetric", True)])
def test_foreign_mtx_variants(symmetry: str, dense: bool, tmp_path: Path) -> None:
    import scipy.io
    import scipy.sparse

    rng = np.random.default_rng(1)
    q = rng.normal(size=(4, 4))
    q = q + q.T if symmetry == "symmetric" else q
    scipy.io.mmwrite(str(tmp_path / "q.mtx"), q if dense else scipy.sparse.coo_matrix(q), symmetry=symmetry)
    ir = load(tmp_path / "q.mtx")
    x = rng.integers(0, 2, size=(16, 4))
    np.testing.assert_allclose(ir.energies(x)[0], np.einsum("si,ij,sj->s", x, q, x), atol=1e-12)


# --------------------------------------------------------------------------- issue 13: validate before allocating
# Each defect of the red-team pass, checked on a small hand-made file (the same files, and
# more, live in tests/formats/corpus/ and are replayed in subprocesses by test_fuzz.py).

CORPUS = Path(__file__).resolve().parent / "corpus"


def _refused(path: Path, fmt: str | None = None) -> FileFormatError:
    with pytest.raises(FileFormatError) as exc:
        load(path, format=fmt)
    _assert_names(exc, path)
    return exc.value


@pytest.mark.parametrize(
    "name, field, message",
    [
        (
            "bqm-json-negative-quadratic-head.json",
            "bqm.quadratic_head",
            "holds -100000, below the smallest allowed value 0",
        ),
        (
            "bqm-json-huge-quadratic-head.json",
            "bqm.quadratic_head",
            "holds 99999999999, out of range (must be below 4)",
        ),
    ],
)
def test_bqm_json_indices_are_checked_before_native_code(name: str, field: str, message: str) -> None:
    """A negative or huge index in quadratic_head segfaulted / aborted inside dimod; now refused first."""
    exc = _refused(CORPUS / name)
    assert exc.fields["field"] == field and f"{field}: {message}" in str(exc)


def test_truncated_arrays_are_refused(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A missing linear bias became 0.0; every array length is now checked against the declared sizes."""
    exc = _refused(CORPUS / "bqm-json-truncated-linear-biases.json")
    assert "bqm.linear_biases: has shape (3,), expected (4,) (truncated or padded?)" in str(exc)
    save(problem.select([0]), tmp_path / "p.coo")
    lines = (tmp_path / "p.coo").read_text().splitlines()
    (tmp_path / "p.coo").write_text("\n".join(lines[:-1]) + "\n")  # one entry line less
    exc = _refused(tmp_path / "p.coo")
    assert exc.fields["field"] == "entries" and "entries, the header says" in str(exc)


def test_lp_nested_brackets_are_linear_time(tmp_path: Path) -> None:
    """100 KB of '[ [ [ ...' took 110 s (a quadratic regex); now refused in well under a second."""
    import time

    t0 = time.perf_counter()
    exc = _refused(CORPUS / "lp-nested-brackets.lp")
    assert time.perf_counter() - t0 < 5.0 and "unclosed '['" in str(exc)
    big = "Minimize\n obj: " + "[ ] " * 200_000 + "\nEnd\n"  # 800 KB of brackets: linear, refused
    path = tmp_path / "brackets.lp"
    path.write_text(big)
    t0 = time.perf_counter()
    _refused(path)
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize(
    "name, message",
    [
        ("mtx-huge-declared-size.mtx", "declares a 100000000x100000000 matrix with 0 entries (no labels listed)"),
        ("mtx-huge-declared-array.mtx", "declares 450015000 entries, more than its 57 bytes can hold"),
        ("npz-blocks-shape-0-20000.npz", "blocks_triu: declares shape (1, 0, 199990000), more than its"),
        ("npz-npy-header-1-by-1e12.npz", "linear: declares shape (1, 1000000000000), more than its 160 bytes"),
        ("coo-huge-entries.coo", "entries: declares 4 variables and 100000000000 entries, more than its"),
    ],
)
def test_declared_sizes_are_checked_before_allocating(name: str, message: str) -> None:
    """A 68-byte .mtx allocated 2.45 GB, blocks_shape=[0, 20000] peaked at 3.5 GB, a (1, 10**12) header
    raised MemoryError; now each is refused with a peak of traced memory under 1 MiB."""
    holder: list[FileFormatError] = []
    peak = peak_bytes(lambda: holder.append(_refused(CORPUS / name)))
    assert message in str(holder[0]) and peak < 1 << 20, (peak, str(holder[0]))


@pytest.mark.parametrize(
    "name, message",
    [
        ("npz-corrupt-deflate.npz", "is not a readable .npz archive (zlib.error: Error -3 while decompressing"),
        ("bqm-json-nested-arrays.json", "is JSON nested too deeply to read"),
        ("npz-meta-nested.npz", "meta: is JSON nested too deeply to read"),
        ("bqm-json-label-above-int64.json", "bqm.variable_labels: holds mixed values or integers beyond int64"),
        ("bqm-json-version-infinity.json", "is not valid JSON (the non-finite number Infinity is not allowed)"),
        ("npz-version-infinity.npz", "version: version array(inf) is not an integer"),
        ("bqm-json-label-fields-int.json", "label_fields: must be a list of 1 to 8 names, got 5"),
        ("bqm-json-huge-integer-text.json", "is not valid JSON (Exceeds the limit (4300 digits)"),
        ("npz-params-alpha-1e400.npz", "params.alpha: inf is not a finite number"),
        ("npz-params-bits-huge.npz", "params.bits: 10000000000000000000000 is out of range 1..8"),
        ("npz-lzma-member.npz", "is compressed with zip method 14; only stored and deflated members are read"),
        ("bqm-json-use-bytes.json", "bqm.use_bytes: use_bytes must be false"),
        ("bqm-json-bias-as-text.json", "bqm.quadratic_biases: holds text where numbers are expected"),
        ("lp-long-name.lp", "Binaries: has a Binaries token of 300 characters (the LP limit is 255)"),
    ],
)
def test_raw_exceptions_are_file_format_errors(name: str, message: str) -> None:
    """zlib.error, RecursionError, OverflowError, TypeError and ValueError used to escape the readers."""
    assert message in str(_refused(CORPUS / name))


@pytest.mark.parametrize("name", ["lp-unusual-names.lp", "lp-huge-digit-names.lp"])
def test_unusual_lp_names_load_as_indices(name: str) -> None:
    """'x_\u00b2_0_0' (a digit to str.isdigit, not to int) and 30-digit label fields raised ValueError /
    OverflowError; such names are not (head, token, bit) labels, so the variables are numbered."""
    ir = load(CORPUS / name)
    assert isinstance(ir, QuadraticIR) and ir.label_fields == ("index",)
    assert ir.labels[:, 0].tolist() == list(range(ir.num_variables))


def test_bqm_json_is_read_without_dimod_but_stays_compatible(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Our files are exactly dimod's serialization: dimod reads them, and we read dimod's."""
    import dimod

    save(problem.select([0]), tmp_path / "p.json")
    doc = json.loads((tmp_path / "p.json").read_text())
    bqm = dimod.BinaryQuadraticModel.from_serializable(doc["bqm"])
    ir = load(tmp_path / "p.json")
    x = np.random.default_rng(3).integers(0, 2, size=(16, ir.num_variables))
    labels = ir.label_tuples()
    ours = ir.energies(x)[0]
    theirs = [bqm.energy(dict(zip(labels, row.tolist(), strict=True))) for row in x]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours, problem.select([0]).ir.energies(x)[0], rtol=1e-12, atol=1e-9)


def test_multi_file_batches_come_with_a_manifest(tmp_path: Path) -> None:
    batch = lower_attention(*np.random.default_rng(1).normal(size=(3, 3, 1, 2, 3)), bits=1)
    paths = save(batch, tmp_path / "p.mtx")
    assert isinstance(paths, list) and len(paths) == 3
    listing = json.loads((tmp_path / "p.manifest.json").read_text())
    assert [f["name"] for f in listing["files"]] == [p.name for p in paths]
    assert [f["bytes"] for f in listing["files"]] == [p.stat().st_size for p in paths]

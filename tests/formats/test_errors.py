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

"""The ``kaiwu`` export: Kaiwu's Ising matrix gives the IR's energies, hostile files are refused,
and the matrix is the one QBoson's own converter (``kaiwu-community``) builds.

The converter check runs in a separate venv (kaiwu-community pins numpy and pandas versions
that clash with ours): ``QAMA_KAIWU_PYTHON``, else ``.venv-kaiwu`` at the repository root or
next to the venv running the tests (``scripts/setup_kaiwu_env.sh`` creates it); skipped
when none exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR, Vartype
from qama_compile.errors import FileFormatError
from qama_compile.formats import kaiwu
from qama_compile.formats._base import CHUNK

from ..helpers import mutate, mutations

ROOT = Path(__file__).resolve().parents[2]


def _file_energies(path: Path, spins: np.ndarray) -> np.ndarray:
    """``-t^T K t + offset`` straight from the file, the way a Kaiwu user computes it."""
    matrix = np.loadtxt(path, delimiter=",")
    offset = next(
        float(line.split(":", 1)[1]) for line in path.read_text().splitlines() if line.startswith("# offset:")
    )
    t = np.c_[spins, np.ones(len(spins))]
    return -np.einsum("si,ij,sj->s", t, matrix, t) + offset


def _random_ir(rng: np.random.Generator, v: int, vartype: Vartype, density: float) -> QuadraticIR:
    r, c = np.triu_indices(v, k=1)
    keep = rng.random(r.size) < density
    r, c = r[keep], c[keep]
    dup = rng.integers(0, max(r.size, 1), size=min(r.size, 2))  # repeated couplings add up
    r, c = np.concatenate([r, r[dup]]), np.concatenate([c, c[dup]])
    scale = rng.choice([1e-3, 1.0, 1e3])
    return QuadraticIR.from_coo(
        linear=rng.normal(size=(1, v)) * scale * (rng.random(v) < 0.8),
        rows=r,
        cols=c,
        data=rng.normal(size=(1, r.size)) * scale,
        offset=rng.normal(size=1),
        vartype=vartype,
    )


@settings(max_examples=40, deadline=None)
@given(
    v=st.integers(1, 9),
    vartype=st.sampled_from(["BINARY", "SPIN"]),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
)
def test_file_energy_equals_ir_energy(v: int, vartype: Vartype, density: float, seed: int, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    ir = _random_ir(rng, v, vartype, density)
    path = tmp_path_factory.mktemp("kaiwu") / "p.csv"
    kaiwu.write(ir, path, 0)
    spins = rng.choice([-1, 1], size=(32, v))
    native = spins if vartype == "SPIN" else (spins + 1) // 2
    want = ir.energies(native)[0]
    scale = 1.0 + np.abs(want).max()
    np.testing.assert_allclose(_file_energies(path, spins), want, rtol=0, atol=1e-12 * scale)
    back = kaiwu.read(path)
    assert back.vartype == "SPIN" and back.num_variables == v and back.batch_size == 1
    np.testing.assert_allclose(back.energies(spins)[0], want, rtol=0, atol=1e-12 * scale)
    # the in-memory matrix is the file's matrix, bit for bit
    matrix, offset = kaiwu.ising_matrix(ir)
    np.testing.assert_array_equal(np.loadtxt(path, delimiter=","), matrix)
    # a SPIN IR comes back exactly (halving and doubling are exact)
    if vartype == "SPIN":
        np.testing.assert_array_equal(back.linear, ir.linear)
        np.testing.assert_array_equal(back.dense_matrix(0), ir.dense_matrix(0))
        assert back.offset[0] == ir.offset[0] == offset


def test_matrix_layout_and_gauge(tmp_path: Path) -> None:
    ir = QuadraticIR.from_coo(linear=[[0.5, -1.0, 0.0]], rows=[0, 1], cols=[2, 2], data=[[2.0, -4.0]], vartype="SPIN")
    matrix, offset = kaiwu.ising_matrix(ir)
    assert matrix.shape == (4, 4) and offset == 0.0
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diagonal(matrix), 0)
    assert matrix[0, 2] == -1.0 and matrix[1, 2] == 2.0  # K_ij = -J_ij / 2
    np.testing.assert_array_equal(matrix[:3, 3], [-0.25, 0.5, 0.0])  # K_i,anc = -h_i / 2
    assert not np.signbit(matrix).any() or np.all(matrix[np.signbit(matrix)] < 0)  # no negative zeros
    # flipping every spin (ancilla included) keeps H; a solver's answer is read after t *= t[-1]
    t = np.array([[1, -1, 1, -1.0]])
    h = -np.einsum("si,ij,sj->s", t, matrix, t)
    assert h == -np.einsum("si,ij,sj->s", -t, matrix, -t)
    np.testing.assert_allclose(h, ir.energies((t * t[:, -1:])[:, :3])[0])


def test_attention_problem_with_blocks_and_labels(tmp_path: Path) -> None:
    problem = lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 2, 3, 4)), bits=2)
    ir = problem.ir
    assert ir.block_count  # dense blocks, not just the sparse list
    path = tmp_path / "p.csv"
    kaiwu.write(ir, path, 1)
    back = kaiwu.read(path)
    np.testing.assert_array_equal(back.labels, ir.labels)
    assert back.label_fields == ir.label_fields
    x = np.random.default_rng(4).integers(0, 2, size=(20, ir.num_variables))
    np.testing.assert_allclose(back.energies(2 * x - 1)[0], ir.energies(x)[1], rtol=0, atol=1e-9)
    assert "# batch_index: 1" in path.read_text()


def test_writer_streams_rows_in_chunks(tmp_path: Path) -> None:
    v = 2 * CHUNK // 64 + 5  # several row chunks, the last one holding the ancilla row
    ir = _random_ir(np.random.default_rng(5), v, "BINARY", 0.01)
    path = tmp_path / "big.csv"
    kaiwu.write(ir, path, 0)
    matrix, _ = kaiwu.ising_matrix(ir)
    np.testing.assert_array_equal(np.loadtxt(path, delimiter=","), matrix)


# ------------------------------------------------------------------------------ hostile files
@pytest.fixture
def good(tmp_path: Path) -> Path:
    ir = QuadraticIR.from_coo(
        linear=[[1.0, -2.0, 0.5]], rows=[0, 1], cols=[1, 2], data=[[0.1, -0.3]], offset=[0.25], vartype="SPIN"
    )
    path = tmp_path / "p.csv"
    kaiwu.write(ir, path, 0)
    return path


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def _body(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    head = [line for line in lines if line.startswith("#")]
    return head, [line.split(",") for line in lines if not line.startswith("#")]


def _set_body(path: Path, head: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(head + [",".join(r) for r in rows]) + "\n")
    return path


def _set(path: Path, i: int, j: int, value: str, *, symmetric: bool = True) -> Path:
    head, rows = _body(path)
    rows[i][j] = value
    if symmetric:
        rows[j][i] = value
    return _set_body(path, head, rows)


HOSTILE = {
    "wrong format": (lambda p: _edit(p, "qama-compile/kaiwu", "qama-compile/coo"), "format tag"),
    "newer version": (lambda p: _edit(p, "version: 1", "version: 7"), "version 7"),
    "missing offset": (lambda p: _edit(p, "# offset:", "# offsett:"), "lacks ['offset']"),
    "offset nan": (lambda p: _edit(p, "offset: 0.25", "offset: nan"), "finite"),
    "huge size": (
        lambda p: _edit(_edit(p, "variables: 3", "variables: 3000000000"), "ancilla: 3", "ancilla: 3000000000"),
        "more than its",
    ),
    "ancilla first": (lambda p: _edit(p, "ancilla: 3", "ancilla: 0"), "ancilla"),
    "labels short": (lambda p: _edit(p, "labels: 0 1 2", "labels: 0 1"), "labels"),
    "not symmetric": (lambda p: _set(p, 0, 1, "0.5", symmetric=False), "not symmetric"),
    "diagonal": (lambda p: _set(p, 1, 1, "1.0"), "diagonal"),
    "nan entry": (lambda p: _set(p, 0, 2, "nan"), "NaN"),
    "inf entry": (lambda p: _set(p, 0, 2, "inf"), "NaN or infinite"),
    "text entry": (lambda p: _set(p, 0, 2, "x"), "comma-separated numbers"),
    "missing row": (lambda p: _set_body(p, _body(p)[0], _body(p)[1][:-1]), "shape (3, 4)"),
    "extra row": (lambda p: _set_body(p, _body(p)[0], _body(p)[1] + [["0"] * 4]), "shape (5, 4)+"),
    "short row": (
        lambda p: _set_body(p, _body(p)[0], [r[:-1] if i == 2 else r for i, r in enumerate(_body(p)[1])]),
        "",
    ),
    "square too small": (lambda p: _set_body(p, _body(p)[0], [r[:3] for r in _body(p)[1][:3]]), "shape (3, 3)"),
    "binary": (lambda p: p.write_bytes(b"# format: qama-compile/kaiwu\n\xff\xfe\x00" * 4) or p, "UTF-8"),
    "empty": (lambda p: p.write_text("") or p, "format tag"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_file_format_error(case: str, good: Path) -> None:
    damage, message = HOSTILE[case]
    damage(good)
    with pytest.raises(FileFormatError) as exc:
        kaiwu.read(good)
    assert str(good) in str(exc.value) and exc.value.fix
    assert message in str(exc.value), str(exc.value)


def test_oversized_file_is_refused_before_reading(good: Path) -> None:
    with pytest.raises(FileFormatError, match="over the limit"):
        kaiwu.read(good, max_bytes=10)


@settings(max_examples=60, deadline=None)
@given(mutation=mutations)
def test_mutated_files_fail_cleanly(mutation: tuple[str, float, bytes], tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("mut")
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 2, 3)), bits=1)
    kaiwu.write(problem.ir, d / "orig.csv", 0)
    data = (d / "orig.csv").read_bytes()
    data = mutate(data, mutation)
    path = d / "mutated.csv"
    path.write_bytes(data)
    try:
        back = kaiwu.read(path)
    except FileFormatError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(back, QuadraticIR) and back.vartype == "SPIN"  # a harmless change (e.g. in a comment)


# ------------------------------------------------------------------------------ Kaiwu's own converter
def kaiwu_python() -> str | None:
    """The Python of the separate Kaiwu venv, or ``None`` (an explicit QAMA_KAIWU_PYTHON must exist)."""
    explicit = os.environ.get("QAMA_KAIWU_PYTHON")
    if explicit:
        if not os.access(explicit, os.X_OK):
            pytest.fail(f"QAMA_KAIWU_PYTHON={explicit} is not an executable (run scripts/setup_kaiwu_env.sh)")
        return explicit
    for venv in (ROOT / ".venv-kaiwu", Path(sys.prefix).parent / ".venv-kaiwu"):
        python = venv / "bin" / "python"
        if os.access(python, os.X_OK):
            return str(python)
    return None


#: Runs inside the Kaiwu venv: Kaiwu's two QUBO -> Ising routes and its own energy function.
KAIWU_SCRIPT = """
import sys
import numpy as np
import kaiwu as kw
a = np.load(sys.argv[1], allow_pickle=False)
matrix, bias = kw.core.qubo_matrix_to_ising_matrix(a["qubo"])
model = kw.core.qubo_model_to_ising_model(kw.core.qubo_matrix_to_qubo_model(a["qubo"]))
names = sorted(model.get_variables(), key=model.get_variables().get)
np.savez(
    sys.argv[2],
    matrix=matrix,
    bias=np.float64(bias),
    model_matrix=model.get_matrix(),
    model_bias=np.float64(model.get_bias()),
    model_names=np.array(names),
    energies=kw.common.hamiltonian(a["ours"], a["spins"]),
    version=np.array(kw.__version__),
)
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_matches_kaiwu_converter(seed: int, tmp_path: Path) -> None:
    python = kaiwu_python()
    if python is None:
        pytest.skip(
            "no Kaiwu environment (kaiwu-community pins clash with ours): run scripts/setup_kaiwu_env.sh "
            "or set QAMA_KAIWU_PYTHON"
        )
    rng = np.random.default_rng(seed)
    v = int(rng.integers(2, 12))
    ir = _random_ir(rng, v, "BINARY", 0.6)
    qubo = np.diag(ir.linear[0]) + ir.dense_matrix(0)  # Kaiwu's upper-triangular QUBO: x^T Q x
    path = tmp_path / "p.csv"
    kaiwu.write(ir, path, 0)
    ours = np.loadtxt(path, delimiter=",")
    offset = kaiwu.read(path).offset[0]
    spins = rng.choice([-1, 1], size=(64, v + 1)).astype(np.float64)  # the ancilla at either sign
    np.savez(tmp_path / "in.npz", qubo=qubo, ours=ours, spins=spins)
    proc = subprocess.run(
        [python, "-c", KAIWU_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: val for k, val in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(tmp_path / "out.npz", allow_pickle=False) as out:
        got = {k: out[k] for k in out.files}
    scale = 1.0 + np.abs(qubo).sum()
    # the same matrix as kaiwu.core.qubo_matrix_to_ising_matrix, and the same constant
    np.testing.assert_allclose(ours, got["matrix"], rtol=0, atol=1e-13 * scale)
    assert offset == pytest.approx(float(got["bias"]) + ir.offset[0], abs=1e-12 * scale)
    # ... and as the QuboModel route the paper's code takes (solve_qubo), with "__spin__" last
    assert got["model_names"].tolist() == [f"b[{i:0{len(str(v - 1))}d}]" for i in range(v)] + ["__spin__"]
    np.testing.assert_allclose(ours, got["model_matrix"], rtol=0, atol=1e-13 * scale)
    assert offset == pytest.approx(float(got["model_bias"]) + ir.offset[0], abs=1e-12 * scale)
    # Kaiwu's own energy of our matrix, plus the offset, is the QUBO energy (after the negtail flip)
    x = ((spins * spins[:, -1:])[:, :v] + 1) // 2
    np.testing.assert_allclose(got["energies"] + offset, ir.energies(x)[0], rtol=0, atol=1e-12 * scale)

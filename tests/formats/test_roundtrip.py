"""Every file format gives back the same energies, labels and shapes it was given."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.core.problem import AttentionProblem
from qama_compile.formats import FORMATS, format_for_path, load, save

SUFFIX = {"bqm-json": ".json", "npz": ".npz", "coo": ".coo", "mtx": ".mtx", "lp": ".lp", "kaiwu": ".csv"}
#: Every format writes floats in shortest round-trip form (LP too, through dimod.lp): exact. Kaiwu's
#: Ising matrix is the spin form of the QUBO, so its energies agree to rounding (default 1e-12).
ATOL: dict[str, float] = {}
LOGICAL = sorted(name for name, spec in FORMATS.items() if spec.logical)

problems = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 2),
        "heads": st.integers(1, 3),
        "tokens": st.integers(1, 3),
        "dim": st.integers(1, 4),
        "bits": st.integers(1, 3),
        "seed": st.integers(0, 2**31 - 1),
        "normalize": st.sampled_from([None, "standardise", "minmax"]),
    }
)


def _make(p: dict) -> tuple[AttentionProblem, np.ndarray]:
    rng = np.random.default_rng(p["seed"])
    q, k, v = rng.normal(size=(3, p["batch"], p["heads"], p["tokens"], p["dim"])) * rng.uniform(0.2, 4)
    problem = lower_attention(
        q,
        k,
        v,
        bits=p["bits"],
        normalize=p["normalize"],
        penalty=rng.uniform(0, 4),
        alpha=rng.uniform(0.1, 3),
        beta=rng.uniform(0.1, 3),
    )
    x = rng.integers(0, 2, size=(16, problem.ir.num_variables))
    return problem, x


def _check_close(got: np.ndarray, want: np.ndarray, fmt: str) -> None:
    scale = 1.0 + np.abs(want).max()
    assert np.allclose(got, want, rtol=0, atol=ATOL.get(fmt, 1e-12) * scale), (fmt, np.abs(got - want).max())


@pytest.mark.parametrize("fmt", LOGICAL)
@settings(max_examples=8, deadline=None)
@given(p=problems)
def test_round_trip_energies_match_design_formula(fmt: str, p: dict) -> None:
    problem, x = _make(p)
    reference = problem.reference_energy(x)  # [B, S] straight from the docs/hamiltonian.md formula
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"problem{SUFFIX[fmt]}"
        written = save(problem, path)
        if fmt == "npz" or problem.batch_size == 1:
            assert written == path
            files = [path]
        else:
            assert isinstance(written, list)
            assert [w.name for w in written] == [f"problem_b{b}{SUFFIX[fmt]}" for b in range(problem.batch_size)]
            files = written
        loaded = [load(f) for f in files]
    if fmt == "npz":
        back = loaded[0]
        assert isinstance(back, AttentionProblem)
        assert back.shape == problem.shape
        np.testing.assert_array_equal(back.couplings, problem.couplings)
        np.testing.assert_array_equal(back.fields, problem.fields)
        np.testing.assert_array_equal(back.attention, problem.attention)
        assert (back.alpha, back.beta, back.penalty, back.normalize) == (
            problem.alpha,
            problem.beta,
            problem.penalty,
            problem.normalize,
        )
        # binary npz: bit-identical IR energies
        np.testing.assert_array_equal(back.energies(x), problem.energies(x))
        _check_close(back.reference_energy(x), reference, fmt)
        return
    for b, ir in enumerate(loaded):
        assert isinstance(ir, QuadraticIR)
        assert ir.batch_size == 1
        assert ir.label_fields == ("head", "token", "bit")
        np.testing.assert_array_equal(ir.labels, problem.ir.labels)
        xs = 2 * x - 1 if ir.vartype == "SPIN" else x  # kaiwu reads back the spin form
        _check_close(ir.energies(xs)[0], reference[b], fmt)
        _check_close(ir.energies(xs)[0], problem.energies(x)[b], fmt)


@pytest.mark.parametrize("fmt", ["bqm-json", "coo", "npz"])
def test_spin_ir_keeps_its_vartype(fmt: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ir = QuadraticIR.from_coo(
        linear=rng.normal(size=(1, 5)),
        rows=[0, 1, 3],
        cols=[4, 2, 4],
        data=rng.normal(size=(1, 3)),
        offset=[0.7],
        vartype="SPIN",
    )
    s = rng.choice([-1, 1], size=(10, 5))
    back = load(save(ir, tmp_path / f"s{SUFFIX[fmt]}"))  # type: ignore[arg-type]
    assert isinstance(back, QuadraticIR) and back.vartype == "SPIN"
    np.testing.assert_allclose(back.energies(s), ir.energies(s), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fmt", ["mtx", "lp"])
def test_spin_ir_becomes_exact_qubo(fmt: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ir = QuadraticIR.from_coo(
        linear=rng.normal(size=(1, 4)),
        rows=[0, 1],
        cols=[3, 2],
        data=rng.normal(size=(1, 2)),
        offset=[-0.3],
        vartype="SPIN",
    )
    x = rng.integers(0, 2, size=(10, 4))
    back = load(save(ir, tmp_path / f"s{SUFFIX[fmt]}"))  # type: ignore[arg-type]
    assert isinstance(back, QuadraticIR) and back.vartype == "BINARY"
    np.testing.assert_allclose(back.energies(x), ir.energies(2 * x - 1), rtol=0, atol=ATOL.get(fmt, 1e-12))


def test_index_selects_one_problem(tmp_path: Path) -> None:
    problem, x = _make({"batch": 3, "heads": 2, "tokens": 2, "dim": 3, "bits": 2, "seed": 5, "normalize": None})
    path = save(problem, tmp_path / "one.coo", index=2)
    assert path == tmp_path / "one.coo"
    ir = load(tmp_path / "one.coo")
    np.testing.assert_allclose(ir.energies(x)[0], problem.energies(x)[2], rtol=0, atol=1e-12)
    sub = load(save(problem, tmp_path / "one.npz", index=1))  # type: ignore[arg-type]
    assert isinstance(sub, AttentionProblem) and sub.batch_size == 1
    np.testing.assert_allclose(sub.energies(x)[0], problem.energies(x)[1], rtol=0, atol=1e-12)


def test_ir_npz_round_trip_is_bit_identical(tmp_path: Path) -> None:
    problem, x = _make({"batch": 2, "heads": 2, "tokens": 3, "dim": 3, "bits": 2, "seed": 6, "normalize": None})
    back = load(save(problem.ir, tmp_path / "ir.npz"))  # type: ignore[arg-type]
    assert isinstance(back, QuadraticIR)
    np.testing.assert_array_equal(back.blocks, problem.ir.blocks)
    np.testing.assert_array_equal(back.energies(x), problem.energies(x))
    assert back.meta == problem.ir.meta


def test_format_inference() -> None:
    assert [format_for_path(f"a{s}") for s in (".json", ".npz", ".coo", ".txt", ".mtx", ".lp", ".MTX")] == [
        "bqm-json",
        "npz",
        "coo",
        "coo",
        "mtx",
        "lp",
        "mtx",
    ]
    assert format_for_path("a.bin", "npz") == "npz"


def test_coo_body_is_plain_triplets(tmp_path: Path) -> None:
    ir = QuadraticIR.from_coo(linear=[[0.5, 0.0, -1.0]], rows=[0], cols=[2], data=[[0.1]], offset=[2.0])
    save(ir, tmp_path / "p.coo")
    lines = (tmp_path / "p.coo").read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    assert "# format: qama-compile/coo" in header and "# version: 1" in header and "# offset: 2.0" in header
    assert body == ["0 0 0.5", "2 2 -1.0", "0 2 0.1"]

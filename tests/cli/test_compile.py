"""``qama compile`` in-process (main([...]) + capsys), and once through the console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.cli.main import main
from qama_compile.core.problem import AttentionProblem
from qama_compile.formats import load


def _qkv(path: Path, shape: tuple[int, ...] = (2, 3, 4), seed: int = 0) -> tuple[np.ndarray, ...]:
    q, k, v = np.random.default_rng(seed).normal(size=(3, *shape))
    np.savez(path, q=q, k=k, v=v)
    return q, k, v


@pytest.mark.parametrize("fmt,suffix", [("bqm-json", ".json"), ("coo", ".coo"), ("mtx", ".mtx"), ("lp", ".lp")])
def test_compile_npz_tensors_to_each_format(fmt: str, suffix: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    q, k, v = _qkv(tmp_path / "qkv.npz")
    out = tmp_path / f"p{suffix}"
    rc = main(["compile", str(tmp_path / "qkv.npz"), "--bits", "2", "--format", fmt, "-o", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "H*N*q = 2*3*2 = 12" in text and f"wrote {out} ({fmt})" in text
    expected = lower_attention(q, k, v, bits=2)
    x = np.random.default_rng(1).integers(0, 2, size=(20, 12))
    ir = load(out)
    atol = 1e-9 if fmt == "lp" else 1e-12
    np.testing.assert_allclose(ir.energies(x)[0], expected.reference_energy(x)[0], rtol=0, atol=atol)


def test_compile_random_batch_splits_files_and_index(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", "--random", "3,2,2,4", "--seed", "5", "--bits", "1", "-o", str(tmp_path / "p.coo")]) == 0
    out = capsys.readouterr().out
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["p.manifest.json", "p_b0.coo", "p_b1.coo", "p_b2.coo"]
    assert out.count("wrote") == 4 and "p.manifest.json" in out
    expected = lower_attention(*np.random.default_rng(5).normal(size=(3, 3, 2, 2, 4)), bits=1)
    x = np.random.default_rng(2).integers(0, 2, size=(8, 4))
    assert (
        main(
            [
                "compile",
                "--random",
                "3,2,2,4",
                "--seed",
                "5",
                "--bits",
                "1",
                "--index",
                "2",
                "-o",
                str(tmp_path / "one.json"),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(load(tmp_path / "one.json").energies(x)[0], expected.energies(x)[2], atol=1e-12)


def test_compile_npz_keeps_options_and_reloads_as_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "p.npz"
    assert (
        main(
            [
                "compile",
                "--random",
                "1,2,3,4",
                "--seed",
                "1",
                "--bits",
                "3",
                "--alpha",
                "0.5",
                "--penalty",
                "1",
                "--normalize",
                "minmax",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    problem = load(out)
    assert isinstance(problem, AttentionProblem)
    assert (problem.bits, problem.alpha, problem.penalty, problem.normalize) == (3, 0.5, 1.0, "minmax")
    # an already-lowered problem is a valid INPUT; re-lowering options are refused
    assert main(["compile", str(out), "-o", str(tmp_path / "again.coo")]) == 0
    capsys.readouterr()
    assert main(["compile", str(out), "--bits", "2", "-o", str(tmp_path / "x.coo")]) == 2
    assert "already-lowered" in capsys.readouterr().err


def test_compile_example_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "ex.npz"
    assert main(["compile", "example", "--heads", "2", "--tokens", "1:4", "--bits", "1", "-o", str(out)]) == 0
    problem = load(out)
    assert isinstance(problem, AttentionProblem) and problem.shape == (1, 2, 3, 1)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["compile", "--random", "1,1,2,2", "-o", "X/p.bin"], "known formats: bqm-json"),
        (["compile", "--random", "1,2,x,2", "-o", "X/p.coo"], "four positive integers"),
        (["compile", "-o", "X/p.coo"], "no input given"),
        (["compile", "X/missing.npz", "-o", "X/p.coo"], "no such file"),
        (["compile", "--random", "1,1,2,2", "--bits", "9", "-o", "X/p.coo"], "bits"),
        (["compile", "--random", "2,1,2,2", "--index", "4", "-o", "X/p.coo"], "--index 4 is out of range"),
        (["compile", "--random", "1,2,2,2", "--heads", "5", "-o", "X/p.coo"], "--heads selects heads outside"),
        (["compile", "X/qkv.npz", "--random", "1,1,2,2", "-o", "X/p.coo"], "not both"),
        (["compile", "--random", "1,1,2,2", "--sentence", "1", "-o", "X/p.coo"], "'example'"),
    ],
)
def test_compile_errors_are_one_line(argv: list[str], needle: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _qkv(tmp_path / "qkv.npz")
    rc = main([a.replace("X/", f"{tmp_path}/") for a in argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err
    assert err.startswith("qama compile: error:") and err.count("\n") == 1
    assert not list(tmp_path.glob("p*"))


def test_bad_tensor_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    np.savez(tmp_path / "nokv.npz", q=np.zeros((2, 2)))
    assert main(["compile", str(tmp_path / "nokv.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "missing arrays ['k', 'v']" in capsys.readouterr().err
    np.savez(tmp_path / "obj.npz", q=np.array([None, 1], dtype=object), k=np.zeros(2), v=np.zeros(2))
    assert main(["compile", str(tmp_path / "obj.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "pickled" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    assert main(["compile", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "not a readable .npz" in capsys.readouterr().err
    with open(tmp_path / "single.npz", "wb") as fh:
        np.save(fh, np.zeros(3))
    assert main(["compile", str(tmp_path / "single.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "single .npy array" in capsys.readouterr().err
    (tmp_path / "text.npz").write_text("hello")
    assert main(["compile", str(tmp_path / "text.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "never done" in capsys.readouterr().err
    q, k, v = np.random.default_rng(0).normal(size=(3, 2, 3))
    q[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", q=q, k=k, v=v)
    assert main(["compile", str(tmp_path / "nan.npz"), "-o", str(tmp_path / "p.coo")]) == 2
    assert "tensor 'q' contains NaN" in capsys.readouterr().err


def test_help_has_examples(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["compile", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "qama compile --random" in out and "H*N*q" in out


def test_console_script_subprocess(tmp_path: Path) -> None:
    exe = shutil.which("qama", path=str(Path(sys.executable).parent))
    assert exe, "the qama console script is not installed in this environment"
    out = tmp_path / "p.coo"
    run = subprocess.run(
        [exe, "compile", "--random", "1,2,2,3", "--seed", "0", "--bits", "1", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert out.exists() and f"wrote {out}" in run.stdout
    bad = subprocess.run(
        [exe, "compile", "--random", "1,2,2,3", "-o", str(tmp_path / "p.zzz")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "known formats" in bad.stderr


def test_target_with_the_real_compiler(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "phys.txt"
    assert (
        main(["compile", "--random", "1,2,2,3", "--seed", "0", "--bits", "1", "--target", "cim-550", "-o", str(out)])
        == 0
    )
    assert out.exists() and out.stat().st_size > 0
    assert "for target cim-550" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["compile", "--bits", "x", "-o", "p.coo"], ["compile", "--random", "1,1,2,2"]])
def test_argparse_errors_are_one_line(argv: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("qama compile: error:") and err.count("\n") == 1 and "--help" in err

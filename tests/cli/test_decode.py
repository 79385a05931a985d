"""``qama decode``: compile -> write -> a fresh process samples the file with someone else's sampler -> decode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dimod
import numpy as np
import pytest

from qama_compile import lower_attention, solve
from qama_compile.cli.main import main
from qama_compile.compiler.driver import compile
from qama_compile.datasets import load_example
from qama_compile.formats import save
from qama_compile.formats.physical import export_compiled

#: Runs in a fresh interpreter that never imports qama_compile: it reads only the file.
FOREIGN_SAMPLER = textwrap.dedent(
    """
    import json, sys
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    doc = json.load(open(sys.argv[1]))
    bqm = dimod.BinaryQuadraticModel.from_serializable(doc["problems"][0])
    sampleset = SimulatedAnnealingSampler().sample(bqm, num_reads=16, num_sweeps=200, seed=7)
    json.dump(sampleset.to_serializable(), open(sys.argv[2], "w"))
    assert "qama_compile" not in sys.modules
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_compile_write_foreign_sample_decode_matches_solve(tmp_path: Path) -> None:
    """The issue's Done-when: files alone carry a MiniLM problem through someone else's sampler and back."""
    ex = load_example(sentence=0, layer=0, heads=[0, 1], tokens=[1, 2, 3])
    problem = lower_attention(ex.q, ex.k, ex.v, bits=2)
    cp = compile(problem, target="dwave-advantage", seed=0)
    assert cp.num_qubits > problem.ir.num_variables  # chains: a real embedding
    physical = export_compiled(cp, tmp_path / "physical.json")
    samples = tmp_path / "samples.json"
    subprocess.run(
        [sys.executable, "-c", FOREIGN_SAMPLER, str(physical), str(samples)],
        check=True, env=_env(), timeout=120, capture_output=True,
    )  # fmt: skip
    out = tmp_path / "masks.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "qama_compile", "decode", str(physical), str(samples), "-o", str(out)],
        env=_env(), timeout=120, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "best energy" in proc.stdout and "wrote" in proc.stdout
    # the same physical samples, decoded in this session: CompiledProblem.decode and solve()
    sampleset = dimod.SampleSet.from_serializable(json.loads(samples.read_text()))
    spins = dimod.as_samples(sampleset)[0]
    order = [list(sampleset.variables).index(q) for q in cp.qubits.tolist()]
    logical, info = cp.decode(spins[:, order])
    sample_set = dimod.SampleSet.from_samples((spins, list(sampleset.variables)), "SPIN", energy=0.0)
    solved = solve(problem, backend=_Replay(sample_set), target=cp.target, seed=0)
    with np.load(out) as f:
        np.testing.assert_array_equal(f["logical_samples"], logical)
        np.testing.assert_allclose(f["logical_energies"], info["logical_energies"], rtol=0, atol=1e-12)
        assert f["masks"].shape == (1, 16, 2, 3, 3) and f["weights"].shape == (1, 16, 2, 3)
        np.testing.assert_allclose(f["chain_break_fraction"], info["chain_break_fraction"])
        np.testing.assert_allclose(f["logical_energies"].min(axis=1), solved.energies, rtol=0, atol=1e-12)
        np.testing.assert_allclose(f["masks"][0, f["best"][0]], solved.masks[0], atol=1e-12)


class _Replay(dimod.Sampler):
    """A sampler that returns a recorded SampleSet (the foreign samples), so solve() decodes exactly those."""

    def __init__(self, sampleset: dimod.SampleSet) -> None:
        self._sampleset = sampleset

    @property
    def parameters(self) -> dict[str, list[str]]:
        return {}

    @property
    def properties(self) -> dict[str, object]:
        return {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: object) -> dimod.SampleSet:
        labels = list(self._sampleset.variables)
        x = dimod.as_samples(self._sampleset)[0]
        energies = bqm.energies((x, labels))
        return dimod.SampleSet.from_samples((x, labels), bqm.vartype, energy=energies)


@pytest.fixture(scope="module")
def physical_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 1, 3, 4)), bits=1)
    cp = compile(problem, target="chimera-c16", seed=0)
    path = export_compiled(cp, tmp_path_factory.mktemp("decode") / "p.txt")
    return path, cp


def test_decode_csv_of_bits_prints_a_table(physical_file, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path, cp = physical_file
    bits = np.random.default_rng(1).integers(0, 2, size=(5, cp.num_qubits))
    np.savetxt(tmp_path / "s.csv", bits, fmt="%d", delimiter=",")
    rc = main(["decode", str(path), str(tmp_path / "s.csv"), "-o", str(tmp_path / "o.npz"), "--problem", "1"])
    text = capsys.readouterr().out
    assert rc == 0 and "problem" in text and "chain breaks" in text
    _, info = cp.decode(bits, vartype="BINARY", problems=[1])
    with np.load(tmp_path / "o.npz") as f:
        assert f["problems"].tolist() == [1]
        np.testing.assert_allclose(f["logical_energies"], info["logical_energies"], rtol=0, atol=1e-12)
        assert f"{f['logical_energies'][0].min():.6f}" in text


@pytest.mark.parametrize(
    "rows,extra,message",
    [
        (lambda q: np.ones((2, q - 1)), [], "columns"),
        (lambda q: np.full((2, q), 3), [], "spins"),
        (lambda q: np.zeros((2, q)), ["--vartype", "spin"], "stated SPIN"),
    ],
)
def test_decode_refuses_bad_samples(physical_file, tmp_path: Path, capsys, rows, extra, message) -> None:  # type: ignore[no-untyped-def]
    path, cp = physical_file
    np.savetxt(tmp_path / "s.csv", rows(cp.num_qubits), fmt="%d", delimiter=",")
    rc = main(["decode", str(path), str(tmp_path / "s.csv"), "-o", str(tmp_path / "o.npz"), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "fix:" in err
    assert not (tmp_path / "o.npz").exists()


def test_decode_refuses_a_logical_file_and_foreign_qubits(physical_file, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path, cp = physical_file
    save(cp.problem.select([0]), tmp_path / "logical.json")
    np.savetxt(tmp_path / "s.csv", np.ones((1, cp.num_qubits)), fmt="%d", delimiter=",")
    assert main(["decode", str(tmp_path / "logical.json"), str(tmp_path / "s.csv"), "-o", str(tmp_path / "o.npz")]) == 2
    assert "not a physical file" in capsys.readouterr().err
    ss = dimod.SampleSet.from_samples(np.ones((1, cp.num_qubits)), "SPIN", energy=0.0)  # labels 0..Q-1, not qubits
    (tmp_path / "s.json").write_text(json.dumps(ss.to_serializable()))
    assert main(["decode", str(path), str(tmp_path / "s.json"), "-o", str(tmp_path / "o.npz")]) == 2
    assert "qubits differ" in capsys.readouterr().err

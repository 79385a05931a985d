"""``qama solve``: exact ground states, the masks npz and the SampleSet JSON."""

from __future__ import annotations

import json
from pathlib import Path

import dimod
import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.cli.main import main


def test_solve_matches_dimod_exact_and_writes_outputs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    masks, ss = tmp_path / "m.npz", tmp_path / "ss.json"
    argv = ["solve", "--random", "2,2,3,3", "--seed", "4", "--bits", "2", "-o", str(masks), "--sampleset", str(ss)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "H*N*q = 2*3*2 = 12" in out and "head 0" in out and "head 1" in out
    problem = lower_attention(*np.random.default_rng(4).normal(size=(3, 2, 2, 3, 3)), bits=2)
    with np.load(masks, allow_pickle=False) as z:
        assert str(z["format"]) == "qama-compile/masks" and int(z["version"]) == 1
        weights, m, energies, samples = z["weights"], z["masks"], z["energies"], z["samples"]
    assert weights.shape == (2, 2, 3) and m.shape == (2, 2, 3, 3) and samples.shape == (2, 12)
    np.testing.assert_allclose(m, weights[..., :, None] * weights[..., None, :])
    np.testing.assert_allclose(problem.reference_energy(samples[:, None])[:, 0], energies, atol=1e-12)
    for b in range(2):  # the ground state, independently of our backend
        ground = dimod.ExactSolver().sample(problem.to_bqm(b)).first.energy
        assert energies[b] == pytest.approx(ground, abs=1e-9)
        # the printed table lists the problem's energy
        assert f"{energies[b]:.6g}" in out
    doc = json.loads(ss.read_text())
    assert doc["format"] == "qama-compile/samplesets" and doc["version"] == 1
    sets = [dimod.SampleSet.from_serializable(s) for s in doc["samplesets"]]
    assert len(sets) == 2 and sets[0].first.energy == pytest.approx(energies[0])
    assert (0, 0, 0) in sets[0].variables  # (head, token, bit) labels survive


def test_selected_tokens_printed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["solve", "--random", "1,2,2,2", "--seed", "0", "--bits", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    w = np.array(doc["weights"])
    assert doc["selected"] == [[np.nonzero(w[0, t])[0].tolist() for t in range(2)]]


def test_solve_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["solve", "--random", "1,1,2,2", "--backend", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown backend 'nope'" in err and "exact" in err and err.count("\n") == 1
    assert main(["solve", "--random", "1,1,2,2", "-o", str(tmp_path / "m.txt")]) == 2
    assert "must end in .npz" in capsys.readouterr().err
    assert main(["solve", "--random", "1,1,2,2", "--reads", "0"]) == 2
    assert "--reads" in capsys.readouterr().err
    assert main(["solve", "--random", "1,4,4,2", "--bits", "8"]) == 2  # 128 variables: exact refuses
    assert "128" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_help_has_examples(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "qama solve" in out and "masks" in out


def test_solve_with_a_real_target(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ss = tmp_path / "ss.json"
    argv = ["solve", "--random", "1,2,3,4", "--seed", "1", "--bits", "1", "--target", "cim-550", "--sampleset", str(ss)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "target cim-550:" in out and "physical qubits" in out
    doc = json.loads(ss.read_text())
    assert doc["target"] == "cim-550" and doc["physical"] is True


def test_precision_loss_is_refused_unless_allowed(capsys) -> None:  # type: ignore[no-untyped-def]
    # two tokens: standardised J_01 + J_10 cancel, so the couplers left span 11 bits; 8-bit CIM
    argv = ["solve", "--random", "1,2,2,3", "--seed", "1", "--bits", "1", "--target", "cim-550"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "round to zero" in err and "--allow-precision-loss" in err and err.count("\n") == 1
    assert main([*argv, "--allow-precision-loss"]) == 0
    assert main([*argv, "--max-zeroed-fraction", "0.5"]) == 0


def test_option_reaches_the_sampler_and_reads_default(capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["solve", "example", "--heads", "2", "--tokens", "1:5", "--bits", "1", "--backend", "sa", "--json"]
    assert main([*base, "--option", "num_sweeps=3", "--option", "beta_range=[0.1, 0.2]"]) == 0
    info = json.loads(capsys.readouterr().out)["info"]
    assert info["num_reads"] == 100 and info["seed"] == 0  # sa's documented default reads; seed default 0
    assert main([*base, "--option", "no_such_option=1"]) == 2
    assert "no_such_option" in capsys.readouterr().err
    assert main([*base, "--option", "not-a-pair"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_trivial_ground_state_is_said(capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["solve", "example", "--heads", "2", "--tokens", "1:7", "--bits", "2"]
    assert main([*base, "--normalize", "none"]) == 0
    out = capsys.readouterr().out
    assert "0,1,2,3,4,5  0,1,2,3,4,5" in out and "trivial ground state" in out
    assert main(base) == 0  # the default (standardised) problem selects a strict subset
    out = capsys.readouterr().out
    assert "trivial" not in out
    heads = out.splitlines()[-1].split()[2:]
    assert heads and any(len(h.split(",")) < 6 for h in heads)

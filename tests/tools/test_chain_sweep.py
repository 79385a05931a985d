"""Chain-strength sweeps: compile options with a target, backend options without; the CLI flag."""

from __future__ import annotations

import numpy as np
import pytest
from dwave.samplers import SimulatedAnnealingSampler
from dwave.system.testing import MockDWaveSampler

from qama_compile import lower_attention
from qama_compile.cli.main import main
from qama_compile.errors import InvalidInputError
from qama_compile.runtime.solve import solve
from qama_compile.targets import Target
from qama_compile.tools.chain_sweep import chain_strength_label, parse_chain_strengths, sweep_chain_strength


def _problem():  # type: ignore[no-untyped-def]
    return lower_attention(*np.random.default_rng(2).normal(size=(3, 2, 4, 4)), bits=2)  # 2 heads: 16 variables


def _mock() -> MockDWaveSampler:
    return MockDWaveSampler(
        topology_type="pegasus",
        topology_shape=[6],
        broken_nodes=[30, 31],
        substitute_sampler=SimulatedAnnealingSampler(),
        substitute_kwargs={"seed": 0, "num_sweeps": 200},
    )


def test_sweep_with_a_target_changes_the_compiled_chains() -> None:
    mock = _mock()
    target = Target.from_sampler(mock)
    res = sweep_chain_strength(
        _problem(),
        chain_strengths=[0.02, 4.0, "torque"],
        backends=["dwave"],
        target=target,
        backend_options={"dwave": {"sampler": mock}},
        num_reads=50,
        progress=False,
    )
    labels = [r["backend"] for r in res.rows]
    assert labels == ["dwave cs=0.02", "dwave cs=4", "dwave cs=torque"]
    assert [r["chain_strength"] for r in res.rows] == [0.02, 4.0, "torque"]
    assert all(r["status"] == "ok" for r in res.rows) and set(res.energies) == set(labels)
    weak, strong = res.rows[0]["chain_break_fraction"], res.rows[1]["chain_break_fraction"]
    assert weak > 0.05 > strong  # chains far weaker than the couplings break; strong ones hold
    assert res.info["chain_strengths"] == [0.02, 4.0, "torque"]
    # the same as solving with the compile option directly
    direct = solve(
        _problem(),
        backend="dwave",
        backend_options={"sampler": mock},
        target=target,
        num_reads=50,
        seed=0,
        compile_options={"chain_strength": 4.0},
    )
    assert direct.info.chain_break_fraction[0] == pytest.approx(strong)


def test_sweep_without_a_target_sets_the_backend_option() -> None:
    mock = _mock()
    res = sweep_chain_strength(
        _problem(),
        chain_strengths=["scaled", 0.01],
        backends=["exact", "dwave"],
        backend_options={"dwave": {"sampler": mock}},
        num_reads=20,
        progress=False,
    )
    assert [r["backend"] for r in res.rows] == ["exact", "dwave cs=scaled", "dwave cs=0.01"]
    assert all(r["status"] == "ok" for r in res.rows)
    with pytest.raises(InvalidInputError, match="takes a chain_strength option"):
        sweep_chain_strength(_problem(), chain_strengths=[1.0], backends=["sa"])


def test_parse_and_label() -> None:
    assert parse_chain_strengths(" 1, 2.5 ,torque,") == [1.0, 2.5, "torque"]
    assert chain_strength_label(2.0) == "cs=2" and chain_strength_label("scaled") == "cs=scaled"
    for bad in ("", "0", "-1", "strong", "nan"):
        with pytest.raises(InvalidInputError):
            parse_chain_strengths(bad)
    with pytest.raises(InvalidInputError, match="unknown compile option"):
        solve(_problem(), target="chimera-c16", compile_options={"chainstrength": 1.0})


def test_cli_chain_strength_flag(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["compare", "--random", "1,1,3,4", "--seed", "0", "--bits", "2", "--backends", "sa", "--reads", "10"]
    base += ["--target", "chimera-c16", "--no-progress"]
    assert main([*base, "--chain-strength", "0.5,torque"]) == 0
    out = capsys.readouterr().out
    assert "sa cs=0.5" in out and "sa cs=torque" in out
    assert main([*base, "--chain-strength", "weak"]) == 2

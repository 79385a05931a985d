from __future__ import annotations

from typing import Any

import dimod
import numpy as np
import pytest

from qama_compile import lower_attention, solve
from qama_compile.errors import BackendError, InvalidInputError, UnknownNameError


def test_exact_solve_matches_dimod_exact_solver(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 3, 2, 3, 4)), bits=2)  # B=3, 12 variables
    result = solve(problem, backend="exact", num_reads=3)
    assert result.weights.shape == (3, 2, 3)
    assert result.masks.shape == (3, 2, 3, 3)
    for b in range(3):
        ground = dimod.ExactSolver().sample(problem.to_bqm(b)).first.energy
        assert result.energies[b] == pytest.approx(ground)
        assert problem.energies(result.samples[b][None])[b, 0] == pytest.approx(ground)
        assert len(result.samplesets[b]) == 3


def test_solve_accepts_a_sampler_instance(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 1, 3, 4)), bits=2)
    result = solve(problem, backend=dimod.ExactSolver())
    assert result.info.backend == "ExactSolver"


class _LyingSampler(dimod.Sampler):  # type: ignore[misc]
    @property
    def parameters(self) -> dict[str, Any]:
        return {}

    @property
    def properties(self) -> dict[str, Any]:
        return {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: Any) -> dimod.SampleSet:
        sample = {v: 0 for v in bqm.variables}
        return dimod.SampleSet.from_samples([sample], bqm.vartype, energy=[bqm.energy(sample) - 1.0])


def test_wrong_reported_energy_is_caught(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 1, 2, 3)), bits=1)
    with pytest.raises(BackendError, match="reported energy"):
        solve(problem, backend=_LyingSampler())


def test_bad_arguments(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 1, 2, 3)), bits=1)
    with pytest.raises(InvalidInputError, match="num_reads"):
        solve(problem, num_reads=-1)
    with pytest.raises(UnknownNameError, match=r"known backends: .*exact"):
        solve(problem, backend="nope")
    with pytest.raises(InvalidInputError, match="AttentionProblem"):
        solve(problem.ir)  # type: ignore[arg-type]


def test_trivial_note_and_default_reads() -> None:
    from qama_compile.datasets import load_example

    ex = load_example(heads=2, tokens=range(1, 7))
    raw = lower_attention(ex.q, ex.k, ex.v, bits=2, normalize="none")
    res = solve(raw, backend="sa", seed=0)
    assert res.info.trivial == (True,) and "trivial ground state" in (res.info.note or "")
    assert "normalize='standardise'" in (res.info.note or "") and res.info.num_reads == 100
    assert res.info.as_dict()["trivial"] == [True]
    default = solve(lower_attention(ex.q, ex.k, ex.v, bits=2), backend="exact")
    assert default.info.trivial == (False,) and default.info.note is None and default.info.num_reads == 1
    assert 0 < int((default.weights > 0).sum()) < default.weights.size  # a strict subset of the tokens
    unchecked = solve(raw, backend="exact", check_trivial=False)
    assert unchecked.info.trivial == () and unchecked.info.note is None

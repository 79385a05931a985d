"""The one sampling path: routes, the BatchSampler contract, checked energies, seeds."""

from __future__ import annotations

from typing import Any, ClassVar

import dimod
import numpy as np
import pytest

from qama_compile import BackendError, InvalidInputError, lower_attention
from qama_compile.core.exact import lowest_states
from qama_compile.runtime.registry import get_backend
from qama_compile.runtime.sampling import BatchSampler, sample_batch


@pytest.fixture(scope="module")
def ir() -> Any:
    return lower_attention(*np.random.default_rng(0).normal(size=(3, 3, 2, 3, 4)), bits=1).ir  # B=3, V=6


class ThirdPartyBatch:
    """Not ours, no base class: a sample_ir method is all it takes to get the batched route."""

    def __init__(self, energies: str = "none") -> None:
        self.calls = 0
        self.energies = energies

    def sample_ir(self, ir: Any, *, num_reads: int, seed: int | None) -> tuple[np.ndarray, Any, dict[str, Any]]:
        self.calls += 1
        x, e = lowest_states(ir, k=num_reads)
        reported = {"none": None, "right": e, "wrong": e + 1.0}[self.energies]
        return x, reported, {"who": "third party"}


def test_a_third_party_batch_sampler_takes_the_batched_route(ir: Any) -> None:
    smp = ThirdPartyBatch("right")
    assert isinstance(smp, BatchSampler)
    out = sample_batch(ir, smp, num_reads=2, seed=0)
    assert smp.calls == 1 and out.route == "batched" and out.info == ({"who": "third party"},)
    x, e = out.best()
    np.testing.assert_allclose(e, lowest_states(ir)[1][:, 0])
    np.testing.assert_allclose(ir.energies(x[:, None])[:, 0], e)
    assert [len(s) for s in out.to_samplesets(ir)] == [2, 2, 2]


def test_the_batched_contract_is_enforced(ir: Any) -> None:
    with pytest.raises(BackendError, match="reported energy"):
        sample_batch(ir, ThirdPartyBatch("wrong"), num_reads=2)

    class WrongVartype(ThirdPartyBatch):
        def sample_ir(self, ir: Any, *, num_reads: int, seed: int | None) -> tuple[np.ndarray, Any, dict[str, Any]]:
            x, _ = lowest_states(ir.to_spin(), k=num_reads)  # spins for a BINARY IR: not allowed
            return x, None, {}

    with pytest.raises(BackendError, match="values other than 0/1"):
        sample_batch(ir, WrongVartype(), num_reads=2)

    class WrongShape(ThirdPartyBatch):
        def sample_ir(self, ir: Any, *, num_reads: int, seed: int | None) -> tuple[np.ndarray, Any, dict[str, Any]]:
            return np.zeros((ir.batch_size, ir.num_variables)), None, {}

    with pytest.raises(BackendError, match=r"expected \[B, R, V\]"):
        sample_batch(ir, WrongShape(), num_reads=2)


def test_dimod_route_seeds_each_problem_and_checks_energies(ir: Any) -> None:
    sa = get_backend("sa")
    a = sample_batch(ir, sa, num_reads=3, seed=5)
    b = sample_batch(ir, sa, num_reads=3, seed=5)
    assert a.route == "dimod" and len(a.samplesets) == 3
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples, strict=True))
    single = sample_batch(ir.select([1]), sa, num_reads=3, seed=6)  # problem 1 of the batch got seed 5 + 1
    assert np.array_equal(single.samples[0], a.samples[1])

    class Liar(dimod.Sampler):  # type: ignore[misc]
        parameters: ClassVar[dict[str, list[Any]]] = {}
        properties: ClassVar[dict[str, Any]] = {}

        def sample(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
            ss = dimod.ExactSolver().sample(bqm)
            return dimod.SampleSet.from_samples((ss.record.sample, ss.variables), bqm.vartype, ss.record.energy - 1)

    with pytest.raises(BackendError, match=r"cannot be trusted|reported energy"):
        sample_batch(ir, Liar())


def test_routes_can_be_forced_and_bad_arguments_are_refused(ir: Any) -> None:
    exact = get_backend("exact")
    assert sample_batch(ir, exact, num_reads=1).route == "batched"
    assert sample_batch(ir, exact, num_reads=1, batched=False).route == "dimod"
    with pytest.raises(InvalidInputError, match="no batched sample_ir"):
        sample_batch(ir, get_backend("sa"), batched=True)
    with pytest.raises(InvalidInputError, match="num_reads"):
        sample_batch(ir, exact, num_reads=0)
    with pytest.raises(InvalidInputError, match="seed"):
        sample_batch(ir, exact, seed=-1)
    with pytest.raises(InvalidInputError, match="QuadraticIR"):
        sample_batch("ir", exact)  # type: ignore[arg-type]

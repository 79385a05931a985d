"""Every registered backend passes the shipped conformance checks (qama_compile.testing).

Backends that cannot run here (e.g. a real QPU without credentials) are tested through an
injected sampler (``dwave`` with dwave-system's MockDWaveSampler, ``hybrid`` with a
LeapHybridSampler whose cloud client is mocked); a backend that cannot even
be loaded fails the test: every registered name must work.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dimod
import numpy as np
import pytest
from dwave.system.testing import MockDWaveSampler

from qama_compile import available_backends, get_backend
from qama_compile.testing import assert_backend_conformance

#: constructor options that keep each backend fast here (or make it run offline)
_OPTIONS: dict[str, Any] = {
    "qaoa": lambda: {"reps": 1, "maxiter": 5, "shots": 64},
    "tabu": lambda: {"timeout": 5},
    "dwave": lambda: {"sampler": MockDWaveSampler(substitute_kwargs={"seed": 0})},
    "hybrid": lambda: {"sampler": _mock_leap_hybrid()},
}
#: backends that must find the ground state of the small conformance problems
_FINDS_GROUND_STATES = {"exact", "cim", "sa", "tabu"}


def _mock_leap_hybrid() -> Any:
    """dwave-system's LeapHybridSampler with the cloud client mocked (a local solver, no network)."""
    from unittest import mock

    from dwave.system import LeapHybridSampler
    from dwave.system.testing import MockLeapHybridSolver

    client = mock.MagicMock()
    client.get_solver.return_value = MockLeapHybridSolver()
    with mock.patch("dwave.system.samplers.leap_hybrid_sampler.Client.from_config", return_value=client):
        return LeapHybridSampler(token="not-a-real-token")


@pytest.mark.parametrize("name", available_backends())
def test_registered_backend_conforms(name: str) -> None:
    sampler = get_backend(name, **_OPTIONS.get(name, dict)())
    assert_backend_conformance(sampler, name=name, expect_ground_state=name in _FINDS_GROUND_STATES)


class _Correct(dimod.Sampler):  # type: ignore[misc]
    """A minimal third-party backend that does everything right."""

    parameters: ClassVar[dict[str, list[Any]]] = {"num_reads": []}
    properties: ClassVar[dict[str, Any]] = {"max_variables": 10, "native_graph": None, "description": "exact, by dimod"}

    def sample(self, bqm: dimod.BinaryQuadraticModel, *, num_reads: int = 1) -> dimod.SampleSet:
        return dimod.ExactSolver().sample(bqm).truncate(num_reads)


class _OffByOne(dimod.Sampler):  # type: ignore[misc]
    """Reports energies that are off by one: the checks must catch it."""

    parameters: ClassVar[dict[str, list[Any]]] = {"num_reads": []}
    properties: ClassVar[dict[str, Any]] = {"max_variables": 10, "native_graph": None, "description": "off by one"}

    def sample(self, bqm: dimod.BinaryQuadraticModel, *, num_reads: int = 1) -> dimod.SampleSet:
        ss = dimod.ExactSolver().sample(bqm).truncate(num_reads)
        return dimod.SampleSet.from_samples(
            (ss.record.sample, ss.variables), vartype=bqm.vartype, energy=ss.record.energy + 1.0
        )


class _NoProperties(dimod.Sampler):  # type: ignore[misc]
    parameters: ClassVar[dict[str, list[Any]]] = {}
    properties: ClassVar[dict[str, Any]] = {}

    def sample(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        return dimod.ExactSolver().sample(bqm)


class _UnseededBatch:
    """A BatchSampler whose seed does nothing."""

    def sample_ir(self, ir: Any, *, num_reads: int, seed: int | None) -> tuple[np.ndarray, None, dict[str, Any]]:
        lo = -1 if ir.vartype == "SPIN" else 0
        x = np.random.default_rng().choice([lo, 1], size=(ir.batch_size, num_reads, ir.num_variables))
        return x, None, {}


def test_the_checks_catch_broken_backends() -> None:
    assert_backend_conformance(_Correct(), expect_ground_state=True)  # a correct one passes
    with pytest.raises(AssertionError):
        assert_backend_conformance(_OffByOne())
    with pytest.raises(AssertionError, match="max_variables"):
        assert_backend_conformance(_NoProperties())
    with pytest.raises(AssertionError, match="same seed gave different samples"):
        assert_backend_conformance(_UnseededBatch())
    with pytest.raises(AssertionError, match=r"neither a dimod\.Sampler nor a BatchSampler"):
        assert_backend_conformance(object())

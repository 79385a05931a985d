"""dimod's own conformance helpers for every registered backend, on small BQMs, BINARY and SPIN.

Backends that cannot run here (e.g. a real QPU without credentials) are tested through an
injected sampler (``dwave`` with dwave-system's MockDWaveSampler, ``hybrid`` with a
LeapHybridSampler whose cloud client is mocked); a backend that cannot even
be loaded fails the test: every registered name must work.
"""

from __future__ import annotations

from typing import Any, Literal

import dimod
import dimod.testing
import numpy as np
import pytest
from dwave.system.testing import MockDWaveSampler

from qama_compile import available_backends, get_backend

#: constructor options that keep each backend fast here (or make it run offline)
_OPTIONS: dict[str, Any] = {
    "qaoa": lambda: {"reps": 1, "maxiter": 5, "shots": 64},
    "tabu": lambda: {"timeout": 5},
    "dwave": lambda: {"sampler": MockDWaveSampler(substitute_kwargs={"seed": 0})},
    "hybrid": lambda: {"sampler": _mock_leap_hybrid()},
}


def _mock_leap_hybrid() -> Any:
    """dwave-system's LeapHybridSampler with the cloud client mocked (a local solver, no network)."""
    from unittest import mock

    from dwave.system import LeapHybridSampler
    from dwave.system.testing import MockLeapHybridSolver

    client = mock.MagicMock()
    client.get_solver.return_value = MockLeapHybridSolver()
    with mock.patch("dwave.system.samplers.leap_hybrid_sampler.Client.from_config", return_value=client):
        return LeapHybridSampler(token="not-a-real-token")


def _bqms(vartype: Literal["BINARY", "SPIN"]) -> list[dimod.BinaryQuadraticModel]:
    rng = np.random.default_rng(42)
    out = [
        dimod.generators.gnp_random_bqm(5, 0.6, vartype, random_state=7),  # integer labels
        dimod.BinaryQuadraticModel({"a": 0.5, "b": -1.0}, {("a", "b"): 0.75}, 1.25, vartype),  # str labels
    ]
    labelled = dimod.BinaryQuadraticModel(vartype)  # tuple labels like QAMA's (head, token, bit)
    for i in range(4):
        labelled.add_variable((0, i, 0), float(rng.normal()))
    for i in range(3):
        labelled.add_interaction((0, i, 0), (0, i + 1, 0), float(rng.normal()))
    out.append(labelled)
    return out


@pytest.fixture(params=available_backends())
def backend(request: pytest.FixtureRequest) -> tuple[str, dimod.Sampler]:
    name = request.param
    options = _OPTIONS.get(name, dict)()
    return name, get_backend(name, **options)


def test_sampler_api_and_declared_limits(backend: tuple[str, dimod.Sampler]) -> None:
    name, sampler = backend
    dimod.testing.asserts.assert_sampler_api(sampler)
    props = sampler.properties
    for key in ("max_variables", "native_graph", "description"):
        assert key in props, f"backend {name!r} does not declare {key!r}"
    assert isinstance(props["max_variables"], int) and props["max_variables"] >= 5
    assert isinstance(props["description"], str) and props["description"]


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
def test_sampleset_energies(backend: tuple[str, dimod.Sampler], vartype: Literal["BINARY", "SPIN"]) -> None:
    name, sampler = backend
    for bqm in _bqms(vartype):
        kwargs: dict[str, Any] = {"seed": 3} if "seed" in sampler.parameters else {}
        if "num_reads" in sampler.parameters:
            kwargs["num_reads"] = 4
        ss = sampler.sample(bqm, **kwargs)
        dimod.testing.asserts.assert_sampleset_energies(ss, bqm)
        assert ss.vartype is bqm.vartype, f"{name} returned {ss.vartype} for a {vartype} BQM"
        assert set(ss.variables) == set(bqm.variables)
        # the Ising / QUBO entry points of the dimod.Sampler mixin reach the same sampler
        if vartype == "SPIN":
            h, j, _ = bqm.to_ising()
            dimod.testing.asserts.assert_sampleset_energies(
                sampler.sample_ising(h, j, **kwargs), dimod.BQM.from_ising(h, j)
            )
        else:
            q, _ = bqm.to_qubo()
            dimod.testing.asserts.assert_sampleset_energies(sampler.sample_qubo(q, **kwargs), dimod.BQM.from_qubo(q))

"""``hybrid``: the Leap hybrid BQM solver with the cloud client mocked (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import dimod
import numpy as np
import pytest
from dwave.system.testing import MockLeapHybridSolver
from qama_backends.dwave_hybrid import DEFAULT_MAX_VARIABLES, LeapHybridBackend

from qama_compile import get_backend, lower_attention
from qama_compile.errors import BackendError, InvalidInputError, ProblemTooLargeError
from qama_compile.runtime.solve import solve

_FROM_CONFIG = "dwave.system.samplers.leap_hybrid_sampler.Client.from_config"


class _RecordingSolver(MockLeapHybridSolver):  # type: ignore[misc]
    """dwave-system's mock hybrid solver, remembering the time limits it was given."""

    def __init__(self) -> None:
        self.time_limits: list[float] = []

    def sample_bqm(self, sapi_problem_id: Any, time_limit: float) -> Any:
        self.time_limits.append(time_limit)
        return super().sample_bqm(sapi_problem_id, time_limit)


@pytest.fixture
def cloud() -> Iterator[tuple[mock.MagicMock, _RecordingSolver]]:
    """The dwave-cloud-client Client, mocked: get_solver() returns a local mock solver."""
    solver = _RecordingSolver()
    client = mock.MagicMock()
    client.get_solver.return_value = solver
    with mock.patch(_FROM_CONFIG, return_value=client) as from_config:
        yield from_config, solver


def test_without_credentials_says_how_to_configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import qama_backends.dwave_hybrid as hybrid_mod

    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setattr(hybrid_mod, "find_token", lambda: None)
    with mock.patch(_FROM_CONFIG) as from_config:
        with pytest.raises(BackendError, match="no D-Wave credentials found for the Leap hybrid") as err:
            get_backend("hybrid")
        from_config.assert_not_called()  # refused before any connection attempt
    assert "dwave config create" in (err.value.fix or "") and err.value.fields["backend"] == "hybrid"


def test_connection_failure_is_a_backend_error() -> None:
    with (
        mock.patch(_FROM_CONFIG, side_effect=OSError("no route to host")),
        pytest.raises(BackendError, match="could not connect to a Leap hybrid solver: no route to host"),
    ):
        LeapHybridBackend(token="not-a-real-token")


def test_solve_through_the_registry_with_the_cloud_mocked(cloud: tuple[mock.MagicMock, _RecordingSolver]) -> None:
    from_config, solver = cloud
    problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 1, 3, 4)), bits=1)  # 2 x 3 variables
    result = solve(problem, backend="hybrid", backend_options={"token": "not-a-real-token", "time_limit": 3})
    assert from_config.call_args.kwargs["token"] == "not-a-real-token"
    assert from_config.call_args.kwargs["client"] == "hybrid"
    assert solver.time_limits == [3, 3]  # one cloud call per problem, with our time limit
    exact = solve(problem, backend="exact")
    assert np.all(result.energies >= exact.energies - 1e-9)  # energies rechecked by solve
    info = result.info.backend_info[0]
    assert info["backend"] == "hybrid" and info["time_limit_s"] == 3 and info["wall_time_s"] >= 0


def test_minimum_time_limit_and_limits(cloud: tuple[mock.MagicMock, _RecordingSolver]) -> None:
    _, solver = cloud
    hybrid = LeapHybridBackend(token="not-a-real-token")
    bqm = dimod.BinaryQuadraticModel({"a": 0.5, "b": -1.0}, {("a", "b"): 1.0}, 0.0, "BINARY")
    ss = hybrid.sample(bqm)
    assert solver.time_limits == [1.0] and ss.info["time_limit_s"] == hybrid.min_time_limit(bqm) == 1.0
    dimod.testing.assert_sampleset_energies(ss, bqm)
    with pytest.raises(InvalidInputError, match=r"below the solver's minimum of 1 s"):
        hybrid.sample(bqm, time_limit=0.5)
    with pytest.raises(InvalidInputError, match="time_limit must be a positive number"):
        LeapHybridBackend(token="x", time_limit=-1)
    props = hybrid.properties
    assert props["max_variables"] == DEFAULT_MAX_VARIABLES and props["native_graph"] is None
    small = LeapHybridBackend(sampler=hybrid.child)
    small.child.properties["maximum_number_of_variables"] = 1
    try:
        with pytest.raises(ProblemTooLargeError, match="the Leap hybrid solver takes 1"):
            small.sample(bqm)
    finally:
        del small.child.properties["maximum_number_of_variables"]


def test_solver_failure_is_a_backend_error(cloud: tuple[mock.MagicMock, _RecordingSolver]) -> None:
    _, solver = cloud
    hybrid = LeapHybridBackend(token="not-a-real-token")
    bqm = dimod.BinaryQuadraticModel({"a": 1.0}, {}, 0.0, "SPIN")
    with (
        mock.patch.object(solver, "sample_bqm", side_effect=RuntimeError("solver offline")),
        pytest.raises(BackendError, match="the Leap hybrid solver failed: RuntimeError: solver offline"),
    ):
        hybrid.sample(bqm)

"""solve_many: serial and on a real Dask LocalCluster (2 processes, one thread each)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dimod
import numpy as np
import pytest
from dwave.samplers import SimulatedAnnealingSampler
from qama_backends.exact import ExactSampler

import qama_compile.runtime.executor as executor
from qama_compile import BackendError, InvalidInputError, lower_attention, solve
from qama_compile.cli.scale import add_scale_arguments, client_from_args
from qama_compile.core.problem import AttentionProblem
from qama_compile.runtime.executor import make_client
from qama_compile.runtime.many import ManyResult, problem_seed, solve_many

distributed = pytest.importorskip("distributed")


def problems(seed: int = 0, batch: int = 6, heads: int = 2, tokens: int = 3, bits: int = 1) -> AttentionProblem:
    return lower_attention(*np.random.default_rng(seed).normal(size=(3, batch, heads, tokens, 4)), bits=bits)


def too_large() -> AttentionProblem:
    """32 variables: the exact backend (limit 30) refuses it before allocating."""
    return problems(seed=9, batch=1, heads=2, tokens=4, bits=4)


def assert_same(a: ManyResult, b: ManyResult) -> None:
    assert a.failures == b.failures
    np.testing.assert_array_equal(a.energies, b.energies)
    for x, y in zip(a.samples, b.samples, strict=True):
        assert (x is None and y is None) or np.array_equal(x, y)  # type: ignore[arg-type]
    for w, u in zip(a.weights, b.weights, strict=True):
        assert (w is None and u is None) or np.array_equal(w, u)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One real cluster for the module: 2 worker processes, one thread each.

    ``allowed-failures=0`` makes the scheduler give up on a task at its first worker death
    (``KilledWorker``), so the kill test exercises solve_many's own resubmission.
    """
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        c = make_client(workers=2)
    with c:
        c.wait_for_workers(2, timeout=120)
        yield c


# --------------------------------------------------------------------------- serial
def test_serial_equals_solve_with_the_same_seeds() -> None:
    problem = problems()
    many = solve_many(problem, backend="exact", seed=3, progress=False)
    ref = solve(problem, backend="exact", seed=3)
    assert many.ok and many.info["mode"] == "serial" and many.num_problems == 6
    np.testing.assert_array_equal(many.energies, ref.energies)
    samples, weights = many.stacked()
    np.testing.assert_array_equal(samples, ref.samples)
    np.testing.assert_array_equal(weights, ref.weights)


def test_results_do_not_depend_on_batching() -> None:
    problem = problems(seed=1)
    sa = SimulatedAnnealingSampler()
    one = solve_many(problem, backend=sa, num_reads=2, seed=5, batch_size=1, progress=False)
    many = solve_many(
        [problem.select([0, 1, 2]), problem.select([3, 4, 5])],
        backend=sa,
        num_reads=2,
        seed=5,
        batch_size=4,
        progress=False,
    )
    assert_same(one, many)
    assert problem_seed(5, 4) == 9 and problem_seed(None, 4) is None


def test_failing_problem_is_reported_serially(capsys: pytest.CaptureFixture[str]) -> None:
    result = solve_many([problems(batch=2), too_large(), problems(seed=2, batch=1)], seed=0, progress=True)
    assert [f[:2] for f in result.failures] == [(2, "ProblemTooLargeError")]
    assert "limit is 30 variables" in result.failures[0][2]
    assert result.succeeded.tolist() == [True, True, False, True]
    assert np.isnan(result.energies[2]) and np.isfinite(result.energies[[0, 1, 3]]).all()
    with pytest.raises(InvalidInputError, match="failed"):
        result.stacked()
    assert "problem" in capsys.readouterr().err  # the tqdm bar


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="item 1"):
        solve_many([problems(), "not a problem"], progress=False)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="retries"):
        solve_many(problems(), retries=-1, progress=False)
    with pytest.raises(InvalidInputError, match="batch_size"):
        solve_many(problems(), batch_size=0, progress=False)
    with pytest.raises(InvalidInputError, match="not both"):
        make_client(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInputError, match="workers"):
        make_client(workers=0)
    empty = solve_many([], progress=False)
    assert empty.num_problems == 0 and empty.ok


def test_unreachable_scheduler_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="cannot connect"):
        make_client(scheduler="tcp://127.0.0.1:9", timeout=1)


def test_cli_helpers() -> None:
    parser = argparse.ArgumentParser()
    add_scale_arguments(parser)
    assert parser.parse_args(["--scheduler", "tcp://h:8786"]).scheduler == "tcp://h:8786"
    assert client_from_args(parser.parse_args([])) is None
    for bad in (["--workers", "0"], ["--workers", "x"], ["--workers", "2", "--scheduler", "tcp://h:1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


# --------------------------------------------------------------------------- on the cluster
def test_distributed_equals_serial(client: Any) -> None:
    inputs = [problems(seed=4, batch=5), problems(seed=5, batch=3, heads=3, tokens=2, bits=1)]
    sa = SimulatedAnnealingSampler()
    for backend, reads in (("exact", None), (sa, 3)):
        serial = solve_many(inputs, backend=backend, num_reads=reads, seed=11, progress=False)
        on_cluster = solve_many(
            inputs, backend=backend, num_reads=reads, seed=11, client=client, batch_size=3, progress=False
        )
        assert on_cluster.info["mode"] == "distributed" and on_cluster.info["batches"] == 3
        assert serial.ok
        assert_same(serial, on_cluster)


def test_failing_problem_reported_while_others_complete_on_the_cluster(client: Any) -> None:
    inputs = [problems(seed=6, batch=3), too_large(), problems(seed=7, batch=2)]
    result = solve_many(inputs, backend="exact", seed=0, client=client, batch_size=2, progress=False)
    assert [f[:2] for f in result.failures] == [(3, "ProblemTooLargeError")]
    assert result.succeeded.sum() == 5
    assert_same(result, solve_many(inputs, backend="exact", seed=0, progress=False))


def test_workers_and_scheduler_options_use_the_cluster(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    class Borrowed:  # make_client(workers=...) stand-in: the module's cluster, not closed by solve_many
        closed = False

        def __getattr__(self, name: str) -> Any:
            return getattr(client, name)

        def close(self) -> None:
            Borrowed.closed = True

    monkeypatch.setattr(executor, "make_client", lambda **_: Borrowed())
    problem = problems(seed=8, batch=4)
    by_workers = solve_many(problem, workers=2, seed=1, progress=False)
    assert by_workers.info["mode"] == "distributed" and Borrowed.closed
    monkeypatch.undo()
    by_address = solve_many(problem, scheduler=client.scheduler.address, seed=1, progress=False)
    assert_same(by_workers, by_address)
    with pytest.raises(InvalidInputError, match="not both"):
        solve_many(problem, client=client, workers=2, progress=False)


def _kill_once_sampler(marker: Path) -> dimod.Sampler:
    """An exact sampler whose first call anywhere kills its process (a local class, so it is
    pickled by value and reaches the workers)."""

    class KillOnce(dimod.Sampler):  # type: ignore[misc]
        parameters: dict[str, Any] = {"num_reads": []}  # noqa: RUF012
        properties: dict[str, Any] = {}  # noqa: RUF012

        def __init__(self, path: str) -> None:
            self.path = path

        def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: Any) -> dimod.SampleSet:
            if not os.path.exists(self.path):
                Path(self.path).write_text("killed")
                os._exit(1)  # the worker process dies mid-batch
            return ExactSampler().sample(bqm, **kwargs)

    return KillOnce(str(marker))


@pytest.mark.timeout(240)
def test_batch_of_a_killed_worker_is_retried(client: Any, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    problem = problems(seed=10, batch=4)
    result = solve_many(
        problem, backend=_kill_once_sampler(marker), seed=2, client=client, batch_size=2, progress=False
    )
    assert marker.exists()  # a worker really died
    assert result.ok, result.failures
    assert result.info["resubmitted"] >= 1  # KilledWorker -> the client ran the batch again
    assert_same(result, solve_many(problem, backend="exact", seed=2, progress=False))
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it

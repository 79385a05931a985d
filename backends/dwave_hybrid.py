"""D-Wave's Leap hybrid BQM solver through dwave-system, as a ``dimod.Sampler`` (registered as ``hybrid``).

``LeapHybridBackend`` wraps ``dwave.system.LeapHybridSampler``: the whole problem goes to
the cloud (no embedding on our side), which is the way to run problems above the largest
clique an Advantage QPU embeds (K_180 on Pegasus P16) without our decomposition. The
solver returns one or a few samples per call after at least ``time_limit`` seconds (the
solver's ``minimum_time_limit`` curve gives the smallest allowed value per problem size).

Credentials: as for the ``dwave`` backend, a Leap API token from ``DWAVE_API_TOKEN`` or the
dwave-cloud-client configuration file; without one the constructor raises
:class:`BackendError` saying how to configure it. An already built ``LeapHybridSampler``
(or any sampler with its interface) can be passed as ``sampler``.

>>> from unittest import mock
>>> import dimod
>>> from dwave.system.testing import MockLeapHybridSolver
>>> client = mock.MagicMock()
>>> client.get_solver.return_value = MockLeapHybridSolver()   # the cloud, mocked: no network
>>> with mock.patch("dwave.system.samplers.leap_hybrid_sampler.Client.from_config", return_value=client):
...     hybrid = LeapHybridBackend(token="not-a-real-token")
>>> bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): -0.5}, 0.0, "SPIN")
>>> ss = hybrid.sample(bqm)
>>> float(ss.first.energy), ss.info["backend"], ss.info["time_limit_s"]
(-1.5, 'hybrid', 1.0)
"""

from __future__ import annotations

import time
from typing import Any

import dimod

from qama_compile.errors import BackendError, InvalidInputError, ProblemTooLargeError

from .dwave_qpu import find_token

__all__ = ["DEFAULT_MAX_VARIABLES", "LeapHybridBackend"]

#: Leap's hybrid BQM solvers take up to 1,000,000 variables (used when the solver does not say).
DEFAULT_MAX_VARIABLES = 1_000_000

_HOW_TO = (
    "create a Leap API token at https://cloud.dwavesys.com/leap/ and run 'dwave config create' "
    "(or export DWAVE_API_TOKEN=...); or use a classical backend such as 'sa'"
)


class LeapHybridBackend(dimod.Sampler):  # type: ignore[misc]
    """The Leap hybrid BQM solver (``dwave.system.LeapHybridSampler``).

    Args:
        sampler: an existing ``LeapHybridSampler`` (no credentials needed here then).
        time_limit: default run time in seconds (``None``: the solver's minimum for the
            problem size).
        solver: solver selection (e.g. ``{"name": "hybrid_binary_quadratic_model_version2p"}``).
        **client_options: other ``LeapHybridSampler`` options (``token``, ``region``, ``profile``...).
    """

    def __init__(
        self, *, sampler: Any = None, time_limit: float | None = None, solver: Any = None, **client_options: Any
    ) -> None:
        _check_time_limit(time_limit)
        if sampler is None:
            if not (client_options.get("token") or find_token()):
                raise BackendError(
                    "no D-Wave credentials found for the Leap hybrid solver (no DWAVE_API_TOKEN and no token in "
                    "the dwave-cloud-client config)",
                    fix=_HOW_TO,
                    backend="hybrid",
                )
            try:
                from dwave.system import LeapHybridSampler

                sampler = LeapHybridSampler(**({"solver": solver} if solver is not None else {}), **client_options)
            except Exception as exc:
                raise BackendError(
                    f"could not connect to a Leap hybrid solver: {exc}",
                    fix="check the token, network and solver name ('dwave ping --client hybrid' tests the "
                    "configuration)",
                    backend="hybrid",
                ) from exc
        self.child = sampler
        self.time_limit = time_limit

    @property
    def parameters(self) -> dict[str, list[Any]]:
        params = dict(getattr(self.child, "parameters", {}) or {})
        params.setdefault("time_limit", [])
        return params

    @property
    def properties(self) -> dict[str, Any]:
        props = dict(getattr(self.child, "properties", {}) or {})
        limit = int(props.get("maximum_number_of_variables", DEFAULT_MAX_VARIABLES))
        return {
            "max_variables": limit,
            "native_graph": None,
            "minimum_time_limit": props.get("minimum_time_limit"),
            "description": "D-Wave Leap hybrid BQM solver (quantum-classical, in the cloud) via "
            "dwave-system LeapHybridSampler",
        }

    def min_time_limit(self, bqm: dimod.BinaryQuadraticModel) -> float:
        """The solver's smallest ``time_limit`` for ``bqm`` (seconds)."""
        return float(self.child.min_time_limit(bqm))

    def sample(
        self, bqm: dimod.BinaryQuadraticModel, *, time_limit: float | None = None, **kwargs: Any
    ) -> dimod.SampleSet:
        """Solve ``bqm`` in the cloud. ``info``: ``time_limit_s``, ``hardware_time_s`` (the solver's
        ``qpu_access_time`` when it reports one), ``run_time_s`` (its ``run_time``) and ``wall_time_s``."""
        limit = self.properties["max_variables"]
        if bqm.num_variables > limit:
            raise ProblemTooLargeError(
                f"the problem has {bqm.num_variables} variables; the Leap hybrid solver takes {limit}",
                fix="decompose the problem or lower fewer tokens or bits",
                size=bqm.num_variables,
                limit=limit,
                unit="variables",
            )
        given = self.time_limit if time_limit is None else time_limit
        _check_time_limit(given)
        least = self.min_time_limit(bqm)
        if given is not None and given < least:
            raise InvalidInputError(
                f"time_limit={given:g} s is below the solver's minimum of {least:g} s for "
                f"{bqm.num_variables} variables",
                fix=f"pass time_limit >= {least:g}, or None for the minimum",
            )
        run = least if given is None else float(given)
        t0 = time.perf_counter()
        try:
            ss: dimod.SampleSet = self.child.sample(bqm, time_limit=run, **kwargs)
            ss.resolve()
        except (ValueError, TypeError) as exc:
            raise BackendError(
                f"the Leap hybrid solver refused the problem: {exc}", fix="check the options", backend="hybrid"
            ) from exc
        except Exception as exc:  # the cloud client's own errors (network, quota, solver failure)
            raise BackendError(
                f"the Leap hybrid solver failed: {type(exc).__name__}: {exc}",
                fix="retry, or check 'dwave ping --client hybrid'",
                backend="hybrid",
            ) from exc
        timing = dict(ss.info.get("timing", {}) or {})
        qpu = ss.info.get("qpu_access_time", timing.get("qpu_access_time"))
        run_time = ss.info.get("run_time", timing.get("run_time"))
        ss.info.update(
            {
                "backend": "hybrid",
                "time_limit_s": run,
                "hardware_time_s": None if qpu is None else float(qpu) * 1e-6,
                "run_time_s": None if run_time is None else float(run_time) * 1e-6,
                "wall_time_s": time.perf_counter() - t0,
            }
        )
        return ss


def _check_time_limit(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(
            f"time_limit must be a positive number of seconds, got {value!r}", fix="pass e.g. time_limit=5"
        )

"""Classical Ocean samplers from ``dwave-samplers``: ``sa``, ``tabu`` and ``steepest``.

Thin subclasses of :class:`dwave.samplers.SimulatedAnnealingSampler`,
:class:`dwave.samplers.TabuSampler` and :class:`dwave.samplers.SteepestDescentSolver`. They
do not reimplement anything: every sampling option goes straight to the library. They add

* the limits every qama backend declares (``max_variables``, ``native_graph``,
  ``description`` in :attr:`properties`), with a :class:`ProblemTooLargeError` above
  ``max_variables`` (raised before sampling);
* constructor defaults: options given to the constructor (e.g. ``num_sweeps=2000``) are
  used for every :meth:`sample` call unless the call overrides them, so
  ``get_backend("sa", num_sweeps=2000)`` works. Unknown option names are refused with the
  list of the library's parameters;
* ``wall_time_s`` and ``backend`` in the sample set's ``info``.

>>> import dimod
>>> bqm = dimod.BinaryQuadraticModel({"a": -1.0, "b": -1.0}, {("a", "b"): -1.5}, 0.0, "SPIN")
>>> ss = SASampler(num_sweeps=200).sample(bqm, num_reads=5, seed=1)
>>> float(ss.first.energy), {v: int(s) for v, s in ss.first.sample.items()}
(-3.5, {'a': 1, 'b': 1})
>>> SASampler().properties["native_graph"] is None
True
"""

from __future__ import annotations

import math
import time
from typing import Any

import dimod
from dwave.samplers import SimulatedAnnealingSampler, SteepestDescentSolver
from dwave.samplers import TabuSampler as _OceanTabuSampler

from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError

from . import cost

#: Software limit: none of these algorithms has a hard size limit, but a dense QAMA problem
#: of 10^6 variables could not be held in memory anyway.
DEFAULT_MAX_VARIABLES = 1_000_000

__all__ = ["DEFAULT_MAX_VARIABLES", "TABU_DEFAULTS", "SASampler", "SteepestDescentSampler", "TabuSampler"]


class _OceanMixin:
    """Shared behaviour: limits in ``properties``, constructor defaults, size check, timing."""

    _name: str = ""
    _description: str = ""
    #: Reads per problem when none are asked for (dwave-samplers' own default is 1).
    default_num_reads: int = 100
    parameters: dict[str, Any]
    properties: dict[str, Any]

    def __init__(self, *, max_variables: int = DEFAULT_MAX_VARIABLES, **defaults: Any) -> None:
        super().__init__()  # the dwave-samplers class, next in the MRO
        self._setup(max_variables, defaults)

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kwargs: Any) -> dimod.SampleSet:
        """Sample ``bqm`` with the dwave-samplers options (``num_reads``, ``seed``, ...) over the defaults."""
        return self._run(super().sample, bqm, kwargs)  # type: ignore[misc]

    def estimate_time_s(self, ir: QuadraticIR, *, num_reads: int | None = None, **options: Any) -> float:
        """Seconds for ``num_reads`` reads of every problem of ``ir`` (model: :mod:`qama_backends.cost`)."""
        b, v, e = cost.work(ir)
        reads = self.default_num_reads if num_reads is None else int(num_reads)
        return b * reads * self._per_read_s(v, e, {**self.defaults, **options})

    def _per_read_s(self, v: int, e: int, options: dict[str, Any]) -> float:
        raise NotImplementedError

    def _setup(self, max_variables: int, defaults: dict[str, Any]) -> None:
        if not isinstance(max_variables, int) or isinstance(max_variables, bool) or max_variables < 1:
            raise InvalidInputError(
                f"max_variables must be a positive integer, got {max_variables!r}", fix="pass max_variables >= 1"
            )
        self._check_options(defaults)
        self.max_variables = max_variables
        self.defaults = dict(defaults)
        self.properties = {
            **self.properties,
            "max_variables": max_variables,
            "native_graph": None,
            "description": self._description,
        }

    def _check_options(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.parameters))
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) for the {self._name} backend: {', '.join(unknown)}",
                fix=f"use the dwave-samplers parameters: {', '.join(sorted(self.parameters))}",
                backend=self._name,
                options=unknown,
            )

    def _run(self, parent_sample: Any, bqm: dimod.BinaryQuadraticModel, kwargs: dict[str, Any]) -> dimod.SampleSet:
        if bqm.num_variables > self.max_variables:
            raise ProblemTooLargeError(
                f"the {self._name} backend is limited to {self.max_variables} variables; the problem has "
                f"{bqm.num_variables}",
                fix="decompose the problem, lower fewer tokens or bits, or raise max_variables",
                size=bqm.num_variables,
                limit=self.max_variables,
                unit="variables",
            )
        self._check_options(kwargs)
        options = {**self.defaults, **kwargs}
        t0 = time.perf_counter()
        ss: dimod.SampleSet = parent_sample(bqm, **options)
        ss.resolve()
        ss.info.update({"backend": self._name, "wall_time_s": time.perf_counter() - t0})
        return ss


class SASampler(_OceanMixin, SimulatedAnnealingSampler):  # type: ignore[misc]
    """Simulated annealing (``dwave.samplers.SimulatedAnnealingSampler``), registered as ``sa``.

    Args:
        max_variables: refuse larger problems (software limit).
        **defaults: default sampling options (``num_sweeps``, ``beta_range``, ...), see
            ``SimulatedAnnealingSampler.sample``.
    """

    _name = "sa"
    _description = "simulated annealing, dwave-samplers SimulatedAnnealingSampler (Metropolis, geometric beta)"

    def _per_read_s(self, v: int, e: int, options: dict[str, Any]) -> float:
        sweeps = int(options.get("num_sweeps", 1000))  # dwave-samplers' default
        return sweeps * (v + 2 * e) * cost.calibrated("sa", _sa_cost)


#: Tabu's defaults here: a count-based stop (``num_restarts`` restarts, each a fixed number of
#: variable updates) instead of the library's 100 ms wall-clock ``timeout``, so the same seed
#: gives the same reads on any machine and under any load.
TABU_DEFAULTS: dict[str, Any] = {"timeout": None, "num_restarts": 1}


class TabuSampler(_OceanMixin, _OceanTabuSampler):  # type: ignore[misc]
    """Multistart tabu search (``dwave.samplers.TabuSampler``), registered as ``tabu``.

    Reproducible by default: ``timeout=None`` and ``num_restarts=1`` (:data:`TABU_DEFAULTS`),
    so a run stops after a fixed count of variable updates, not on the wall clock; the same
    seed gives identical reads. Passing ``timeout=<ms>`` restores the library's time limit
    (faster on large problems, but then reads depend on the machine's speed and load).

    >>> import dimod
    >>> bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0}, {(0, 1): 0.5}, 0.0, "BINARY")
    >>> a, b = (TabuSampler().sample(bqm, num_reads=3, seed=3) for _ in range(2))
    >>> float(a.first.energy), a.record.sample.tolist() == b.record.sample.tolist()
    (-1.0, True)
    """

    _name = "tabu"
    _description = "multistart tabu search, dwave-samplers TabuSampler (count-based stop: reproducible)"
    default_num_reads = 10

    def __init__(self, *, max_variables: int = DEFAULT_MAX_VARIABLES, **defaults: Any) -> None:
        super().__init__(max_variables=max_variables, **{**TABU_DEFAULTS, **defaults})

    def _per_read_s(self, v: int, e: int, options: dict[str, Any]) -> float:
        timeout = options.get("timeout")
        if timeout is not None:  # the library's wall-clock stop: each read runs this long
            return float(timeout) / 1000.0
        # count-based stop: about V tabu iterations per restart, each updating V + 2E deltas
        restarts = int(options.get("num_restarts") or 1)
        return restarts * max(v, 1) * (v + 2 * e) * cost.calibrated("tabu", _tabu_cost)


class SteepestDescentSampler(_OceanMixin, SteepestDescentSolver):  # type: ignore[misc]
    """Greedy steepest descent from random states (``dwave.samplers.SteepestDescentSolver``),
    registered as ``steepest``. Every read ends in a local minimum (one-flip stable).
    """

    _name = "steepest"
    _description = "steepest descent to a local minimum, dwave-samplers SteepestDescentSolver"

    def _per_read_s(self, v: int, e: int, options: dict[str, Any]) -> float:
        return (v + 2 * e) * math.sqrt(max(v, 1)) * cost.calibrated("steepest", _steepest_cost)


def _sa_cost() -> float:
    """Seconds per (read x sweep x coupler visit): 10 reads x 200 sweeps of a dense 64-spin problem."""
    bqm, sampler = cost.random_bqm(64), SimulatedAnnealingSampler()
    sampler.sample(bqm, num_reads=1, num_sweeps=10, seed=0)  # warm up
    t = cost.timed(lambda: sampler.sample(bqm, num_reads=10, num_sweeps=200, seed=0).resolve())
    return t / (10 * 200 * (64 + 2 * bqm.num_interactions))


def _steepest_cost() -> float:
    """Seconds per (read x coupler visit x sqrt(V)): 200 descents on a dense 64-spin problem."""
    bqm, sampler = cost.random_bqm(64), SteepestDescentSolver()
    sampler.sample(bqm, num_reads=1, seed=0)  # warm up
    t = cost.timed(lambda: sampler.sample(bqm, num_reads=200, seed=0).resolve())
    return t / (200 * (64 + 2 * bqm.num_interactions) * 8)


def _tabu_cost() -> float:
    """Seconds per (read x V x (V + 2E)) of the count-based tabu, measured on a dense 64-spin problem."""
    bqm, sampler = cost.random_bqm(64), TabuSampler()
    sampler.sample(bqm, num_reads=1, seed=0)  # warm up
    t = cost.timed(lambda: sampler.sample(bqm, num_reads=10, seed=0).resolve())
    return t / (10 * 64 * (64 + 2 * bqm.num_interactions))

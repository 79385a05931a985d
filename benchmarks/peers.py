"""Adapters: one interface over our ``cim`` backend and the public peers.

Each adapter takes an :class:`instances.Instance` (dimod convention,
``E = offset + sum h s + sum_{i<j} J s s``), converts it *explicitly* to the peer's own
convention once (``prepare``, not timed), and runs ``reads`` independent reads at one budget
with one seed (``run``, timed by the caller). It returns the spins and, where the peer
reports energies, those energies converted back to dimod's convention, so the caller can
check them against dimod's recomputation.

Conventions handled here:

* dimod / dwave-samplers / OpenJij: ``E = sum h s + sum_{i<j} J s s`` (as is);
* cim-optimizer: minimises ``-1/2 s^T Jc s - hc . s`` with ``Jc`` symmetric, zero diagonal,
  so ``Jc = -(J + J^T)`` and ``hc = -h`` (then ``E_dimod = E_cim + offset``);
* simulated-bifurcation: minimises ``s^T Q s + l . s + c``, so ``Q = J`` (upper triangle),
  ``l = h``, ``c = offset``;
* our ``cim`` (``qama_backends.cim.sample_ising_arrays``): dimod's convention.

The budget knob differs per solver (sweeps, integration steps, round trips); the caller
sweeps a few budgets for each and reports time to target at the best one.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from instances import Instance
from numpy.typing import NDArray

Spins = NDArray[np.int8]
AHC_TIME_STEP = 0.05  # cim-optimizer's default AHC step
RunResult = tuple[Spins, NDArray[np.float64] | None]


@dataclass
class Solver:
    """A named solver: what it is, its budget knob, its budgets, and how to run it."""

    name: str
    library: str
    knob: str
    budgets: Callable[[Instance, bool], list[int]]  # (instance, quick) -> budgets
    prepare: Callable[[Instance], Any]
    run: Callable[[Any, int, int, int], RunResult]  # (prepared, budget, reads, seed)
    available: bool = True
    why_unavailable: str = ""
    applies: Callable[[Instance], bool] = field(default=lambda inst: True)
    note: str = ""


def _module(name: str) -> tuple[Any | None, str]:
    try:
        return importlib.import_module(name), ""
    except Exception as exc:  # ImportError, or a peer that fails at import time
        return None, f"{type(exc).__name__}: {exc}"


def _seed_all(seed: int) -> None:
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def _sym(J: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = J + J.T
    return out


# --------------------------------------------------------------------------- our cim
def _cim_solver() -> Solver:
    mod, why = _module("qama_backends.cim")
    fn = getattr(mod, "sample_ising_arrays", None) if mod is not None else None
    knob = ""
    params: dict[str, Any] = {}
    if fn is not None:
        params = dict(inspect.signature(fn).parameters)
        for candidate in ("num_steps", "num_iterations", "steps", "num_round_trips", "round_trips", "num_sweeps"):
            if candidate in params:
                knob = candidate
                break
    if fn is None:
        why = why or "qama_backends.cim has no sample_ising_arrays"

    def prepare(inst: Instance) -> Any:
        # sample_ising_arrays takes E = h.s + s^T J s / 2 with J symmetric, zero diagonal,
        # J_ij = J_ji = the dimod coupling of the pair: so J_sym = J + J^T (J strictly upper).
        return (np.ascontiguousarray(inst.h[None, :]), np.ascontiguousarray(_sym(inst.J)[None, :, :]), inst.offset)

    def run(prep: Any, budget: int, reads: int, seed: int) -> RunResult:
        h, J, offset = prep
        kwargs: dict[str, Any] = {"num_reads": reads, "seed": seed}
        if knob:
            kwargs[knob] = budget
        if "num_threads" in params:
            kwargs["num_threads"] = 1
        spins, energies, _info = fn(h, J, **kwargs)  # type: ignore[misc]
        # energies come back without the offset, one row per problem (B = 1 here)
        return np.asarray(spins[0], dtype=np.int8), np.asarray(energies[0], dtype=np.float64) + offset

    def budgets(inst: Instance, quick: bool) -> list[int]:
        return [100, 1000] if quick else [100, 300, 1000, 3000]

    return Solver(
        name="cim (ours)",
        library="qama_backends.cim",
        knob=knob or "(default)",
        budgets=budgets,
        prepare=prepare,
        run=run,
        available=fn is not None,
        why_unavailable=why,
    )


# --------------------------------------------------------------------------- dimod SA samplers
def _dimod_sweeps_solver(name: str, library: str, module: str, sampler: str) -> Solver:
    """A dimod-interface simulated annealer whose budget is ``num_sweeps`` (dwave-samplers, OpenJij)."""
    mod, why = _module(module)

    def prepare(inst: Instance) -> Any:
        return (getattr(mod, sampler)(), inst.bqm)

    def run(prep: Any, budget: int, reads: int, seed: int) -> RunResult:
        solver, bqm = prep
        # both libraries take seeds below 2**31 only
        ss = solver.sample(bqm, num_reads=reads, num_sweeps=budget, seed=seed % 2**31)
        order = np.argsort(np.asarray(list(ss.variables), dtype=np.int64))
        return np.asarray(ss.record.sample)[:, order].astype(np.int8), np.asarray(ss.record.energy, dtype=np.float64)

    def budgets(inst: Instance, quick: bool) -> list[int]:
        return [100, 1000] if quick else [30, 100, 300, 1000, 3000]

    return Solver(
        name=name,
        library=library,
        knob="num_sweeps",
        budgets=budgets,
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
    )


def _sa_solver() -> Solver:
    return _dimod_sweeps_solver("dwave-samplers SA", "dwave-samplers", "dwave.samplers", "SimulatedAnnealingSampler")


def _openjij_solver() -> Solver:
    return _dimod_sweeps_solver("OpenJij SA", "openjij", "openjij", "SASampler")


# --------------------------------------------------------------------------- simulated-bifurcation
def _sb_solver(mode: str) -> Solver:
    mod, why = _module("simulated_bifurcation")

    def prepare(inst: Instance) -> Any:
        import torch

        # s^T Q s + l.s + c with Q = J (strictly upper triangular) is exactly dimod's energy.
        return (
            torch.tensor(inst.J, dtype=torch.float32),
            torch.tensor(inst.h, dtype=torch.float32),
            float(inst.offset),
        )

    def run(prep: Any, budget: int, reads: int, seed: int) -> RunResult:
        Q, lin, const = prep
        _seed_all(seed)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            spins, values = mod.minimize(  # type: ignore[union-attr]
                Q,
                lin,
                const,
                domain="spin",
                agents=reads,
                max_steps=budget,
                best_only=False,
                mode=mode,
                verbose=False,
                early_stopping=False,
            )
        s = spins.detach().cpu().numpy().reshape(reads, -1)
        return np.sign(s).astype(np.int8), values.detach().cpu().numpy().astype(np.float64).reshape(reads)

    def budgets(inst: Instance, quick: bool) -> list[int]:
        return [100, 1000] if quick else [100, 300, 1000, 3000]

    short = "bSB" if mode == "ballistic" else "dSB"
    return Solver(
        name=f"simulated-bifurcation {short}",
        library="simulated-bifurcation",
        knob="max_steps",
        budgets=budgets,
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        note=f"mode={mode}, agents=reads (batched), early_stopping off, float32",
    )


# --------------------------------------------------------------------------- cim-optimizer
def _cimopt_solver(scheme: str) -> Solver:
    """cim-optimizer (McMahon lab): ``CAC`` and ``AHC`` (no field), ``extAHC`` (with field).

    CAC and AHC only take problems without a field; for the QAMA problems (which have
    one) the field is folded into couplings to one ancilla spin s0 (``h_i s_i = h_i s_i s0``
    with s0 = +1, flipping the whole state when the solver returns s0 = -1).
    """
    mod, why = _module("cim_optimizer.solve_Ising")
    params_mod, _ = _module("cim_optimizer.optimal_params")

    def prepare(inst: Instance) -> Any:
        J_sym = _sym(inst.J)
        h = inst.h
        ancilla = False
        if scheme in ("CAC", "AHC") and inst.has_field:
            n = inst.n
            big = np.zeros((n + 1, n + 1))
            big[:n, :n] = J_sym
            big[:n, n] = h
            big[n, :n] = h
            J_sym, h, ancilla = big, np.zeros(n + 1), True
        # cim-optimizer minimises -1/2 s^T Jc s - hc.s: Jc = -J_sym, hc = -h.
        Jc = -J_sym
        hc = -h
        # Its published SK hyperparameters were tuned at N = 100 with +-1 couplings; scale the
        # couplings so that the row norm matches (argmin is invariant under positive scaling).
        row_norm = float(np.sqrt((Jc**2).sum(axis=1).mean())) or 1.0
        scale = np.sqrt(99.0) / row_norm
        return {
            "Jc": Jc * scale,
            "hc": hc * scale,
            "ancilla": ancilla,
            "n": inst.n,
            "scale": scale,
            "offset": inst.offset,
        }

    def run(prep: Any, budget: int, reads: int, seed: int) -> RunResult:
        _seed_all(seed)
        Jc, hc = prep["Jc"], prep["hc"]
        # CAC and extAHC take num_timesteps_per_run integration steps; AHC integrates for
        # num_timesteps_per_run / ahc_noext_time_step steps: convert so the knob is always steps.
        horizon = max(1, round(budget * AHC_TIME_STEP)) if scheme == "AHC" else budget
        kwargs: dict[str, Any] = {
            "num_runs": reads,
            "num_parallel_runs": reads,
            "num_timesteps_per_run": horizon,
            "hyperparameters_randomtune": False,
            "hyperparameters_autotune": False,
            "return_spin_trajectories_all_runs": False,
            "return_lowest_energies_found_spin_configuration": True,
            "suppress_statements": True,
            "use_GPU": False,
        }
        if scheme == "CAC":
            kwargs["use_CAC"] = True
            if params_mod is not None:
                tuned = params_mod.sk_100_fc_params()
                kwargs.update({k: v for k, v in tuned.items() if k.startswith("cac_")})
        elif scheme == "AHC":
            kwargs["use_CAC"] = False
            kwargs["ahc_noext_time_step"] = AHC_TIME_STEP
        with contextlib.redirect_stdout(io.StringIO()):
            problem = mod.Ising(Jc, hc)  # type: ignore[union-attr]
            result = problem.solve(**kwargs).result
        spins = np.asarray(result.spin_config_all_runs, dtype=np.float64).reshape(reads, -1)
        energies = np.asarray(result.energies, dtype=np.float64) / prep["scale"]  # their convention
        if prep["ancilla"]:
            n = prep["n"]
            spins = spins[:, :n] * spins[:, n : n + 1]  # gauge: make the ancilla +1
        # -1/2 s Jc s - hc s == E_dimod - offset (with the ancilla: E_dimod(s * s0) - offset)
        return np.sign(spins).astype(np.int8), energies + prep["offset"]

    def budgets(inst: Instance, quick: bool) -> list[int]:
        return [100, 1000] if quick else [100, 300, 1000, 3000]  # the same grid as ours

    def applies(inst: Instance) -> bool:
        # without a field the package always runs CAC or AHC, so extAHC is only for h != 0
        return inst.has_field if scheme == "extAHC" else True

    note = {
        "CAC": "chaotic amplitude control, the package's SK (N=100) hyperparameters",
        "AHC": "amplitude heterogeneity correction, package defaults",
        "extAHC": "AHC with external field (the package's solver for h != 0), package defaults",
    }[scheme]
    return Solver(
        name=f"cim-optimizer {scheme}",
        library="cim-optimizer",
        knob="steps",
        budgets=budgets,
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        applies=applies,
        note=note,
    )


FACTORIES: dict[str, Callable[[], Solver]] = {
    "cim (ours)": _cim_solver,
    "cim-optimizer CAC": lambda: _cimopt_solver("CAC"),
    "cim-optimizer AHC": lambda: _cimopt_solver("AHC"),
    "cim-optimizer extAHC": lambda: _cimopt_solver("extAHC"),
    "simulated-bifurcation bSB": lambda: _sb_solver("ballistic"),
    "simulated-bifurcation dSB": lambda: _sb_solver("discrete"),
    "dwave-samplers SA": _sa_solver,
    "OpenJij SA": _openjij_solver,
}


def all_solvers() -> list[Solver]:
    """Ours first, then the peers; unavailable ones are kept (reported, not run)."""
    return [factory() for factory in FACTORIES.values()]


def solver_by_name(name: str) -> Solver:
    """One solver, importing only its own library (for the memory probes)."""
    return FACTORIES[name]()


def env_threads() -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

"""Adapters: one interface over our ``cim`` backend and the public peers, each tuned as a user would.

Each adapter converts an :class:`instances.Instance` (a batch of ``B`` SPIN problems, dimod's
convention ``E = offset + sum h s + sum_{i<j} J s s``) *once* into what the solver consumes
(``prepare``, not timed), then solves every problem of the batch with ``reads`` reads at one
budget and one seed (``run``, timed by the caller). It returns spins ``[B, reads, n]``; the
caller re-scores them with dimod. A batch is one timed call: our ``cim`` solves it in one
``sample_ir`` call, the peers one problem after another.

What "tuned as a user would" means here (see docs/benchmarks.md):

* dwave-samplers SA recomputes its default ``beta_range`` in Python on every call (0.2 s
  at n = 512, seconds at n = 2000): ``prepare`` takes it from a first call's
  ``info["beta_range"]`` and passes it to every timed call.
* OpenJij converts the BQM on every call; ``sparse=False`` is much cheaper on dense problems
  and is passed for them. With a seed, its ``num_reads > 1`` returns identical samples, so
  each read is its own seeded call.
* simulated-bifurcation is dense-only (it runs on the dense families), ``agents = reads``.
* cim-optimizer runs its CAC with the package's SK (N = 100) hyperparameters, couplings
  rescaled to the row norm they were tuned for; fields through one ancilla spin.

Conventions: dimod / dwave-samplers / OpenJij take the BQM as is; cim-optimizer minimises
``-1/2 s^T Jc s - hc . s`` (``Jc = -(J + J^T)``, ``hc = -h``); simulated-bifurcation
minimises ``s^T Q s + l . s + c`` (``Q = J`` upper triangle, ``l = h``); our ``cim`` takes the
SPIN IR (``sample_ir``) or, for dense SK, the symmetric ``J`` (``sample_ising_arrays``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from instances import Instance
from numpy.typing import NDArray

Spins = NDArray[np.int8]

#: The sweep every solver gets: budget (sweeps or steps) x reads per problem, same grid for all.
BUDGETS = (10, 30, 100, 300, 1000, 3000)
READS = (1, 4, 16, 64)
QUICK_BUDGETS = (10, 100, 1000)
QUICK_READS = (1, 8)


@dataclass
class Solver:
    """A named solver: its budget knob, how to prepare an instance and run it."""

    name: str
    library: str
    knob: str
    prepare: Callable[[Instance], Any]
    run: Callable[[Any, int, int, int], Spins]  # (prepared, budget, reads, seed) -> [B, reads, n]
    available: bool = True
    why_unavailable: str = ""
    applies: Callable[[Instance], bool] = field(default=lambda inst: True)
    note: str = ""
    time_share: float = 1.0  # fraction of the per-(solver, instance) time budget (the main pair gets 1)


def _module(name: str) -> tuple[Any | None, str]:
    try:
        return importlib.import_module(name), ""
    except Exception as exc:  # ImportError, or a peer that fails at import time
        return None, f"{type(exc).__name__}: {exc}"


def _seed_all(seed: int) -> None:
    np.random.seed(seed % 2**32)
    with contextlib.suppress(ImportError):
        import torch

        torch.manual_seed(seed)


def _ordered(ss: Any, n: int) -> Spins:
    """A SampleSet's samples as ``[reads, n]`` int8 in label order 0..n-1."""
    order = np.argsort(np.asarray(list(ss.variables), dtype=np.int64))
    out: Spins = np.asarray(ss.record.sample)[:, order].astype(np.int8)
    assert out.shape[1] == n
    return out


# --------------------------------------------------------------------------- our cim
def _cim_solver() -> Solver:
    mod, why = _module("qama_backends.cim")

    def prepare(inst: Instance) -> Any:
        if inst.family == "sk":  # dense: the symmetric J, built once (a user holding arrays)
            upper = inst.dense_upper(0)
            return ("arrays", np.ascontiguousarray(inst.ir.linear), (upper + upper.T)[None], inst.ir.offset)
        return ("ir", inst.ir)

    def run(prep: Any, budget: int, reads: int, seed: int) -> Spins:
        assert mod is not None
        if prep[0] == "arrays":
            _, h, J, _off = prep
            spins, _, _ = mod.sample_ising_arrays(h, J, num_reads=reads, seed=seed, num_steps=budget, check=False)
            return np.asarray(spins, dtype=np.int8)
        x, _, _ = mod.sample_ir(prep[1], num_reads=reads, seed=seed, num_steps=budget)
        return np.asarray(x, dtype=np.int8)  # the IR is SPIN: samples are spins

    return Solver(
        name="cim (ours)",
        library="qama_backends.cim",
        knob="num_steps",
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        note="defaults (method cac, polish); a batch is one sample_ir call",
    )


# --------------------------------------------------------------------------- dwave-samplers SA
def _sa_solver() -> Solver:
    mod, why = _module("dwave.samplers")

    def prepare(inst: Instance) -> Any:
        assert mod is not None
        sampler = mod.SimulatedAnnealingSampler()
        pairs = []
        for bqm in inst.bqms:
            first = sampler.sample(bqm, num_reads=1, num_sweeps=1, seed=0)  # untimed: discovers beta_range
            pairs.append((bqm, tuple(float(x) for x in first.info["beta_range"])))
        return sampler, pairs, inst.n

    def run(prep: Any, budget: int, reads: int, seed: int) -> Spins:
        sampler, pairs, n = prep
        out = []
        for b, (bqm, beta_range) in enumerate(pairs):
            ss = sampler.sample(bqm, num_reads=reads, num_sweeps=budget, seed=(seed + b) % 2**31, beta_range=beta_range)
            out.append(_ordered(ss, n))
        return np.stack(out)

    return Solver(
        name="dwave-samplers SA",
        library="dwave-samplers",
        knob="num_sweeps",
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        note="beta_range from a first call's info, passed to every timed call; one call per problem",
    )


# --------------------------------------------------------------------------- OpenJij SA
def _openjij_solver() -> Solver:
    mod, why = _module("openjij")

    def prepare(inst: Instance) -> Any:
        assert mod is not None
        return mod.SASampler(), inst.bqms, inst.n, inst.family in ("sk", "qama", "qama-batch")

    def run(prep: Any, budget: int, reads: int, seed: int) -> Spins:
        sampler, bqms, n, dense = prep
        out = []
        for b, bqm in enumerate(bqms):
            # with a seed, num_reads > 1 returns identical samples: one seeded call per read
            reads_b = [
                _ordered(
                    sampler.sample(
                        bqm, num_reads=1, num_sweeps=budget, seed=(seed + 7919 * b + k) % 2**31, sparse=not dense
                    ),
                    n,
                )
                for k in range(reads)
            ]
            out.append(np.concatenate(reads_b))
        return np.stack(out)

    return Solver(
        name="OpenJij SA",
        library="openjij",
        knob="num_sweeps",
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        note="sparse=False on dense problems; one seeded call per read (seeded num_reads>1 repeats one sample)",
        time_share=1 / 3,
    )


# --------------------------------------------------------------------------- simulated-bifurcation
def _sb_solver(mode: str) -> Solver:
    mod, why = _module("simulated_bifurcation")

    def prepare(inst: Instance) -> Any:
        import torch

        probs = [
            (
                torch.tensor(inst.dense_upper(b), dtype=torch.float32),
                torch.tensor(inst.ir.linear[b], dtype=torch.float32),
            )
            for b in range(inst.batch)
        ]
        return probs, inst.n

    def run(prep: Any, budget: int, reads: int, seed: int) -> Spins:
        probs, n = prep
        out = []
        for b, (Q, lin) in enumerate(probs):
            _seed_all(seed + b)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                spins, _ = mod.minimize(  # type: ignore[union-attr]
                    Q,
                    lin,
                    domain="spin",
                    agents=reads,
                    max_steps=budget,
                    best_only=False,
                    mode=mode,
                    verbose=False,
                    early_stopping=False,
                )
            out.append(np.sign(spins.detach().cpu().numpy().reshape(reads, n)).astype(np.int8))
        return np.stack(out)

    short = "bSB" if mode == "ballistic" else "dSB"
    return Solver(
        name=f"simulated-bifurcation {short}",
        library="simulated-bifurcation",
        knob="max_steps",
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        applies=lambda inst: inst.name in ("sk-512", "sk-2000", "qama-std-1024"),
        note=f"mode={mode}, agents=reads, early_stopping off, float32; dense-only: sk-512, sk-2000, qama-std-1024",
        time_share=1 / 3,
    )


# --------------------------------------------------------------------------- cim-optimizer
def _cimopt_solver() -> Solver:
    """cim-optimizer's CAC (no field): QAMA fields go through one ancilla spin."""
    mod, why = _module("cim_optimizer.solve_Ising")
    params_mod, _ = _module("cim_optimizer.optimal_params")

    def prepare(inst: Instance) -> Any:
        upper = inst.dense_upper(0)
        J_sym, h = upper + upper.T, np.asarray(inst.ir.linear[0])
        n = inst.n
        ancilla = bool(np.any(h != 0))
        if ancilla:
            big = np.zeros((n + 1, n + 1))
            big[:n, :n], big[:n, n], big[n, :n] = J_sym, h, h
            J_sym = big
        Jc = -J_sym  # cim-optimizer minimises -1/2 s^T Jc s
        row_norm = float(np.sqrt((Jc**2).sum(axis=1).mean())) or 1.0
        return {"Jc": Jc * (np.sqrt(99.0) / row_norm), "ancilla": ancilla, "n": n}

    def run(prep: Any, budget: int, reads: int, seed: int) -> Spins:
        assert mod is not None
        _seed_all(seed)
        kwargs: dict[str, Any] = {
            "num_runs": reads,
            "num_parallel_runs": reads,
            "num_timesteps_per_run": budget,
            "hyperparameters_randomtune": False,
            "hyperparameters_autotune": False,
            "return_spin_trajectories_all_runs": False,
            "return_lowest_energies_found_spin_configuration": True,
            "suppress_statements": True,
            "use_GPU": False,
            "use_CAC": True,
        }
        if params_mod is not None:
            kwargs.update({k: v for k, v in params_mod.sk_100_fc_params().items() if k.startswith("cac_")})
        with contextlib.redirect_stdout(io.StringIO()):
            result = mod.Ising(prep["Jc"], np.zeros(prep["Jc"].shape[0])).solve(**kwargs).result
        spins = np.asarray(result.spin_config_all_runs, dtype=np.float64).reshape(reads, -1)
        if prep["ancilla"]:
            n = prep["n"]
            spins = spins[:, :n] * spins[:, n : n + 1]  # gauge: the ancilla is +1
        return np.sign(spins)[None].astype(np.int8)

    return Solver(
        name="cim-optimizer CAC",
        library="cim-optimizer",
        knob="steps",
        prepare=prepare,
        run=run,
        available=mod is not None,
        why_unavailable=why,
        applies=lambda inst: inst.name in ("sk-512", "qama-std-1024"),
        note="the package's SK (N=100) hyperparameters, couplings rescaled; fields via one ancilla spin; "
        "sk-512 and qama-std-1024 only",
        time_share=1 / 3,
    )


FACTORIES: dict[str, Callable[[], Solver]] = {
    "cim (ours)": _cim_solver,
    "dwave-samplers SA": _sa_solver,
    "OpenJij SA": _openjij_solver,
    "simulated-bifurcation bSB": lambda: _sb_solver("ballistic"),
    "simulated-bifurcation dSB": lambda: _sb_solver("discrete"),
    "cim-optimizer CAC": _cimopt_solver,
}


def all_solvers() -> list[Solver]:
    """Ours first, then the peers; unavailable ones are kept (reported, not run)."""
    return [factory() for factory in FACTORIES.values()]

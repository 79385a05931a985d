"""Conformance checks for backends: run them on yours before you register it.

A backend is a ``dimod.Sampler`` (and may add the batched ``sample_ir`` of
:class:`~qama_compile.runtime.sampling.BatchSampler`). :func:`assert_backend_conformance`
checks what the toolkit relies on, with dimod's own helpers where they exist:

* dimod's sampler API (``parameters``, ``properties``, ``sample``, ``sample_ising``,
  ``sample_qubo``) and the properties the toolkit reads: ``max_variables``,
  ``native_graph`` and ``description``;
* samples in the BQM's vartype, over exactly its variables (integer, string and tuple
  labels), with energies that match the BQM (``dimod.testing.assert_sampleset_energies``);
* the same seed gives the same samples (when the backend takes a ``seed``);
* with ``sample_ir``: ``[B, R, V]`` samples in the IR's vartype and energies that match the
  IR (through :func:`~qama_compile.runtime.sampling.sample_batch`, which checks them);
* optionally, that it finds the exact ground state of small problems.

Each failed check raises ``AssertionError`` naming the backend and what is wrong, so the
function works inside any test runner.

>>> from qama_compile.runtime.registry import get_backend
>>> assert_backend_conformance(get_backend("exact"), name="exact", expect_ground_state=True)
"""

from __future__ import annotations

from typing import Any, Literal

import dimod
import dimod.testing
import numpy as np

from .core.exact import lowest_states
from .core.ir import QuadraticIR
from .runtime.sampling import BatchSampler, sample_batch

__all__ = ["assert_backend_conformance", "conformance_bqms", "conformance_irs"]

Vartype = Literal["BINARY", "SPIN"]


def conformance_bqms(vartype: Vartype, *, seed: int = 42) -> list[dimod.BinaryQuadraticModel]:
    """Small BQMs with integer, string and ``(head, token, bit)`` tuple labels."""
    rng = np.random.default_rng(seed)
    out = [
        dimod.generators.gnp_random_bqm(5, 0.6, vartype, random_state=7),
        dimod.BinaryQuadraticModel({"a": 0.5, "b": -1.0}, {("a", "b"): 0.75}, 1.25, vartype),
    ]
    labelled = dimod.BinaryQuadraticModel(vartype)
    for i in range(4):
        labelled.add_variable((0, i, 0), float(rng.normal()))
    for i in range(3):
        labelled.add_interaction((0, i, 0), (0, i + 1, 0), float(rng.normal()))
    out.append(labelled)
    return out


def conformance_irs(vartype: Vartype, *, seed: int = 42, batch: int = 3, size: int = 6) -> QuadraticIR:
    """A batch of small dense IRs (random fields and couplings) for the batched path."""
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(size, k=1)
    return QuadraticIR.from_coo(
        linear=rng.normal(size=(batch, size)),
        rows=iu,
        cols=ju,
        data=rng.normal(size=(batch, iu.size)),
        offset=rng.normal(size=batch),
        vartype=vartype,
    )


def _kwargs(sampler: Any, *, reads: int, seed: int | None) -> dict[str, Any]:
    params = getattr(sampler, "parameters", {}) or {}
    out: dict[str, Any] = {}
    if "num_reads" in params:
        out["num_reads"] = reads
    if seed is not None and "seed" in params:
        out["seed"] = seed
    return out


def assert_backend_conformance(
    sampler: Any, *, name: str | None = None, seed: int = 3, reads: int = 4, expect_ground_state: bool = False
) -> None:
    """Run every check of the module docstring on ``sampler``; ``AssertionError`` names what failed.

    Args:
        sampler: the backend instance.
        name: its name in messages (default: the class name).
        seed: the seed used for the reproducibility check.
        reads: reads per call.
        expect_ground_state: also require the exact ground state of the small test problems
            among the reads (for exact and strong heuristic backends).
    """
    label = name or type(sampler).__name__
    is_dimod = isinstance(sampler, dimod.Sampler)
    has_batch = isinstance(sampler, BatchSampler)
    assert is_dimod or has_batch, f"backend {label!r} is neither a dimod.Sampler nor a BatchSampler"
    if is_dimod:
        dimod.testing.asserts.assert_sampler_api(sampler)
        props = sampler.properties
        for key in ("max_variables", "native_graph", "description"):
            assert key in props, f"backend {label!r} does not declare properties[{key!r}]"
        assert isinstance(props["max_variables"], int) and props["max_variables"] >= 5, (
            f"backend {label!r}: properties['max_variables'] must be an int >= 5, got {props['max_variables']!r}"
        )
        assert isinstance(props["description"], str) and props["description"], f"backend {label!r}: no description"
        for vartype in ("BINARY", "SPIN"):
            for bqm in conformance_bqms(vartype):  # type: ignore[arg-type]
                kwargs = _kwargs(sampler, reads=reads, seed=seed)
                ss = sampler.sample(bqm, **kwargs)
                dimod.testing.asserts.assert_sampleset_energies(ss, bqm)
                assert ss.vartype is bqm.vartype, f"backend {label!r} returned {ss.vartype.name} for a {vartype} BQM"
                assert set(ss.variables) == set(bqm.variables), f"backend {label!r} changed the variables"
                if "seed" in kwargs:
                    again = sampler.sample(bqm, **kwargs)
                    assert np.array_equal(again.record.sample, ss.record.sample), (
                        f"backend {label!r}: the same seed gave different samples"
                    )
                if expect_ground_state:
                    ground = dimod.ExactSolver().sample(bqm).first.energy
                    assert ss.first.energy <= ground + 1e-9 * (1 + abs(ground)), (
                        f"backend {label!r} missed the ground state {ground} (best {ss.first.energy})"
                    )
            if vartype == "SPIN":
                h, j, _ = conformance_bqms("SPIN")[0].to_ising()
                kwargs = _kwargs(sampler, reads=reads, seed=seed)
                out = sampler.sample_ising(h, j, **kwargs)
                dimod.testing.asserts.assert_sampleset_energies(out, dimod.BQM.from_ising(h, j))
            else:
                q, _ = conformance_bqms("BINARY")[0].to_qubo()
                kwargs = _kwargs(sampler, reads=reads, seed=seed)
                out = sampler.sample_qubo(q, **kwargs)
                dimod.testing.asserts.assert_sampleset_energies(out, dimod.BQM.from_qubo(q))
    if has_batch:
        for vartype in ("BINARY", "SPIN"):
            ir = conformance_irs(vartype)  # type: ignore[arg-type]
            out = sample_batch(ir, sampler, num_reads=reads, seed=seed, name=label, batched=True)
            assert out.route == "batched" and len(out.samples) == ir.batch_size
            again = sample_batch(ir, sampler, num_reads=reads, seed=seed, name=label, batched=True)
            assert all(np.array_equal(a, b) for a, b in zip(out.samples, again.samples, strict=True)), (
                f"backend {label!r}: sample_ir with the same seed gave different samples"
            )
            if expect_ground_state:
                _, ground = lowest_states(ir, k=1)
                _, best = out.best()
                assert np.all(best <= ground[:, 0] + 1e-9 * (1 + np.abs(ground[:, 0]))), (
                    f"backend {label!r}: sample_ir missed a ground state ({best} vs {ground[:, 0]})"
                )

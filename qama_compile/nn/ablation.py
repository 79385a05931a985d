"""Ablations of the QAMA operator's solver, and a probe of what the solver selects.

Each is a sampler with the batched ``sample_ir`` method of
:class:`qama_compile.runtime.sampling.BatchSampler`, so it is passed as the operator's
``backend`` and goes through the operator's one solving path (lowering, sampling, energies
recomputed from the IR); the operator itself is unchanged:

* :class:`AllSelected`: every bit 1 (``w = 1`` for every kept token): no solver at all;
* :class:`RandomSelection`: each bit 1 independently with probability ``density``, from the
  call's seed (so a run repeats): a selection that ignores ``J`` and ``h``;
* :class:`SelectionProbe`: wraps any sampler (a backend name or object); records the bit
  density of the selection it returns and, when ``measure_gap`` is set and the problem is
  small enough, the exact ground-state energy of the same problems
  (:func:`qama_compile.core.exact.lowest_states`), hence the solver's energy gap.

The exact ground state as an ablation is the ``exact`` backend itself
(``QAMA(..., backend="exact")``).

>>> import torch
>>> from qama_compile.nn import QAMA
>>> q, k, v = torch.randn(3, 4, 2, 5, 8, generator=torch.Generator().manual_seed(0))
>>> QAMA(2, bits=1, backend=AllSelected())(q, k, v).shape
torch.Size([4, 2, 5, 8])
>>> op = QAMA(2, bits=1, backend=RandomSelection(0.3), seed=0)
>>> _ = op(q, k, v); round(float(op.last_solution.float().mean()), 2)
0.32
>>> probe = SelectionProbe("cim", backend_options={"num_threads": 1}, measure_gap=True)
>>> op = QAMA(2, bits=1, backend=probe, num_reads=4, seed=0)
>>> _ = op(q, k, v); s = probe.summary()
>>> s["problems"], s["gap_problems"], s["at_ground_fraction"]
(4, 4, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.exact import lowest_states
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from ..runtime.sampling import sample_batch

__all__ = ["AllSelected", "RandomSelection", "SelectionProbe"]

#: Largest problem whose ground state the probe enumerates (``2^V`` states per problem).
PROBE_EXACT_MAX = 20


def _in_vartype(bits: NDArray[np.bool_], ir: QuadraticIR) -> NDArray[np.int8]:
    x = bits.astype(np.int8)
    out: NDArray[np.int8] = (2 * x - 1).astype(np.int8) if ir.vartype == "SPIN" else x
    return out


class AllSelected:
    """The solver-free ablation: every bit of every problem is 1, so ``w = 1`` for every kept token.

    One read per problem whatever ``num_reads`` asks (all reads would be the same).

    >>> from qama_compile.core.ir import QuadraticIR
    >>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[], cols=[], data=[[]])
    >>> out = sample_batch(ir, AllSelected(), num_reads=3, seed=0)
    >>> out.samples[0].tolist(), out.energies[0].tolist(), out.info[0]["policy"]
    ([[1, 1]], [-1.0], 'all-selected')
    """

    default_num_reads = 1

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int = 1, seed: int | None = None, **options: Any
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        if options:
            raise InvalidInputError(
                f"AllSelected takes no sampling options, got {', '.join(sorted(options))}",
                fix="drop sample_options for this ablation",
            )
        x = _in_vartype(np.ones((ir.batch_size, 1, ir.num_variables), dtype=bool), ir)
        return x, ir.energies(x), {"policy": "all-selected"}


class RandomSelection:
    """Each bit 1 independently with probability ``density``, drawn from the call's ``seed``.

    One read per problem whatever ``num_reads`` asks: with several reads the operator would
    keep the lowest-energy one, which is a (weak) solver, not a random selection.

    Args:
        density: probability of each bit being 1, in [0, 1].
    """

    default_num_reads = 1

    def __init__(self, density: float) -> None:
        if (
            not isinstance(density, (int, float, np.integer, np.floating))
            or isinstance(density, bool)
            or not 0.0 <= float(density) <= 1.0
        ):
            raise InvalidInputError(f"density must be in [0, 1], got {density!r}", fix="pass e.g. density=0.5")
        self.density = float(density)

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int = 1, seed: int | None = None, **options: Any
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        if options:
            raise InvalidInputError(
                f"RandomSelection takes no sampling options, got {', '.join(sorted(options))}",
                fix="drop sample_options for this ablation",
            )
        rng = np.random.default_rng(seed)
        x = _in_vartype(rng.random((ir.batch_size, 1, ir.num_variables)) < self.density, ir)
        return x, ir.energies(x), {"policy": "random", "density": self.density}


class SelectionProbe:
    """A sampler that samples with ``backend`` and records what it selected.

    Per problem it keeps the bit density of the best read, its energy and (``measure_gap``
    on, ``V <= exact_max_variables``) the exact ground-state energy. It returns the best read
    only (what the operator would keep anyway).

    Args:
        backend: a backend name (built with ``backend_options``) or a sampler object.
        backend_options: constructor options of a named backend.
        measure_gap: enumerate the ground state of each problem (switch it on and off with
            the attribute, e.g. only while evaluating).
        exact_max_variables: largest problem enumerated; bigger ones are counted as skipped.
    """

    default_num_reads = 1

    def __init__(
        self,
        backend: Any,
        *,
        backend_options: Mapping[str, Any] | None = None,
        measure_gap: bool = False,
        exact_max_variables: int = PROBE_EXACT_MAX,
    ) -> None:
        if isinstance(backend, str):
            from ..runtime.registry import get_backend

            self.name = backend
            self.sampler: Any = get_backend(backend, **dict(backend_options or {}))
        else:
            self.name = type(backend).__name__
            self.sampler = backend
        self.measure_gap = bool(measure_gap)
        self.exact_max_variables = int(exact_max_variables)
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded."""
        self.densities: list[NDArray[np.float64]] = []
        self.energies: list[NDArray[np.float64]] = []
        self.ground: list[NDArray[np.float64] | None] = []  # per call: ground energies, or None
        self.skipped = 0

    @property
    def calls(self) -> int:
        """Sampling calls recorded since the last :meth:`reset`."""
        return len(self.energies)

    def sample_ir(
        self, ir: QuadraticIR, *, num_reads: int = 1, seed: int | None = None, **options: Any
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
        out = sample_batch(ir, self.sampler, num_reads=num_reads, seed=seed, name=self.name, **options)
        x, e = out.best()
        bits = (x + 1) // 2 if ir.vartype == "SPIN" else x
        self.densities.append(bits.mean(axis=1) if ir.num_variables else np.zeros(ir.batch_size))
        self.energies.append(e)
        ground = None
        if self.measure_gap:
            if ir.num_variables <= self.exact_max_variables:
                ground = lowest_states(ir, k=1, max_variables=self.exact_max_variables)[1][:, 0]
            else:
                self.skipped += ir.batch_size
        self.ground.append(ground)
        info: dict[str, Any] = {"probe_of": self.name, "route": out.route}
        if out.route == "batched" and out.info:
            info["backend_info"] = dict(out.info[0])
        return x[:, None, :], e[:, None], info

    def summary(self) -> dict[str, Any]:
        """Means over every problem recorded: bit density; and, where measured, the energy gap.

        ``mean_gap`` is the mean of ``E_selected - E_ground`` (>= 0), ``mean_relative_gap``
        that over ``|E_ground|``, ``at_ground_fraction`` the share of problems whose selection
        has the ground energy (to ``1e-9`` relative).
        """
        dens = np.concatenate(self.densities) if self.densities else np.zeros(0)
        out: dict[str, Any] = {
            "calls": self.calls,
            "problems": int(dens.size),
            "bit_density": float(dens.mean()) if dens.size else math.nan,
            "gap_problems": 0,
            "gap_skipped": self.skipped,
        }
        pairs = [(e, g) for e, g in zip(self.energies, self.ground, strict=True) if g is not None]
        if pairs:
            energy = np.concatenate([e for e, _ in pairs])
            ground = np.concatenate([g for _, g in pairs])
            gap = energy - ground
            tol = 1e-9 * np.maximum(1.0, np.abs(ground))
            out.update(
                gap_problems=int(ground.size),
                mean_gap=float(gap.mean()),
                max_gap=float(gap.max()),
                mean_relative_gap=float((gap / np.maximum(np.abs(ground), 1e-12)).mean()),
                at_ground_fraction=float((gap <= tol).mean()),
                mean_ground_energy=float(ground.mean()),
            )
        return out

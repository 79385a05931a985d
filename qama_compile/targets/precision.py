"""The coupler-precision rule: how many DAC bits a problem needs on a target, and what rounding loses.

A digital machine programs each coupling as an integer code ``k`` times a step
``step = R / (2**(bits-1) - 1)``, ``R = max(|lo|, |hi|)`` of its coupling range (the grid of
:func:`qama_compile.passes.quantize.grid_step`). The compiler scales each problem by the
largest factor the ranges allow (:func:`qama_compile.passes.quantize.scale_factors`), so a
coupler of magnitude ``|J|`` sits at ``u = |J| s / R`` of the range and nearest rounding
sends it to zero exactly when ``u (2**(bits-1) - 1) <= 1/2``. Hence, for the smallest
coupler that must survive (``u*``), the DAC needs

    ``bits = floor(log2(1 + 1 / (2 u*))) + 2``

bits. With a share ``f`` of couplers allowed to vanish, ``u*`` is the ``floor(f n)``-th
smallest of the ``n`` non-zero magnitudes. The arrays here are vectorised over the batch.

>>> import numpy as np
>>> u = np.array([[1.0, 0.5, 0.01, 0.0]])          # fractions of the coupling range
>>> bits_to_keep(u, allowed=np.array([0])).tolist(), bits_to_keep(u, allowed=np.array([1])).tolist()
([7], [3])
>>> zeroed_at(u, 7).tolist(), zeroed_at(u, 6).tolist()
([0], [1])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..core.ir import QuadraticIR
from ..passes import analysis

__all__ = ["MIN_DAC_BITS", "bits_to_keep", "coupler_magnitudes", "zeroed_at"]

#: The narrowest signed DAC the rule considers (one level each side of zero).
MIN_DAC_BITS = 2


def coupler_magnitudes(ir: QuadraticIR) -> NDArray[np.float64]:
    """``|coupling|`` of every coupler of each problem, ``[B, M]``; float noise (below
    :data:`~qama_compile.passes.analysis.NEGLIGIBLE` of the largest) counts as 0."""
    mags = analysis.coupler_magnitudes(ir)
    out: NDArray[np.float64] = np.where(analysis.significant(mags), mags, 0.0)
    return out


def zeroed_at(u: NDArray[np.float64], bits: int) -> NDArray[np.int64]:
    """Non-zero entries of ``u`` (fractions of the range, ``[B, M]``) that round to 0 on a ``bits``-bit DAC."""
    levels = 2 ** (int(bits) - 1) - 1
    out: NDArray[np.int64] = np.count_nonzero((u > 0) & (u * levels <= 0.5), axis=1).astype(np.int64)
    return out


def bits_to_keep(u: NDArray[np.float64], *, allowed: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per problem, the narrowest DAC (>= :data:`MIN_DAC_BITS`) at which at most ``allowed`` non-zero
    entries of ``u`` (``[B, M]``, fractions of the coupling range) round to zero."""
    b = u.shape[0]
    nonzero = np.count_nonzero(u > 0, axis=1)
    out = np.full(b, MIN_DAC_BITS, dtype=np.int64)
    need = nonzero > allowed
    if not need.any():
        return out
    pick = np.minimum(allowed, np.maximum(nonzero - 1, 0))
    smallest_kept = np.ones(b)
    for i in np.flatnonzero(need):  # per problem: the (allowed+1)-th smallest non-zero magnitude
        row = u[i][u[i] > 0]
        smallest_kept[i] = np.partition(row, int(pick[i]))[int(pick[i])]
    with np.errstate(divide="ignore", over="ignore"):
        raw = np.floor(np.log2(1.0 + 0.5 / np.where(need, smallest_kept, 1.0))) + 2
    out = np.where(need, np.maximum(raw, MIN_DAC_BITS), MIN_DAC_BITS).astype(np.int64)
    for _ in range(2):  # guard the float log at exact powers of two: the count decides
        levels = (2.0 ** (out - 1) - 1)[:, None]
        short = need & (np.count_nonzero((u > 0) & (u * levels <= 0.5), axis=1) > allowed)
        if not short.any():
            break
        out = out + short
    return out

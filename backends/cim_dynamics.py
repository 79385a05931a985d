"""Pure-array core of the coherent Ising machine (CIM) emulator: no dimod, no labels.

The emulated machine is a measurement-feedback CIM: ``V`` soft spins (DOPO pulse
amplitudes) ``x_i`` evolve under a pump, gain saturation, an injected feedback field and,
for the corrected variants, per-spin error variables ``e_i``. One Euler step is one round
trip of the optical cavity: every pulse is measured once and the feedback (one
matrix-vector product per replica) is injected once.

Sign convention. dimod minimises ``E(s) = sum_i h_i s_i + sum_{i<j} J_ij s_i s_j``. With the
symmetric, zero-diagonal ``J`` (both triangles filled, so ``s^T J s / 2`` is the coupling
energy) the *descent* field on spin ``i`` is ``mu_i = -(h_i + sum_j J_ij s_j)``: a spin that
aligns with ``mu_i`` lowers ``E``. The dynamics use ``mu`` evaluated on the soft amplitudes
``x`` (the field ``h`` is multiplied by a reference amplitude so that both terms scale alike)
after dividing ``h`` and ``J`` by one scale per problem (:func:`coupling_scale`).

Equations (``dt`` Euler, per replica ``r``, problem ``b``; see docs/backends/cim.md)::

    basic: dx_i = dt [ (p(t) - 1) x_i - x_i^3 + beta mu_i ] + sigma sqrt(dt) N(0, 1)
    ahc:   dx_i = dt [ (p(t) - 1) x_i - x_i^3 + beta e_i mu_i ]
           e_i <- e_i (1 - dt xi (x_i^2 - a))
    cac:   as ahc, with the target amplitude a_r(t) = a + rho tanh(delta (E_r(t) - E_r^best) / E_scale)
           raised while replica r sits above its best energy, and the rate xi growing linearly in
           time, so the error variables destabilise local minima (chaotic amplitude control)

The best spin state ``sign(x)`` seen by each replica is tracked (energy checked every
``check_every`` steps) and, optionally, polished by vectorised greedy single-flip descent.

>>> import numpy as np
>>> h = np.zeros((1, 3)); J = np.zeros((1, 3, 3)); J[0, 0, 1] = J[0, 1, 0] = -1.0
>>> J[0, 1, 2] = J[0, 2, 1] = -1.0
>>> out = run_dynamics(h, J, num_reads=4, schedule=default_schedule("cac", 3), seed=0)
>>> sorted(set(np.abs(out.spins.sum(axis=-1)).ravel().tolist())), out.energies.min().item()
([3], -2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from qama_compile.errors import InvalidInputError

Method = Literal["cac", "ahc", "basic"]
METHODS: tuple[str, ...] = ("cac", "ahc", "basic")

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
CouplingMatrix = Any  # dense [B, V, V] ndarray or scipy.sparse [V, V]


@dataclass(frozen=True)
class Schedule:
    """Resolved dynamical parameters of one run (all in normalised units).

    Attributes:
        method: ``"cac"``, ``"ahc"`` or ``"basic"``.
        num_steps: Euler steps = cavity round trips.
        dt: time step (in units of the cavity photon lifetime).
        pump: ``(p_start, p_end)``; the pump rate ramps linearly (``p = 1`` is the
            oscillation threshold of an uncoupled pulse).
        feedback: feedback gain ``beta`` on the normalised coupling field.
        target: target squared amplitude ``a`` of the error-corrected variants.
        rate: ``(xi_start, xi_end)`` error-variable rate, ramped linearly.
        noise: standard deviation ``sigma`` of the amplitude noise (per unit time).
        modulation, sharpness: CAC target-amplitude modulation ``rho`` and ``delta``.
        check_every: steps between energy evaluations (best-state tracking).
        clip: amplitudes are kept in ``[-clip sqrt(a), clip sqrt(a)]`` (gain saturation).
        error_max: error variables are kept in ``[1 / error_max, error_max]``.
    """

    method: str
    num_steps: int
    dt: float
    pump: tuple[float, float]
    feedback: float
    target: float
    rate: tuple[float, float]
    noise: float
    modulation: float
    sharpness: float
    check_every: int
    clip: float
    error_max: float


def default_num_steps(method: str, num_variables: int) -> int:
    """Default round trips: grows slowly with the problem size (``~ 200 + 30 sqrt(V)``)."""
    base = 200 + 30 * math.sqrt(max(num_variables, 1))
    if method == "basic":
        base *= 0.5
    return int(min(5000, round(base / 10) * 10))


def default_schedule(method: str = "cac", num_variables: int = 100, **overrides: Any) -> Schedule:
    """Defaults for ``method`` on ``num_variables`` spins; keyword ``overrides`` replace fields.

    >>> s = default_schedule("ahc", 256, dt=0.2)
    >>> s.method, s.dt, s.num_steps > 0
    ('ahc', 0.2, True)
    """
    if method not in METHODS:
        raise InvalidInputError(
            f"unknown CIM method {method!r}", fix=f"use one of {', '.join(METHODS)}", name=method, known=list(METHODS)
        )
    common: dict[str, Any] = {
        "method": method,
        "num_steps": default_num_steps(method, num_variables),
        "dt": 0.15,
        "target": 1.0,
        "noise": 0.0,
        "modulation": 0.0,
        "sharpness": 3.0,
        "check_every": 10,
        "clip": 1.5,
        "error_max": 100.0,
    }
    if method == "basic":
        common.update(pump=(0.0, 1.5), feedback=0.6, rate=(0.0, 0.0), noise=0.05, dt=0.2)
    elif method == "ahc":
        common.update(pump=(-0.5, 0.9), feedback=0.5, rate=(0.3, 0.3))
    else:  # cac
        common.update(pump=(-1.0, 0.5), feedback=0.5, rate=(0.3, 2.0), modulation=0.2)
    fields = {f for f in Schedule.__dataclass_fields__}
    unknown = set(overrides) - fields
    if unknown:
        raise InvalidInputError(
            f"unknown CIM schedule option(s): {', '.join(sorted(unknown))}",
            fix=f"use {', '.join(sorted(fields - {'method'}))}",
        )
    sched = Schedule(**common)
    changes: dict[str, Any] = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in overrides.items()}
    sched = replace(sched, **changes)
    _validate(sched)
    return sched


def _validate(s: Schedule) -> None:
    checks = [
        ("num_steps", s.num_steps >= 1 and float(s.num_steps).is_integer(), "an integer >= 1"),
        ("dt", 0 < s.dt <= 1, "in (0, 1]"),
        ("check_every", s.check_every >= 1, "an integer >= 1"),
        ("target", s.target > 0, "positive"),
        ("clip", s.clip > 0, "positive"),
        ("noise", s.noise >= 0, "non-negative"),
        ("error_max", s.error_max >= 1, ">= 1"),
        ("pump", len(s.pump) == 2, "a pair (start, end)"),
        ("rate", len(s.rate) == 2 and min(s.rate) >= 0, "a non-negative pair (start, end)"),
    ]
    for name, ok, what in checks:
        if not ok:
            raise InvalidInputError(f"CIM option {name}={getattr(s, name)!r} must be {what}", fix=f"pass {name} {what}")
    worst = s.dt * max(s.rate) * s.clip**2 * (s.target + abs(s.modulation))
    if s.method != "basic" and worst >= 1:
        raise InvalidInputError(
            f"dt * rate * clip^2 * (target + modulation) = {worst:.3g} must stay below 1 "
            "(the Euler factor of the error variables would change sign)",
            fix="lower dt or the rate",
        )
    values = [s.dt, s.feedback, s.target, s.noise, s.modulation, s.sharpness, *s.pump, *s.rate]
    if not all(math.isfinite(float(v)) for v in values):
        raise InvalidInputError("CIM options must be finite numbers", fix="remove NaN/inf options")


# ---------------------------------------------------------------------------- scaling
def coupling_scale(h: F64, J: CouplingMatrix) -> F64:
    """One positive scale per problem: the root-mean-square row norm of ``[J | h]``.

    ``sqrt((||J_b||_F^2 + ||h_b||^2) / V)``; for a dense +-1 SK instance this is ``~sqrt(V)``,
    so the normalised coupling spectrum has radius ``~2`` regardless of ``V``. Problems with
    no coefficients get scale 1.

    >>> coupling_scale(np.zeros((1, 4)), np.ones((1, 4, 4)) - np.eye(4)).round(3).tolist()
    [1.732]
    """
    v = max(h.shape[1], 1)
    j2 = np.array([float(J.multiply(J).sum())]) if sp.issparse(J) else np.einsum("bij,bij->b", J, J)
    scale = np.sqrt((j2 + np.einsum("bi,bi->b", h, h)) / v)
    out: F64 = np.where(scale > 0, scale, 1.0)
    return out


# ---------------------------------------------------------------------------- kernels
class _MatMul:
    """``out = x @ M`` for ``x`` ``[B, R, V]`` float32: numpy/BLAS, torch, or scipy.sparse (B=1)."""

    def __init__(self, m: Any, use_torch: bool) -> None:
        self.sparse = sp.issparse(m)
        self.torch = use_torch and not self.sparse
        if self.sparse:
            self.m = sp.csr_matrix(m, dtype=np.float32)
        elif self.torch:
            import torch

            self._t = torch
            self.m = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))
        else:
            self.m = np.ascontiguousarray(m, dtype=np.float32)

    def __call__(self, x: F32, out: F32) -> F32:
        if self.sparse:
            # M symmetric: x @ M = (M @ x^T)^T
            out[0] = (self.m @ x[0].T).T
        elif self.torch:
            self._t.matmul(self._t.from_numpy(x), self.m, out=self._t.from_numpy(out))
        else:
            np.matmul(x, self.m, out=out)
        return out


def _spins(x: F32, out: F32) -> F32:
    """``sign(x)`` as float32 with ``sign(0) = +1``."""
    np.greater_equal(x, 0, out=out)  # writes 0/1 as float32
    out *= 2
    out -= 1
    return out


@dataclass(frozen=True)
class DynamicsResult:
    """Best spins ``[B, R, V]`` (int8), their energies ``[B, R]`` (normalised units unless
    rescaled by the caller), and counters."""

    spins: NDArray[np.int8]
    energies: F64
    steps: int
    energy_checks: int
    polish_flips: NDArray[np.int64]
    polish_iterations: int


def run_dynamics(
    h: F64,
    J: CouplingMatrix,
    *,
    num_reads: int,
    schedule: Schedule,
    seed: int | np.random.Generator | None = None,
    use_torch: bool = False,
    polish: bool = True,
    scale: F64 | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DynamicsResult:
    """Integrate the CIM for ``B`` problems x ``num_reads`` replicas at once.

    Args:
        h: fields ``[B, V]``.
        J: symmetric zero-diagonal couplings, dense ``[B, V, V]`` or scipy.sparse ``[V, V]``
            (then ``B == 1``).
        num_reads: replicas per problem.
        schedule: from :func:`default_schedule`.
        seed: seed or generator for the initial amplitudes and the noise.
        use_torch: do the dense matrix products with torch (CPU), sharing memory with numpy.
        polish: finish with greedy single-flip descent (:func:`greedy_descent`).
        scale: per-problem normalisation ``[B]`` (default :func:`coupling_scale`).
        progress: called as ``progress(steps_done, num_steps)`` at every energy check.

    Returns:
        :class:`DynamicsResult`; energies are in the *original* units of ``h`` and ``J``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h = np.asarray(h, dtype=np.float64)
    b, v = h.shape
    r = int(num_reads)
    s = schedule
    scale = coupling_scale(h, J) if scale is None else np.asarray(scale, dtype=np.float64)
    if sp.issparse(J):
        jn: Any = sp.csr_matrix(J, dtype=np.float64) * (1.0 / scale[0])
    else:
        jn = np.asarray(J, dtype=np.float64) / scale[:, None, None]
    hn = (h / scale[:, None]).astype(np.float32)[:, None, :]  # [B, 1, V]
    # descent field mu = -(J x + h xref): multiply by -J once
    neg = _MatMul(-jn, use_torch)
    pos = _MatMul(jn, use_torch)
    has_field = bool(np.any(hn))

    x = rng.standard_normal((b, r, v), dtype=np.float32)
    x *= 0.01
    corrected = s.method != "basic"
    gain = s.dt * s.feedback
    # error variables stored pre-multiplied by dt * beta: eg = dt beta e (saves one pass per step)
    eg = np.full((b, r, v), gain, dtype=np.float32)
    mu = np.empty_like(x)
    buf = np.empty_like(x)
    sg = np.empty_like(x)
    amp = np.empty((b, r, 1), dtype=np.float32)
    a_target: Any = float(s.target)  # scalar, or [B, R, 1] under CAC modulation
    best_e = np.full((b, r), np.inf, dtype=np.float64)
    best_s = np.ones((b, r, v), dtype=np.float32)
    last_e = np.zeros((b, r), dtype=np.float64)
    e_scale = np.ones((b, 1))
    xmax = float(s.clip * math.sqrt(s.target))
    lo_e, hi_e = gain / s.error_max, gain * s.error_max
    noise_amp = np.float32(s.noise * math.sqrt(s.dt))
    denom = max(s.num_steps - 1, 1)
    checks = 0

    for t in range(s.num_steps):
        frac = t / denom
        p = s.pump[0] + (s.pump[1] - s.pump[0]) * frac
        neg(x, mu)  # mu = -J x  (normalised)
        if has_field:
            # field reference amplitude: per-replica RMS amplitude (an always-on reference pulse)
            np.einsum("brv,brv->br", x, x, out=amp[..., 0])
            amp *= 1.0 / v
            np.sqrt(amp, out=amp)
            np.multiply(hn, amp, out=buf)
            mu -= buf
        mu *= eg if corrected else gain  # dt beta e_i mu_i
        # x <- x + dt [ (p - 1) x - x^3 ] + dt beta e mu  =  x (1 + dt (p - 1) - dt x^2) + dt beta e mu
        np.multiply(x, x, out=buf)
        buf *= -s.dt
        buf += 1.0 + s.dt * (p - 1.0)
        x *= buf
        x += mu
        if s.noise > 0:
            rng.standard_normal(out=buf, dtype=np.float32)
            buf *= noise_amp
            x += buf
        np.minimum(x, xmax, out=x)  # gain saturation bound (min/max: no np.clip wrapper overhead)
        np.maximum(x, -xmax, out=x)
        if corrected:
            # e <- e (1 - dt xi (x^2 - a))   (Euler; the factor stays positive, see _validate)
            xi = s.rate[0] + (s.rate[1] - s.rate[0]) * frac
            np.multiply(x, x, out=buf)
            buf *= -s.dt * xi
            buf += 1.0 + s.dt * xi * a_target
            eg *= buf
        if t % s.check_every == s.check_every - 1 or t == s.num_steps - 1:
            checks += 1
            if corrected:
                np.clip(eg, lo_e, hi_e, out=eg)
            _spins(x, sg)
            pos(sg, buf)  # J s
            buf *= 0.5
            buf += hn
            np.einsum("brv,brv->br", sg, buf, out=last_e, casting="unsafe")
            better = last_e < best_e
            if better.any():
                best_e[better] = last_e[better]
                best_s[better] = sg[better]
            if progress is not None:
                progress(t + 1, s.num_steps)
            if s.modulation and corrected:
                if checks == 1:
                    e_scale = np.maximum(np.abs(best_e).mean(axis=1, keepdims=True), 1e-9)
                gap = (last_e - best_e) / e_scale
                a_target = (s.target + s.modulation * np.tanh(s.sharpness * gap))[..., None].astype(np.float32)

    spins = best_s
    flips = np.zeros((b, r), dtype=np.int64)
    iters = 0
    if polish:
        spins, flips, iters = greedy_descent(spins, hn[:, 0, :].astype(np.float64), jn)
    spins_i8 = spins.astype(np.int8)
    energies = ising_energies(h, J, spins_i8)
    return DynamicsResult(
        spins=spins_i8,
        energies=energies,
        steps=s.num_steps,
        energy_checks=checks,
        polish_flips=flips,
        polish_iterations=iters,
    )


# ---------------------------------------------------------------------------- energies, polish
def ising_energies(h: F64, J: CouplingMatrix, spins: NDArray[Any]) -> F64:
    """``E = h.s + s^T J s / 2`` in float64 for spins ``[B, R, V]`` (``J`` symmetric, zero diagonal).

    >>> J = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    >>> ising_energies(np.array([[0.5, 0.0]]), J, np.array([[[1, 1], [1, -1]]])).tolist()
    [[1.5, -0.5]]
    """
    s64 = np.asarray(spins, dtype=np.float64)
    if sp.issparse(J):
        js = np.asarray(sp.csr_matrix(J, dtype=np.float64) @ s64[0].T).T[None]
    else:
        js = np.matmul(s64, np.asarray(J, dtype=np.float64))
    out: F64 = np.einsum("brv,brv->br", s64, h[:, None, :] + 0.5 * js)
    return out


def greedy_descent(
    spins: NDArray[Any], h: F64, J: CouplingMatrix, *, max_iterations: int | None = None
) -> tuple[NDArray[np.float32], NDArray[np.int64], int]:
    """Steepest single-flip descent on every replica at once, until a local minimum.

    Each iteration flips, in every replica that is not yet at a local minimum, the spin
    whose flip lowers ``E`` the most, and updates the local fields with one gathered row of
    ``J`` per replica (``O(B R V)`` per iteration). Energies never increase.

    Returns ``(spins [B, R, V] float32 +-1, flips [B, R], iterations)``.

    >>> J = np.zeros((1, 3, 3)); J[0, 0, 1] = J[0, 1, 0] = -1.0
    >>> s, flips, _ = greedy_descent(np.array([[[1.0, -1.0, 1.0]]]), np.array([[0.0, 0.0, 0.5]]), J)
    >>> s.tolist(), flips.tolist()
    ([[[-1.0, -1.0, -1.0]]], [[2]])
    """
    s64 = np.array(spins, dtype=np.float64)
    b, r, v = s64.shape
    sparse = sp.issparse(J)
    jm: Any = sp.csr_matrix(J, dtype=np.float64) if sparse else np.asarray(J, dtype=np.float64)
    coupled = np.asarray(jm @ s64[0].T).T[None] if sparse else np.matmul(s64, jm)
    field = h[:, None, :] + coupled
    flips = np.zeros((b, r), dtype=np.int64)
    limit = max_iterations if max_iterations is not None else 4 * v + 10
    bi, ri = np.meshgrid(np.arange(b), np.arange(r), indexing="ij")
    tol = 1e-12 * (1.0 + np.abs(field).max()) if field.size else 0.0
    it = 0
    for it in range(1, limit + 1):  # until every replica is at a local minimum
        delta = -2.0 * s64 * field  # energy change of flipping each spin
        idx = np.argmin(delta, axis=-1)
        gain = np.take_along_axis(delta, idx[..., None], axis=-1)[..., 0]
        active = gain < -tol
        if not active.any():
            it -= 1
            break
        ab, ar, ai = bi[active], ri[active], idx[active]
        s64[ab, ar, ai] *= -1.0
        rows = np.asarray(jm[ai].todense()) if sparse else jm[ab, ai]  # [A, V]
        field[ab, ar] += 2.0 * s64[ab, ar, ai][:, None] * rows
        flips[active] += 1
    return s64.astype(np.float32), flips, it

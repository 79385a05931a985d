"""The integrator of the coherent Ising machine (CIM) emulator: pure arrays, no dimod, no labels.

The emulated machine is a measurement-feedback CIM: ``V`` soft spins (DOPO pulse
amplitudes) ``x_i`` evolve under a pump, gain saturation, an injected feedback field and,
for the corrected variants, per-spin error variables ``e_i``. One Euler step is one round
trip of the optical cavity: every pulse is measured once and the feedback (one product
``x @ J`` per replica, see :mod:`qama_backends.cim_couplings`) is injected once.

Sign convention. dimod minimises ``E(s) = sum_i h_i s_i + sum_{i<j} J_ij s_i s_j``; with the
symmetric, zero-diagonal ``J`` the *descent* field on spin ``i`` is
``mu_i = -(h_i + sum_j J_ij s_j)``.

Normalisation. ``h`` and ``J`` are divided per problem by ``sigma = |lambda_min(J)| / 2``
(power iterations), so the descent operator ``-J / sigma`` has its top eigenvalue at 2 for
every problem (a dense +-1 SK instance lands where the constants were first chosen). The
other end of the spectrum, ``kappa = lambda_max(J) / sigma``, is the stiffness: 2 for SK,
about 7 for a sparse max-cut graph. The Euler step is shortened so that the stiffest mode
stays stable: ``dt_eff = min(dt, stability / rate)`` with ``rate = feedback * kappa``
(``sqrt(1 + feedback * kappa)`` for simulated bifurcation).

Equations (per replica ``r``, problem ``b``; docs/backends/cim.md)::

    basic: dx_i = dt [ (p(t) - 1) x_i - x_i^3 + beta mu_i ] + sigma_n sqrt(dt) N(0, 1)
    ahc:   dx_i = dt [ (p(t) - 1) x_i - x_i^3 + beta e_i mu_i ],  e_i <- e_i (1 - dt xi (x_i^2 - a))
    cac:   ahc with the target a_r(t) = a + rho tanh(delta (E_r(t) - E_r^best) / E_scale) and a rate
           xi(t) growing over the run (chaotic amplitude control)
    dsb:   discrete simulated bifurcation: dy_i = dt [ (p(t) - 1) x_i + beta mu_i(sign x) ],
           dx_i = dt y_i, and |x_i| > 1 -> x_i = sign x_i, y_i = 0 (inelastic walls)

The best spin state ``sign(x)`` of each replica is tracked (every ``check_every`` steps) and,
optionally, polished by greedy single-flip descent (:mod:`qama_backends.cim_polish`).

>>> import numpy as np
>>> from qama_backends.cim_couplings import Couplings
>>> J = np.zeros((1, 3, 3)); J[0, 0, 1] = J[0, 1, 0] = J[0, 1, 2] = J[0, 2, 1] = -1.0
>>> problem = Couplings.from_dense(np.zeros((1, 3)), J)
>>> out = run_dynamics(problem, num_reads=4, schedule=default_schedule("cac", 3), seed=0)
>>> sorted(set(np.abs(out.spins.sum(axis=-1)).ravel().tolist())), out.energies.min().item()
([3], -2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from qama_compile.errors import InvalidInputError

from .cim_arrays import ArrayOps, NumpyOps
from .cim_couplings import CouplingOperator, Couplings, spectral_bounds
from .cim_polish import greedy_descent

Method = Literal["cac", "ahc", "basic", "dsb"]
METHODS: tuple[str, ...] = ("cac", "ahc", "basic", "dsb")

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Schedule:
    """Resolved dynamical parameters of one run (all in normalised units).

    Attributes:
        method: ``"cac"``, ``"ahc"``, ``"basic"`` or ``"dsb"``.
        num_steps: Euler steps = cavity round trips.
        dt: time step (before the stability limit, see the module docstring).
        pump: ``(p_start, p_end)``; the pump rate ramps linearly (``p = 1`` is the
            oscillation threshold of an uncoupled pulse; for ``dsb`` the bifurcation
            parameter, from 0 to 1).
        feedback: feedback gain ``beta`` on the normalised coupling field.
        target: target squared amplitude ``a`` of the error-corrected variants.
        rate: ``(xi_start, xi_end)`` error-variable rate, ramped linearly.
        noise: standard deviation of the amplitude noise (per unit time).
        modulation, sharpness: CAC target-amplitude modulation ``rho`` and ``delta``.
        check_every: steps between energy evaluations (best-state tracking).
        clip: amplitudes are kept in ``[-clip sqrt(a), clip sqrt(a)]`` (gain saturation).
        error_max: error variables are kept in ``[1 / error_max, error_max]``.
        stability: the Euler step times the fastest rate of the stiffest mode stays below this.
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
    stability: float


def default_num_steps(method: str, num_variables: int) -> int:
    """Default round trips: grows slowly with the problem size (``~ 200 + 30 sqrt(V)``)."""
    base = 200 + 30 * math.sqrt(max(num_variables, 1))
    if method == "basic":
        base *= 0.5
    return int(min(5000, round(base / 10) * 10))


#: The default method: discrete simulated bifurcation won on the training sets of every family
#: (benchmarks/tune_cim.py; docs/backends/cim.md), CAC only on the sparse one, by a hair.
DEFAULT_METHOD = "dsb"

_DEFAULTS: dict[str, dict[str, Any]] = {
    "basic": {"pump": (0.0, 1.5), "feedback": 0.6, "rate": (0.0, 0.0), "noise": 0.05, "dt": 0.2},
    "ahc": {"pump": (-0.5, 0.9), "feedback": 0.5, "rate": (0.3, 0.3)},
    "cac": {"pump": (-1.0, 0.5), "feedback": 0.5, "rate": (0.3, 2.0), "modulation": 0.2},
    "dsb": {"pump": (0.0, 1.0), "feedback": 0.7, "dt": 1.0, "clip": 1.0, "stability": 1.5},
}
#: Changes for problems whose couplings are a sparse graph (no dense part): a weaker coupling.
_SPARSE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dsb": {"feedback": 0.35, "stability": 1.8},
}


def default_schedule(
    method: str = DEFAULT_METHOD, num_variables: int = 100, *, sparse: bool = False, **overrides: Any
) -> Schedule:
    """Defaults for ``method`` on ``num_variables`` spins (``sparse``: couplings that are a
    sparse graph, which take their own tuned values); keyword ``overrides`` replace fields.

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
        "rate": (0.0, 0.0),
        "stability": 1.0,
    }
    common.update(_DEFAULTS[method])
    if sparse:
        common.update(_SPARSE_DEFAULTS.get(method, {}))
    fields = set(Schedule.__dataclass_fields__)
    unknown = set(overrides) - fields
    if unknown:
        raise InvalidInputError(
            f"unknown CIM schedule option(s): {', '.join(sorted(unknown))}",
            fix=f"use {', '.join(sorted(fields - {'method'}))}",
        )
    changes: dict[str, Any] = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in overrides.items()}
    sched = replace(Schedule(**common), **changes)
    _validate(sched)
    return sched


def _validate(s: Schedule) -> None:
    checks = [
        ("num_steps", s.num_steps >= 1 and float(s.num_steps).is_integer(), "an integer >= 1"),
        ("dt", 0 < s.dt <= (2 if s.method == "dsb" else 1), "in (0, 1] (dsb: (0, 2])"),
        ("check_every", s.check_every >= 1, "an integer >= 1"),
        ("target", s.target > 0, "positive"),
        ("clip", s.clip > 0, "positive"),
        ("noise", s.noise >= 0, "non-negative"),
        ("error_max", s.error_max >= 1, ">= 1"),
        ("stability", 0 < s.stability < 2, "in (0, 2)"),
        ("pump", len(s.pump) == 2, "a pair (start, end)"),
        ("rate", len(s.rate) == 2 and min(s.rate) >= 0, "a non-negative pair (start, end)"),
    ]
    for name, ok, what in checks:
        if not ok:
            raise InvalidInputError(f"CIM option {name}={getattr(s, name)!r} must be {what}", fix=f"pass {name} {what}")
    worst = s.dt * max(s.rate) * s.clip**2 * (s.target + abs(s.modulation))
    if s.method in ("cac", "ahc") and worst >= 1:
        raise InvalidInputError(
            f"dt * rate * clip^2 * (target + modulation) = {worst:.3g} must stay below 1 "
            "(the Euler factor of the error variables would change sign)",
            fix="lower dt or the rate",
        )
    values = [s.dt, s.feedback, s.target, s.noise, s.modulation, s.sharpness, *s.pump, *s.rate]
    if not all(math.isfinite(float(v)) for v in values):
        raise InvalidInputError("CIM options must be finite numbers", fix="remove NaN/inf options")


# ---------------------------------------------------------------------------- normalisation
@dataclass(frozen=True)
class Normalisation:
    """Per-problem scale ``sigma [B]`` (``h`` and ``J`` are divided by it), the stiffness
    ``kappa [B]`` (``lambda_max / sigma``) and the spectral estimates behind them."""

    scale: F64
    stiffness: F64
    lambda_min: F64
    lambda_max: F64


def normalisation(couplings: Couplings, op: CouplingOperator | None = None, *, steps: int = 12) -> Normalisation:
    """``sigma = |lambda_min(J)| / 2`` per problem (see the module docstring); problems without
    couplings are scaled by their RMS field, empty ones by 1. ``op``: the unscaled float32
    operator of ``couplings`` if already built.

    >>> J = np.ones((1, 4, 4)) - np.eye(4)[None]       # eigenvalues 3, -1, -1, -1
    >>> n = normalisation(Couplings.from_dense(np.zeros((1, 4)), J))
    >>> round(float(n.scale[0]), 3), round(float(n.stiffness[0]), 2)
    (0.5, 6.6)
    """
    v = couplings.num_variables
    lo, hi = spectral_bounds(op or couplings.operator(), steps=steps)
    rms_h = np.sqrt(np.einsum("bv,bv->b", couplings.h, couplings.h) / max(v, 1))
    soft = -lo
    stiff = hi * 1.1  # a margin: Ritz values approach the end from inside
    tiny = 1e-9 * np.maximum(np.maximum(soft, stiff), rms_h)
    scale = np.where(soft > tiny, soft / 2, np.where(stiff > tiny, stiff / 2, np.where(rms_h > 0, rms_h, 1.0)))
    scale = np.where(scale > 0, scale, 1.0)
    return Normalisation(scale=scale, stiffness=stiff / scale, lambda_min=lo, lambda_max=hi)


def effective_dt(s: Schedule, stiffness: float) -> float:
    """The Euler step after the stability limit for the stiffest mode."""
    rate = math.sqrt(1.0 + s.feedback * stiffness) if s.method == "dsb" else s.feedback * stiffness
    return float(min(s.dt, s.stability / rate)) if rate > 0 else s.dt


# ---------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class DynamicsResult:
    """Best spins ``[B, R, V]`` (int8), their energies ``[B, R]`` (original units, float64,
    no offset), and counters."""

    spins: NDArray[np.int8]
    energies: F64
    steps: int
    energy_checks: int
    polish_flips: NDArray[np.int64]
    polish_iterations: int
    dt: float
    normalisation: Normalisation


def run_dynamics(
    couplings: Couplings,
    *,
    num_reads: int,
    schedule: Schedule,
    seed: int | np.random.Generator | None = None,
    ops: ArrayOps | None = None,
    polish: bool = True,
    norm: Normalisation | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DynamicsResult:
    """Integrate the CIM for ``B`` problems x ``num_reads`` replicas at once.

    Args:
        couplings: the problems (:class:`~qama_backends.cim_couplings.Couplings`).
        num_reads: replicas per problem.
        schedule: from :func:`default_schedule`.
        seed: seed or generator for the initial amplitudes and the noise.
        ops: numpy (default) or torch on a device (:mod:`qama_backends.cim_arrays`).
        polish: finish with greedy single-flip descent.
        norm: a precomputed :func:`normalisation` (else computed here).
        progress: called as ``progress(steps_done, num_steps)`` at every energy check.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ops = ops or NumpyOps()
    b, v = couplings.h.shape
    r = int(num_reads)
    s = schedule
    op = couplings.operator()
    norm = norm or normalisation(couplings, op)
    dt = effective_dt(s, float(norm.stiffness.max()) if b else 0.0)
    # the product gives the descent direction x @ (-J / sigma), for dsb times dt^2 beta
    # (the velocity is stored as dt * y, so that one product is the whole coupling kick)
    kick = dt * dt * s.feedback if s.method == "dsb" else 1.0
    neg = op.rescale(-kick / norm.scale).to(ops)
    hn_np = (couplings.h / norm.scale[:, None]).astype(np.float32)[:, None, :]  # [B, 1, V]
    has_field = bool(np.any(hn_np))
    hn = ops.asarray(hn_np)
    best_s = ops.full((b, r, v), 1.0)
    best_e = ops.full((b, r), np.inf)
    last_e = ops.empty((b, r))
    sg = ops.empty((b, r, v))
    buf = ops.empty((b, r, v))
    mu = ops.empty((b, r, v))
    checks = 0
    denom = max(s.num_steps - 1, 1)
    ebuf = ops.empty((b, r, v))

    def check(spins_now: Any, neg_js: Any | None) -> None:
        """Energy of ``spins_now`` (normalised units; ``neg_js = -J s`` if known) and best-state update."""
        nonlocal checks
        checks += 1
        if neg_js is None:
            neg(spins_now, ebuf)
            neg_js = ebuf
        half = ops.mul_into(neg_js, -0.5 / kick, ebuf)  # E = s.(h + J s / 2)
        half += hn  # in place: half is ebuf
        ops.rowdot_into(spins_now, half, last_e)
        better = ops.less(last_e, best_e)
        if ops.any(better):
            ops.copy_where(best_e, last_e, better)
            ops.copy_where(best_s, spins_now, better)

    if s.method == "dsb":
        x = ops.normal(rng, (b, r, v), 0.1)
        w = ops.normal(rng, (b, r, v), 0.1 * dt)  # w = dt * y
        g = ops.empty((b, r, v))
        hk = ops.asarray(hn_np * np.float32(kick))
        free = ops.less(buf, 1.0)  # a reusable mask buffer (overwritten each step)
        for t in range(s.num_steps):
            p = s.pump[0] + (s.pump[1] - s.pump[0]) * t / denom
            ops.sign_into(x, sg)
            neg(sg, g)  # -dt^2 beta J s / sigma
            if t % s.check_every == s.check_every - 1 or t == s.num_steps - 1:
                check(sg, g)
                if progress is not None:
                    progress(t + 1, s.num_steps)
            if has_field:
                g -= hk  # dt^2 beta mu, mu = -(J s + h)
            w += g
            ops.mul_into(x, dt * dt * (p - 1.0), buf)
            w += buf
            x += w
            ops.abs_into(x, buf)
            ops.less_into(buf, 1.0, free)
            w *= free  # inelastic walls: y = 0 where |x| reached 1
            ops.clip_(x, -1.0, 1.0)
        final = sg
        ops.sign_into(x, final)
    else:
        corrected = s.method != "basic"
        gain = dt * s.feedback
        x = ops.normal(rng, (b, r, v), 0.01)
        # error variables stored pre-multiplied by dt * beta: eg = dt beta e
        eg = ops.full((b, r, v), gain)
        amp = ops.empty((b, r, 1))
        a_target: Any = float(s.target)
        e_scale: Any = None
        xmax = float(s.clip * math.sqrt(s.target))
        lo_e, hi_e = gain / s.error_max, gain * s.error_max
        for t in range(s.num_steps):
            frac = t / denom
            p = s.pump[0] + (s.pump[1] - s.pump[0]) * frac
            neg(x, mu)  # mu = -J x (normalised)
            if has_field:
                # field reference amplitude: the replica's RMS amplitude (an always-on reference pulse)
                ops.rowdot_into(x, x, amp[..., 0])
                amp *= 1.0 / v
                amp **= 0.5
                ops.mul_into(hn, amp, buf)
                mu -= buf
            if corrected:
                mu *= eg  # dt beta e_i mu_i
            else:
                mu *= gain
            # x <- x (1 + dt (p - 1) - dt x^2) + dt beta e mu
            ops.mul_into(x, x, buf)
            buf *= -dt
            buf += 1.0 + dt * (p - 1.0)
            x *= buf
            x += mu
            if s.noise > 0:
                x += ops.normal(rng, (b, r, v), s.noise * math.sqrt(dt))
            ops.clip_(x, -xmax, xmax)
            if corrected:
                xi = s.rate[0] + (s.rate[1] - s.rate[0]) * frac
                ops.mul_into(x, x, buf)
                buf *= -dt * xi
                if isinstance(a_target, float):
                    buf += 1.0 + dt * xi * a_target
                else:
                    buf += 1.0
                    buf += (dt * xi) * a_target
                eg *= buf
            if t % s.check_every == s.check_every - 1 or t == s.num_steps - 1:
                if corrected:
                    ops.clip_(eg, lo_e, hi_e)
                ops.sign_into(x, sg)
                check(sg, None)
                if progress is not None:
                    progress(t + 1, s.num_steps)
                if s.modulation and corrected:
                    if e_scale is None:
                        e_scale = ops.to_numpy(best_e).astype(np.float64)
                        e_scale = np.maximum(np.abs(e_scale).mean(axis=1, keepdims=True), 1e-9)
                    gap = (ops.to_numpy(last_e) - ops.to_numpy(best_e)) / e_scale
                    a_np = (s.target + s.modulation * np.tanh(s.sharpness * gap))[..., None].astype(np.float32)
                    a_target = ops.asarray(a_np)
        final = sg
        ops.sign_into(x, final)

    best_np = ops.to_numpy(best_s)
    flips = np.zeros((b, r), dtype=np.int64)
    iters = 0
    if polish:
        # the tracked best includes the final state (the last step is checked)
        approx = (neg, -norm.scale / kick) if ops.name == "numpy" else None
        pol = greedy_descent(couplings, best_np, approx=approx)
        spins, energies, flips, iters = pol.spins, pol.energies, pol.flips, pol.iterations
    else:
        spins = best_np.astype(np.int8)
        energies = couplings.energies(spins)
    return DynamicsResult(
        spins=spins,
        energies=energies,
        steps=s.num_steps,
        energy_checks=checks,
        polish_flips=flips,
        polish_iterations=iters,
        dt=dt,
        normalisation=norm,
    )

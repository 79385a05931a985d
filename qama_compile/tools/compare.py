"""Compare backends on the same QAMA problems: quality, time to solution, masks.

:func:`compare` runs every problem of a batch on every backend (through
:func:`qama_compile.solve`, so every energy is recomputed from the IR and, with a
``target``, samples are decoded from the physical problem). One row per (problem, backend):

========================  ==================================================================
``best_energy``           lowest logical energy among the reads
``mean_energy``           mean over all reads (weighted by ``num_occurrences``)
``reference_energy``      exact ground energy (enumerated when the problem has at most
                          ``exact_max_variables`` variables), else the best energy any
                          backend found (``reference`` says which)
``residual``              ``best_energy - reference_energy`` (>= 0 with an exact reference)
``p_ground``              fraction of reads at the reference energy
``tts99_s``               time to solution at 99%: ``t_run * ln(0.01) / ln(1 - p_ground)``
                          with ``t_run`` = wall time / reads (one run when p >= 0.99);
                          ``inf`` when ``p_ground = 0``
``wall_time_s``           wall time of the backend call (sampling only, not compilation)
``hardware_time_s``       emulated or real device time when the backend reports it
``chain_break_fraction``  mean fraction of broken chains (with a ``target`` only)
``mask_mae``              mean ``|w - w_best|`` of the token weights against the reference
                          solution's weights
``hard_mask_agreement``   fraction of (head, token) where ``w > 0`` agrees with the reference
``attention_corr``        Pearson correlation of the mask ``w_i w_j`` with the model's softmax
                          attention, averaged over heads (``nan`` when the mask is constant)
========================  ==================================================================

A backend that is unavailable or fails (any :class:`QamaError`: not installed, no
credentials, problem too large) becomes a row with ``status="failed"`` and the ``reason``;
the others still run.

Before it runs anything, :func:`compare` asks each backend for an estimate of its time
(:func:`qama_compile.runtime.sampling.estimate_time_s`: the backend's cost model with a
constant measured on this machine, :mod:`qama_backends.cost`); a backend whose estimate is
over ``time_limit`` becomes a row with ``status="skipped"`` and the estimate as its reason.
The default backends (:data:`DEFAULT_BACKENDS`) are the local ones that finish on small
problems; ``qaoa`` (a statevector simulation) and ``dwave`` (a QPU) run only when named.
``num_reads=None`` gives every backend its own documented default
(:func:`qama_compile.runtime.sampling.default_num_reads`).

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> res = compare(problem, backends=("exact", "sa", "nosuch"), num_reads=20, progress=False)
>>> [(r["backend"], r["status"]) for r in res.rows]
[('exact', 'ok'), ('sa', 'ok'), ('nosuch', 'failed')]
>>> res.rows[1]["residual"], res.rows[1]["reference"]
(0.0, 'exact')
>>> compare(problem, backends=("sa",), time_limit=1e-9, progress=False).rows[0]["status"]
'skipped'
"""

from __future__ import annotations

import csv
import io
import math
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_text
from ..base.jsonutil import dumps_json
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, QamaError
from ..passes.reduce import ground_state_triviality
from ..runtime.executor import TaskOutcome, run_tasks
from ..runtime.registry import get_backend
from ..runtime.sampling import accepts_progress, default_num_reads, estimate_time_s
from ..runtime.solve import solve
from .tables import format_table

__all__ = [
    "COLUMNS",
    "DEFAULT_BACKENDS",
    "DEFAULT_TIME_LIMIT_S",
    "TABLE_COLUMNS",
    "WIDE_COLUMNS",
    "CompareResult",
    "attention_correlation",
    "compare",
    "tts99",
]

#: Every field of a row, in order (the CSV header).
COLUMNS = (
    "problem",
    "backend",
    "status",
    "reads",
    "best_energy",
    "mean_energy",
    "reference_energy",
    "reference",
    "residual",
    "p_ground",
    "tts99_s",
    "wall_time_s",
    "hardware_time_s",
    "chain_break_fraction",
    "mask_mae",
    "hard_mask_agreement",
    "attention_corr",
    "reason",
)
#: The columns :meth:`CompareResult.table` prints by default (fits in 100 characters);
#: reasons are printed under the table, each with its fix.
TABLE_COLUMNS = (
    "problem",
    "backend",
    "status",
    "reads",
    "best_energy",
    "residual",
    "p_ground",
    "tts99_s",
    "wall_time_s",
    "mask_mae",
)
#: ``table(wide=True)``: every column but the reason (still printed under the table).
WIDE_COLUMNS = tuple(c for c in COLUMNS if c != "reason")
_HARDWARE_KEYS = ("hardware_time_s", "emulated_hardware_time_s", "emulated_time_s", "qpu_time_s")
#: Backends compared when none are named: local, and quick on small problems. ``qaoa`` and
#: ``dwave`` run only when asked for.
DEFAULT_BACKENDS = ("exact", "cim", "sa", "tabu", "steepest")
#: Default ``time_limit``: a backend estimated to take longer is skipped (a row says why).
DEFAULT_TIME_LIMIT_S = 180.0
_DETERMINISTIC_ONE_READ = ("exact",)  # these return the k lowest states: one read is the ground state
_TICK_S = 0.5


def tts99(t_run: float, p: float, *, target: float = 0.99) -> float:
    """Time to reach the ground state with probability ``target``: ``t_run * ln(1-target) / ln(1-p)``.

    At least one run; ``inf`` when ``p == 0``.

    >>> tts99(1.0, 0.5) == math.log(0.01) / math.log(0.5)
    True
    >>> tts99(2.0, 1.0), tts99(2.0, 0.0)
    (2.0, inf)
    """
    if p <= 0:
        return math.inf
    if p >= target:
        return t_run
    return t_run * math.log(1 - target) / math.log(1 - p)


def attention_correlation(weights: NDArray[np.float64], attention: NDArray[np.float64]) -> float:
    """Pearson correlation of ``w_i w_j`` with ``attention[t]`` per head, averaged over heads.

    ``weights`` is ``[H, N]``, ``attention`` ``[H, N, N]``. Heads whose mask or attention is
    constant have no correlation and are skipped; ``nan`` if all are.

    >>> w = np.array([[1.0, 0.0]])
    >>> round(attention_correlation(w, np.array([[[0.9, 0.1], [0.5, 0.5]]])), 6)  # == np.corrcoef
    0.816497
    """
    mask = (weights[:, :, None] * weights[:, None, :]).reshape(weights.shape[0], -1)
    att = np.asarray(attention, dtype=np.float64).reshape(weights.shape[0], -1)
    mc = mask - mask.mean(axis=1, keepdims=True)
    ac = att - att.mean(axis=1, keepdims=True)
    denom = np.sqrt((mc**2).sum(axis=1) * (ac**2).sum(axis=1))
    ok = denom > 1e-15
    if not ok.any():
        return math.nan
    return float(np.mean((mc * ac).sum(axis=1)[ok] / denom[ok]))


@dataclass
class CompareResult:
    """Rows (one per problem and backend) and the data behind the figure.

    Attributes:
        rows: dicts with the fields of :data:`COLUMNS`.
        energies: ``{backend: [per-problem energies of every read, expanded by occurrences]}``.
        weights: ``{backend: [H, N] weights of its best sample, per problem}`` (``None`` if failed).
        reference_weights: the reference solution's weights per problem.
        attention: the model's softmax attention ``[B, H, N, N]``.
        info: options of the run.
    """

    rows: list[dict[str, Any]]
    energies: dict[str, list[NDArray[np.float64] | None]] = field(default_factory=dict)
    weights: dict[str, list[NDArray[np.float64] | None]] = field(default_factory=dict)
    reference_weights: list[NDArray[np.float64] | None] = field(default_factory=list)
    reference_energies: list[float] = field(default_factory=list)
    attention: NDArray[np.float64] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def table(
        self, *, wide: bool = False, columns: Sequence[str] | None = None, digits: int = 4, width: int = 100
    ) -> str:
        """The rows as an aligned text table, then every reason in full (wrapped to ``width``).

        ``wide`` shows :data:`WIDE_COLUMNS`, else :data:`TABLE_COLUMNS`; ``columns`` picks
        your own. A failed or skipped row's reason is printed under the table, its
        ``fix:`` on a line of its own, so nothing is cut.
        """
        cols = list(columns if columns is not None else WIDE_COLUMNS if wide else TABLE_COLUMNS)
        out = [format_table(self.rows, columns=[c for c in cols if c != "reason"], digits=digits)]
        for r in self.rows:
            reason = r.get("reason")
            if not reason:
                continue
            what, _, fix = str(reason).partition("; fix: ")
            head = f"problem {r['problem']} {r['backend']} ({r['status']}): "
            out.append(textwrap.fill(head + what, width=width, subsequent_indent="    "))
            if fix:
                out.append(textwrap.fill("fix: " + fix, width=width, initial_indent="    ", subsequent_indent="    "))
        note = self.info.get("note")
        if note:
            out.append(textwrap.fill("note: " + str(note), width=width, subsequent_indent="    "))
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"format": "qama-compile/compare", "version": 1, "info": self.info, "rows": self.rows}

    def to_json(self, path: str | Path) -> Path:
        """Write the rows and run options as strict JSON (``inf``/``nan`` as strings), atomically."""
        atomic_write_text(path, dumps_json(self.to_dict()) + "\n")
        return Path(path)

    def to_csv(self, path: str | Path) -> Path:
        """Write the rows as CSV with the header :data:`COLUMNS`, atomically."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
        atomic_write_text(path, buf.getvalue())
        return Path(path)

    def plot(self, path: str | Path, *, problem: int = 0, tokens: Sequence[str] | None = None) -> list[Path]:
        """PNG figures for ``problem``: energy distributions per backend at ``path``, and the
        reference solution's masks per head beside the softmax attention at
        ``<stem>_masks.png``. Returns the paths written.
        """
        from .plotting import plot_energy_distributions, plot_masks

        path = Path(path)
        energies: dict[str, NDArray[np.float64]] = {}
        for name, per_problem in self.energies.items():
            e = per_problem[problem]
            if e is not None and e.size:
                energies[name] = e
        written = []
        ref = self.reference_energies[problem] if self.reference_energies else None
        exact = any(r["problem"] == problem and r["reference"] == "exact" for r in self.rows)
        if energies:
            written.append(
                plot_energy_distributions(
                    energies,
                    path,
                    ground_energy=ref if exact else None,
                    title=f"Energies of all reads per backend (problem {problem})",
                )
            )
        w = self.reference_weights[problem] if self.reference_weights else None
        if w is not None and self.attention is not None:
            n = w.shape[1]
            labels = list(tokens) if tokens is not None else [f"t{i}" for i in range(n)]
            src = self.info.get("reference_source", [None] * (problem + 1))[problem]
            written.append(
                plot_masks(
                    w,
                    self.attention[problem],
                    labels,
                    path.with_name(path.stem + "_masks" + (path.suffix or ".png")),
                    title=f"QAMA mask of the best solution ({src}) vs softmax attention, problem {problem}",
                )
            )
        return written


def _residual(best: float, ref: float, tol: float) -> float:
    """``best - ref``, with float noise (degenerate states summed in another order) as 0."""
    diff = best - ref
    return 0.0 if abs(diff) <= tol else diff


def _failed_row(b: int, name: str, reason: str, status: str = "failed") -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({"problem": b, "backend": name, "status": status, "reason": reason})
    return row


def _skip_reason(name: str, estimate: float, limit: float) -> str:
    shown = f"{estimate / 60:.3g} min" if estimate >= 120 else f"{estimate:.3g} s"
    return (
        f"SkippedError: estimated {shown} > time limit {limit:g} s (cost model of {name}, calibrated on this "
        f"machine); fix: raise the time limit (time_limit=, CLI --time-limit) above the estimate if you mean it, "
        f"use fewer reads, or a smaller problem (fewer tokens, heads or bits)"
    )


def _hardware_time(backend_info: Sequence[Mapping[str, Any]]) -> float | None:
    for info in backend_info:
        for key in _HARDWARE_KEYS:
            value = info.get(key)
            if value is not None:
                return float(value)
    return None


def _compare_job(args: tuple[AttentionProblem, Any, dict[str, Any], int | None, int, Any, Any]) -> Any:
    """One (problem, backend) run on a Dask worker, where a named backend is built."""
    single, backend, options, reads, seed, target, compile_options = args
    return solve(
        single,
        backend=backend,
        backend_options=options or None,
        num_reads=reads,
        seed=seed,
        target=target,
        compile_options=compile_options,
        check_trivial=False,
    )


def compare(
    problem: AttentionProblem,
    *,
    backends: Sequence[str] | None = None,
    target: Any = None,
    num_reads: int | None = None,
    seed: int = 0,
    progress: bool = True,
    backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    exact_max_variables: int = 24,
    client: Any = None,
    compile_options: Mapping[str, Any] | None = None,
    time_limit: float | None = DEFAULT_TIME_LIMIT_S,
    on_estimates: Callable[[dict[str, float | None]], None] | None = None,
) -> CompareResult:
    """Run every problem of ``problem`` on every backend and tabulate the results.

    Args:
        problem: a batch of QAMA problems (:func:`qama_compile.lower_attention`).
        backends: registered backend names, in row order (default :data:`DEFAULT_BACKENDS`).
        target: compile for this hardware target first (see :func:`qama_compile.solve`).
        num_reads: reads (shots) per problem; ``None``: each backend's default
            (:func:`~qama_compile.runtime.sampling.default_num_reads`); ``exact`` always
            returns one (its ground state).
        seed: every backend gets ``seed + b`` on problem ``b`` (and the compiler gets it too).
        progress: show a tqdm bar over problems x backends (on stderr), with the progress
            inside a backend run (states, round trips or optimizer evaluations where the
            backend reports them, else the elapsed time against its estimate).
        backend_options: constructor options per backend name, e.g. ``{"qaoa": {"reps": 1}}``.
        exact_max_variables: enumerate the exact reference up to this many variables even when
            ``exact`` is not among ``backends``.
        client: a ``distributed.Client``; every (problem, backend) run becomes a task on the
            cluster (resubmitted if its worker dies: :mod:`qama_compile.runtime.executor`).
            Same seeds, so the table equals the serial one.
        compile_options: options of :func:`qama_compile.compile` for the ``target``
            (e.g. ``{"chain_strength": 2.0}``; see :func:`sweep_chain_strength`).
        time_limit: seconds; a backend whose estimated time for the whole batch (on the
            logical problem) is larger is skipped with a row saying so. ``None``: no limit.
        on_estimates: called with ``{backend: estimated seconds or None}`` before any run.
    """
    if not isinstance(problem, AttentionProblem):
        raise InvalidInputError(
            f"compare() takes an AttentionProblem, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    names = list(DEFAULT_BACKENDS) if backends is None else [backends] if isinstance(backends, str) else list(backends)
    if not names:
        raise InvalidInputError("no backends to compare", fix="pass e.g. backends=('exact', 'sa')")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"backend listed twice in {names}", fix="list each backend once")
    if num_reads is not None and (
        isinstance(num_reads, bool) or not isinstance(num_reads, (int, np.integer)) or num_reads < 1
    ):
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise InvalidInputError(
            f"time_limit must be a positive number of seconds, got {time_limit!r}", fix="pass e.g. time_limit=180"
        )
    options = {k: dict(v) for k, v in (backend_options or {}).items()}
    bsz = problem.batch_size
    samplers: dict[str, Any] = {}
    setup_errors: dict[str, str] = {}
    for name in names:
        try:
            samplers[name] = get_backend(name, **options.get(name, {}))
        except QamaError as exc:
            setup_errors[name] = f"{type(exc).__name__}: {exc}"
        except TypeError as exc:  # an option the backend's constructor does not take
            setup_errors[name] = f"bad options {options.get(name)} for backend {name!r}: {exc}"
    reads_of: dict[str, int | None] = {
        name: 1 if name in _DETERMINISTIC_ONE_READ else num_reads or default_num_reads(sampler)
        for name, sampler in samplers.items()
    }
    estimates: dict[str, float | None] = {}
    for name, sampler in samplers.items():
        try:
            estimates[name] = estimate_time_s(sampler, problem.ir, num_reads=reads_of[name])
        except QamaError:
            estimates[name] = None
    if on_estimates is not None:
        on_estimates(dict(estimates))
    for name, est in estimates.items():
        if est is not None and time_limit is not None and math.isfinite(est) and est > time_limit:
            setup_errors[name] = _skip_reason(name, est, float(time_limit))

    results: dict[tuple[int, str], Any] = {}
    errors: dict[tuple[int, str], str] = {}
    keys: list[tuple[int, str]] = []
    jobs: list[tuple[AttentionProblem, Any, dict[str, Any], int | None, int, Any, Any]] = []
    for b in range(bsz):
        single = problem.select([b])
        for name in names:
            if name in setup_errors:
                errors[b, name] = setup_errors[name]
                continue
            keys.append((b, name))
            jobs.append((single, name, options.get(name, {}), reads_of[name], seed + b, target, compile_options))
    bar = _progress(len(jobs), enabled=progress)

    def done(outcome: TaskOutcome[Any]) -> None:
        key = keys[outcome.index]
        if outcome.error is None:
            results[key] = outcome.value
        else:
            errors[key] = f"{outcome.error[0]}: {outcome.error[1]}"
        bar.update(1)

    def here(i: int) -> Any:
        """Job ``i`` in this process: the sampler built above, with progress inside the run."""
        single, name, _, reads, job_seed, _, _ = jobs[i]
        bar.set_description(f"problem {keys[i][0]} {name}")
        sampler, est = samplers[name], estimates.get(name)
        with _inner_progress(bar, None if est is None else est / bsz, enabled=progress) as report:
            extra: dict[str, Any] = {"progress": report} if progress and _accepts(sampler) else {}
            return solve(
                single,
                backend=sampler,
                num_reads=reads,
                seed=job_seed,
                target=target,
                compile_options=compile_options,
                check_trivial=False,
                **extra,
            )

    try:
        if client is None:
            run_tasks(here, range(len(jobs)), on_done=done)
        else:
            run_tasks(_compare_job, jobs, client=client, on_done=done)
    finally:
        bar.close()

    # references: exact ground energy where we have or can afford it, else the best known
    rows: list[dict[str, Any]] = []
    energies: dict[str, list[NDArray[np.float64] | None]] = {name: [] for name in names}
    weights: dict[str, list[NDArray[np.float64] | None]] = {name: [] for name in names}
    ref_weights: list[NDArray[np.float64] | None] = []
    ref_energies: list[float] = []
    ref_sources: list[str | None] = []
    for b in range(bsz):
        single = problem.select([b])
        ref_e, ref_w, ref_kind, ref_src = _reference(
            single, b, names, results, exact_max_variables, logical_exact_row=target is None
        )
        ref_energies.append(ref_e)
        ref_weights.append(ref_w)
        ref_sources.append(ref_src)
        tol = 1e-9 * max(1.0, abs(ref_e)) if math.isfinite(ref_e) else 0.0
        for name in names:
            if (b, name) not in results:
                reason = errors[b, name]
                status = "skipped" if reason.startswith("SkippedError") else "failed"
                rows.append(_failed_row(b, name, reason.removeprefix("SkippedError: "), status))
                energies[name].append(None)
                weights[name].append(None)
                continue
            res = results[b, name]
            e = np.asarray(res.read_energies[0], dtype=np.float64)
            counts = np.asarray(res.read_counts[0], dtype=np.float64)
            total = float(counts.sum())
            p = float(counts[e <= ref_e + tol].sum() / total) if total else 0.0
            wall = float(res.info.wall_time_s[0])
            w = res.weights[0]
            cbf = res.info.chain_break_fraction or None
            rows.append(
                {
                    "problem": b,
                    "backend": name,
                    "status": "ok",
                    "reads": int(total),
                    "best_energy": float(res.energies[0]),
                    "mean_energy": float((e * counts).sum() / total),
                    "reference_energy": ref_e,
                    "reference": ref_kind,
                    "residual": _residual(float(res.energies[0]), ref_e, tol),
                    "p_ground": p,
                    "tts99_s": tts99(wall / max(total, 1.0), p),
                    "wall_time_s": wall,
                    "hardware_time_s": _hardware_time(res.info.backend_info),
                    "chain_break_fraction": None if cbf is None else float(cbf[0]),
                    "mask_mae": None if ref_w is None else float(np.abs(w - ref_w).mean()),
                    "hard_mask_agreement": None if ref_w is None else float(((w > 0) == (ref_w > 0)).mean()),
                    "attention_corr": attention_correlation(w, single.attention[0]),
                    "reason": None,
                }
            )
            energies[name].append(np.repeat(e, counts.astype(np.int64)))
            weights[name].append(w)
    triviality = ground_state_triviality(problem.ir)
    info = {
        "backends": names,
        "target": None if target is None else str(getattr(target, "name", target)),
        "compile_options": dict(compile_options or {}),
        "num_reads": None if num_reads is None else int(num_reads),
        "reads_per_backend": {name: reads_of.get(name) for name in names},
        "seed": int(seed),
        "batch_size": bsz,
        "shape": list(problem.shape),
        "variables": problem.ir.num_variables,
        "reference_source": ref_sources,
        "time_limit_s": time_limit,
        "estimated_time_s": estimates,
        "trivial": list(triviality.trivial) if triviality.checked else None,
        "note": _trivial_note(triviality.message(), problem.normalize),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return CompareResult(
        rows=rows,
        energies=energies,
        weights=weights,
        reference_weights=ref_weights,
        reference_energies=ref_energies,
        attention=problem.attention,
        info=info,
    )


def _trivial_note(message: str | None, normalize: str) -> str | None:
    if message is None:
        return None
    if normalize == "none":
        message += "; normalize='none' makes every within-head coupling ferromagnetic: try normalize='standardise'"
    return message + "; every backend that finds it scores p_ground 1"


def _accepts(sampler: Any) -> bool:

    return accepts_progress(sampler)


def _reference(
    single: AttentionProblem,
    b: int,
    names: list[str],
    results: dict[tuple[int, str], Any],
    exact_max: int,
    *,
    logical_exact_row: bool,
) -> tuple[float, NDArray[np.float64] | None, str, str | None]:
    """(energy, weights, 'exact' | 'best known' | 'none', source) of problem ``b``'s reference.

    With a target the ``exact`` row solved the compiled (embedded, quantized) problem, whose
    decoded ground state need not be the logical one: the reference is then enumerated on
    the logical problem.
    """
    if logical_exact_row and (b, "exact") in results:
        res = results[b, "exact"]
        return float(res.energies[0]), res.weights[0], "exact", "exact"
    if single.ir.num_variables <= exact_max:
        try:
            res = solve(
                single,
                backend="exact",
                num_reads=1,
                backend_options={"max_variables": max(exact_max, single.ir.num_variables)},
            )
            return float(res.energies[0]), res.weights[0], "exact", "exact (reference)"
        except QamaError:
            pass
    best = [(float(results[b, n].energies[0]), n) for n in names if (b, n) in results]
    if not best:
        return math.nan, None, "none", None
    energy, name = min(best)
    return energy, results[b, name].weights[0], "best known", name


class _NoBar:
    def set_description(self, text: str) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def _inner_progress(bar: Any, estimate_s: float | None, *, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """Progress inside one backend run, on the bar's postfix: the backend's own ``(done, total)``
    when it reports it, and the elapsed time against the estimate (a ticker thread)."""
    state: dict[str, Any] = {"done": None, "start": time.perf_counter()}
    lock = threading.Lock()

    def show() -> None:
        elapsed = time.perf_counter() - state["start"]
        parts = []
        if state["done"] is not None:
            done, total = state["done"]
            parts.append(f"{100 * done / max(total, 1):.0f}% ({done}/{total})")
        parts.append(f"{elapsed:.0f} s" + ("" if estimate_s is None else f" of ~{estimate_s:.2g} s"))
        bar.set_postfix_str(", ".join(parts), refresh=True)

    def report(done: int, total: int) -> None:
        with lock:
            state["done"] = (int(done), int(total))
            show()

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(_TICK_S):
            with lock:
                show()

    ticker = threading.Thread(target=tick, daemon=True) if enabled else None
    if ticker is not None:
        ticker.start()
    try:
        yield report
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        bar.set_postfix_str("", refresh=False)


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from ..base.optional import optional_import

    tqdm = optional_import("tqdm", purpose="the progress bar").tqdm
    return tqdm(total=total, unit="run", file=sys.stderr, leave=False, dynamic_ncols=True)

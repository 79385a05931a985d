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

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
>>> res = compare(problem, backends=("exact", "sa", "nosuch"), num_reads=20, progress=False)
>>> [(r["backend"], r["status"]) for r in res.rows]
[('exact', 'ok'), ('sa', 'ok'), ('nosuch', 'failed')]
>>> res.rows[1]["residual"], res.rows[1]["reference"]
(0.0, 'exact')
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_text
from ..base.jsonutil import dumps_json
from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, QamaError
from ..runtime.executor import TaskOutcome, run_tasks
from ..runtime.registry import get_backend
from ..runtime.solve import solve
from .tables import format_table

__all__ = ["COLUMNS", "TABLE_COLUMNS", "CompareResult", "attention_correlation", "compare", "tts99"]

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
#: The columns :meth:`CompareResult.table` prints by default.
TABLE_COLUMNS = tuple(c for c in COLUMNS if c not in ("reads", "reference_energy", "reference"))
_HARDWARE_KEYS = ("hardware_time_s", "emulated_hardware_time_s", "emulated_time_s", "qpu_time_s")
DEFAULT_BACKENDS = ("exact", "cim", "sa", "qaoa")
_DETERMINISTIC_ONE_READ = ("exact",)  # these return the k lowest states: one read is the ground state


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

    def table(self, *, columns: Sequence[str] = TABLE_COLUMNS, digits: int = 5, reason_width: int = 90) -> str:
        """The rows as an aligned text table (reasons cut to ``reason_width`` characters)."""
        rows = [
            {**r, "reason": r["reason"][: reason_width - 3] + "..."}
            if isinstance(r.get("reason"), str) and len(r["reason"]) > reason_width
            else r
            for r in self.rows
        ]
        return format_table(rows, columns=list(columns), digits=digits)

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


def _failed_row(b: int, name: str, reason: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({"problem": b, "backend": name, "status": "failed", "reason": reason})
    return row


def _hardware_time(backend_info: Sequence[Mapping[str, Any]]) -> float | None:
    for info in backend_info:
        for key in _HARDWARE_KEYS:
            value = info.get(key)
            if value is not None:
                return float(value)
    return None


def _compare_job(args: tuple[AttentionProblem, Any, dict[str, Any], int, int, Any, Any]) -> Any:
    """One (problem, backend) run: here, or on a Dask worker (where a named backend is built)."""
    single, backend, options, reads, seed, target, compile_options = args
    return solve(
        single,
        backend=backend,
        backend_options=options or None,
        num_reads=reads,
        seed=seed,
        target=target,
        compile_options=compile_options,
    )


def compare(
    problem: AttentionProblem,
    *,
    backends: Sequence[str] = DEFAULT_BACKENDS,
    target: Any = None,
    num_reads: int = 100,
    seed: int = 0,
    progress: bool = True,
    backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    exact_max_variables: int = 24,
    client: Any = None,
    compile_options: Mapping[str, Any] | None = None,
) -> CompareResult:
    """Run every problem of ``problem`` on every backend and tabulate the results.

    Args:
        problem: a batch of QAMA problems (:func:`qama_compile.lower_attention`).
        backends: registered backend names, in row order.
        target: compile for this hardware target first (see :func:`qama_compile.solve`).
        num_reads: reads (shots) per problem; ``exact`` always returns one (its ground state).
        seed: every backend gets ``seed + b`` on problem ``b`` (and the compiler gets it too).
        progress: show a tqdm bar over problems x backends (on stderr).
        backend_options: constructor options per backend name, e.g. ``{"qaoa": {"reps": 1}}``.
        exact_max_variables: enumerate the exact reference up to this many variables even when
            ``exact`` is not among ``backends``.
        client: a ``distributed.Client``; every (problem, backend) run becomes a task on the
            cluster (resubmitted if its worker dies: :mod:`qama_compile.runtime.executor`).
            Same seeds, so the table equals the serial one.
        compile_options: options of :func:`qama_compile.compile` for the ``target``
            (e.g. ``{"chain_strength": 2.0}``; see :func:`sweep_chain_strength`).
    """
    if not isinstance(problem, AttentionProblem):
        raise InvalidInputError(
            f"compare() takes an AttentionProblem, got {type(problem).__name__}",
            fix="build one with qama_compile.lower_attention(q, k, v)",
        )
    names = [backends] if isinstance(backends, str) else list(backends)
    if not names:
        raise InvalidInputError("no backends to compare", fix="pass e.g. backends=('exact', 'sa')")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"backend listed twice in {names}", fix="list each backend once")
    if isinstance(num_reads, bool) or not isinstance(num_reads, (int, np.integer)) or num_reads < 1:
        raise InvalidInputError(f"num_reads must be a positive integer, got {num_reads!r}", fix="pass num_reads >= 1")
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

    results: dict[tuple[int, str], Any] = {}
    errors: dict[tuple[int, str], str] = {}
    keys: list[tuple[int, str]] = []
    jobs: list[tuple[AttentionProblem, Any, dict[str, Any], int, int, Any, Any]] = []
    for b in range(bsz):
        single = problem.select([b])
        for name in names:
            if name in setup_errors:
                errors[b, name] = setup_errors[name]
                continue
            reads = 1 if name in _DETERMINISTIC_ONE_READ else int(num_reads)
            # a cluster builds each backend on its worker; here the one built above is reused
            backend, opts = (name, options.get(name, {})) if client is not None else (samplers[name], {})
            keys.append((b, name))
            jobs.append((single, backend, opts, reads, seed + b, target, compile_options))
    bar = _progress(len(jobs), enabled=progress)

    def done(outcome: TaskOutcome[Any]) -> None:
        key = keys[outcome.index]
        bar.set_description(f"problem {key[0]} {key[1]}")
        if outcome.error is None:
            results[key] = outcome.value
        else:
            errors[key] = f"{outcome.error[0]}: {outcome.error[1]}"
        bar.update(1)

    try:
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
                rows.append(_failed_row(b, name, errors[b, name]))
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
    info = {
        "backends": names,
        "target": None if target is None else str(getattr(target, "name", target)),
        "compile_options": dict(compile_options or {}),
        "num_reads": int(num_reads),
        "seed": int(seed),
        "batch_size": bsz,
        "shape": list(problem.shape),
        "variables": problem.ir.num_variables,
        "reference_source": ref_sources,
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

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from ..base.optional import optional_import

    tqdm = optional_import("tqdm", purpose="the progress bar").tqdm
    return tqdm(total=total, unit="run", file=sys.stderr, leave=False, dynamic_ncols=True)

"""The embedded demo: a real MiniLM-L6 attention head problem, compiled, inspected and solved.

Steps (``qama demo`` and ``make demo`` run :func:`run_demo`):

1. load real Q, K, V from the shipped dataset (:mod:`qama_compile.datasets`): sentence 0
   ("The cat slept on the warm windowsill."), layer 0, heads 0 and 1, the six tokens after
   ``[CLS]``;
2. lower them with ``bits=2`` and ``normalize="standardise"`` (the paper's layer batch-
   normalises J and h; without it the raw value entropies, 3-8 bits, dominate and the
   ground state selects every token) to ``H*N*q = 2*6*2 = 24`` binary variables;
3. print the inspect facts (variables, couplers per head and for the head penalty,
   dynamic range of the Ising h and J);
4. solve exactly (``2^24`` states), then on every other available backend among
   ``cim`` and ``sa``; a backend that is missing or fails becomes a row with its reason;
5. print one table (backend, best energy, gap to exact, wall time, reads at the exact
   ground energy, selected tokens) and
   write ``masks.png`` (QAMA mask beside the model's softmax attention), ``energies.png``
   and ``demo.json`` to the output directory.

>>> rows = backend_rows(_tiny_problem(), ["exact", "no-such-backend"], seed=0, num_reads=4)
>>> [(r.backend, r.status, r.gap) for r in rows]
[('exact', 'ok', 0.0), ('no-such-backend', 'unavailable', None)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_text
from ..base.jsonutil import dumps_json
from ..core.hamiltonian import Normalize
from ..core.lowering import lower_attention
from ..core.problem import AttentionProblem, problem_summary
from ..datasets import ExampleTensors, dataset_info, load_example
from ..errors import QamaError
from ..runtime.registry import get_backend
from ..runtime.solve import solve
from .tables import format_table

#: Heuristic backends the demo tries after the exact one.
DEMO_BACKENDS: tuple[str, ...] = ("cim", "sa")
TABLE_COLUMNS = ("backend", "best energy", "gap to exact", "wall time [s]", "reads at ground", "selected tokens")


@dataclass(frozen=True)
class BackendRow:
    """One backend's outcome: ``status`` is ``ok``, ``unavailable`` or ``failed``."""

    backend: str
    status: str
    energy: float | None = None
    gap: float | None = None
    wall_time_s: float | None = None
    weights: NDArray[np.float64] | None = None  # [H, N] of the best sample
    read_energies: NDArray[np.float64] | None = None  # all reads
    reason: str = ""

    def as_dict(self, tokens: Sequence[str], ground: float | None = None) -> dict[str, Any]:
        """A JSON-friendly dict (energies summarised, weights and selection included)."""
        out: dict[str, Any] = {
            "backend": self.backend,
            "status": self.status,
            "energy": self.energy,
            "gap_to_exact": self.gap,
            "wall_time_s": self.wall_time_s,
            "reason": self.reason,
        }
        if self.weights is not None:
            out["weights"] = self.weights
            out["selected_tokens"] = selected_tokens(self.weights, tokens)
        if self.read_energies is not None:
            e = self.read_energies
            out["reads"] = {
                "count": int(e.size),
                "min": float(e.min()),
                "mean": float(e.mean()),
                "max": float(e.max()),
                "at_ground": _ground_hits(self, ground),
            }
        return out


def selected_tokens(weights: NDArray[np.float64], tokens: Sequence[str]) -> str:
    """``"h0: cat slept | h1: warm(0.33)"``: tokens with ``w > 0`` per head (weights shown if < 1).

    >>> selected_tokens(np.array([[1.0, 0.0], [1 / 3, 0.0]]), ["a", "b"])
    'h0: a | h1: a(0.33)'
    """
    parts = []
    for t, row in enumerate(np.asarray(weights)):
        picked = [tok if w >= 1 else f"{tok}({w:.2f})" for tok, w in zip(tokens, row, strict=True) if w > 0]
        parts.append(f"h{t}: {' '.join(picked) if picked else '-'}")
    return " | ".join(parts)


def run_backend(
    problem: AttentionProblem, name: str, *, seed: int, num_reads: int, ground: float | None = None
) -> BackendRow:
    """Solve problem 0 on backend ``name``; a QamaError becomes a row with the reason.

    The exact backend is the reference and is not guarded: its errors propagate.
    """
    try:
        sampler = get_backend(name)
    except QamaError as exc:
        if name == "exact":
            raise
        return BackendRow(name, "unavailable", reason=str(exc))
    t0 = time.perf_counter()
    try:
        result = solve(problem, backend=sampler, num_reads=1 if name == "exact" else num_reads, seed=seed)
    except QamaError as exc:
        if name == "exact":
            raise
        return BackendRow(name, "failed", wall_time_s=time.perf_counter() - t0, reason=str(exc))
    wall = time.perf_counter() - t0
    energy = float(result.energies[0])
    # solve() recomputed every read's energy from the IR (and checked what the backend reported)
    reads = np.repeat(result.read_energies[0], result.read_counts[0])
    gap = None
    if ground is not None:  # equal energies recomputed in different batch shapes differ by ~1e-15
        gap = energy - ground
        gap = 0.0 if abs(gap) <= 1e-9 * (1.0 + abs(ground)) else gap
    return BackendRow(
        name, "ok", energy=energy, gap=gap, wall_time_s=wall, weights=result.weights[0], read_energies=reads
    )


def backend_rows(
    problem: AttentionProblem,
    names: Sequence[str],
    *,
    seed: int = 0,
    num_reads: int = 100,
    echo: Callable[[str], None] | None = None,
) -> list[BackendRow]:
    """Rows for ``names`` (``"exact"`` first if listed; it sets the ground energy for gaps)."""
    ordered = sorted(names, key=lambda n: n != "exact")
    rows: list[BackendRow] = []
    ground: float | None = None
    for name in ordered:
        if echo:
            echo(f"      solving on {name!r} ...")
        row = run_backend(problem, name, seed=seed, num_reads=num_reads, ground=ground)
        if name == "exact" and row.energy is not None:
            ground = row.energy
            row = BackendRow(**{**row.__dict__, "gap": 0.0})
        if echo:
            echo(
                f"      {name}: {row.status}"
                + (
                    f", best energy {row.energy:.6g} in {row.wall_time_s:.2f} s"
                    if row.status == "ok"
                    else f" ({row.reason})"
                )
            )
        rows.append(row)
    return rows


def table(rows: Sequence[BackendRow], tokens: Sequence[str]) -> str:
    """The printed comparison table (one line per backend; reasons for missing ones)."""
    ground = next((r.energy for r in rows if r.backend == "exact" and r.energy is not None), None)
    cells = []
    for r in rows:
        if r.status == "ok":
            assert r.weights is not None
            cells.append(
                {
                    "backend": r.backend,
                    "best energy": r.energy,
                    "gap to exact": r.gap,
                    "wall time [s]": None if r.wall_time_s is None else round(r.wall_time_s, 3),
                    "reads at ground": _ground_hits(r, ground),
                    "selected tokens": selected_tokens(r.weights, tokens),
                }
            )
        else:
            reason = r.reason if len(r.reason) <= 70 else r.reason[:67] + "..."
            cells.append({"backend": r.backend, "reads at ground": r.status, "selected tokens": reason})
    text = format_table(cells, columns=TABLE_COLUMNS)
    notes = [f"  {r.backend}: {r.reason}" for r in rows if r.status != "ok" and len(r.reason) > 70]
    return text + ("\n\nfull reasons:\n" + "\n".join(notes) if notes else "")


def _ground_hits(row: BackendRow, ground: float | None) -> str | None:
    """``"k/n"``: reads whose energy is the exact ground energy (to 1e-9 relative)."""
    if ground is None or row.read_energies is None:
        return None
    hits = np.abs(row.read_energies - ground) <= 1e-9 * (1.0 + abs(ground))
    return f"{int(hits.sum())}/{hits.size}"


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` computed and wrote."""

    example: ExampleTensors
    problem: AttentionProblem
    summary: dict[str, Any]
    rows: list[BackendRow]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def run_demo(
    *,
    out_dir: str | Path = "demo-output",
    seed: int = 0,
    sentence: int = 0,
    layer: int = 0,
    heads: Sequence[int] = (0, 1),
    tokens: Sequence[int] = range(1, 7),
    bits: int = 2,
    normalize: Normalize = "standardise",
    backends: Sequence[str] = DEMO_BACKENDS,
    num_reads: int = 100,
    plots: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo end to end (see the module docstring); returns what it computed."""
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # the demo's own output directory (outputs never create directories)
    echo("[1/5] load: real attention tensors from the shipped MiniLM-L6 dataset")
    ex = load_example(sentence=sentence, layer=layer, heads=list(heads), tokens=list(tokens))
    info = dataset_info()
    echo(f"      {ex.describe()}")
    echo(f"      q, k, v: [H, N, d] = {list(ex.shape)} (model {info['model']}, {info['license']})")

    echo(f"[2/5] lower: bits={bits}, alpha=1, beta=1, penalty=2, normalize={normalize!r}")
    problem = lower_attention(ex.q, ex.k, ex.v, bits=bits, normalize=normalize)

    echo("[3/5] inspect:")
    summary = problem_summary(problem)
    for line in _facts(summary):
        echo(f"      {line}")

    names = ["exact", *[b for b in backends if b != "exact"]]
    echo(
        f"[4/5] solve: exact enumeration of 2^{summary['variables']} states, then {', '.join(names[1:]) or 'nothing'}"
        f" (seed {seed}, {num_reads} reads)"
    )
    rows = backend_rows(problem, names, seed=seed, num_reads=num_reads, echo=echo)

    echo(f"[5/5] write: {out}/")
    files = _write_outputs(out, ex, problem, summary, rows, seed=seed, plots=plots)
    for path in files.values():
        echo(f"      wrote {path}")
    seconds = time.perf_counter() - t_start
    echo("")
    echo(table(rows, ex.tokens))
    echo("")
    echo(f"demo finished in {seconds:.1f} s")
    return DemoResult(example=ex, problem=problem, summary=summary, rows=rows, files=files, seconds=seconds)


def _facts(s: dict[str, Any]) -> list[str]:
    return [
        f"variables       {s['variables']:>5}   = {s['variables_formula']}",
        f"couplers/head   {s['couplers_per_head']:>5}   = (Nq)(Nq-1)/2, dense per head",
        f"penalty         {s['penalty_couplers']:>5}   = H(H-1)/2 * N*q, head-overlap penalty",
        f"couplers total  {s['couplers_total']:>5}   = {s['couplers_formula']} (density {s['density']:.3f})",
        f"Ising |h|       {s['h_min_abs']:.4g} .. {s['h_max_abs']:.4g}  (dynamic range {s['h_range_ratio']:.4g})",
        f"Ising |J|       {s['J_min_abs']:.4g} .. {s['J_max_abs']:.4g}  (dynamic range {s['J_range_ratio']:.4g})",
    ]


def _write_outputs(
    out: Path,
    ex: ExampleTensors,
    problem: AttentionProblem,
    summary: dict[str, Any],
    rows: list[BackendRow],
    *,
    seed: int,
    plots: bool,
) -> dict[str, Path]:
    files: dict[str, Path] = {}
    exact = rows[0]
    if plots:
        from .plotting import plot_energy_distributions, plot_masks

        assert exact.weights is not None
        files["masks_png"] = plot_masks(
            exact.weights,
            ex.attention,
            ex.tokens,
            out / "masks.png",
            title=f"QAMA exact ground state vs model attention: {ex.describe()}",
            head_labels=[f"head {h}" for h in ex.heads],
            right_label="MiniLM softmax attention"
            if len(ex.tokens) == _num_tokens(ex)
            else "MiniLM softmax attention\n(rows are over the whole sentence)",
        )
        reads = {r.backend: r.read_energies for r in rows[1:] if r.status == "ok" and r.read_energies is not None}
        if reads:
            files["energies_png"] = plot_energy_distributions(
                reads,
                out / "energies.png",
                ground_energy=exact.energy,
                title=f"Read energies, {summary['variables']}-variable MiniLM problem",
            )
    record = {
        "example": {
            "sentence": ex.sentence,
            "sentence_index": ex.sentence_index,
            "layer": ex.layer,
            "heads": ex.heads,
            "token_indices": ex.token_indices,
            "tokens": ex.tokens,
            "dataset": dataset_info(),
        },
        "lowering": {
            "bits": problem.bits,
            "alpha": problem.alpha,
            "beta": problem.beta,
            "penalty": problem.penalty,
            "normalize": problem.normalize,
        },
        "summary": summary,
        "seed": seed,
        "backends": [r.as_dict(ex.tokens, exact.energy) for r in rows],
        "model_attention": ex.attention,
        "files": {k: v.name for k, v in files.items()},
    }
    files["json"] = out / "demo.json"
    atomic_write_text(files["json"], dumps_json(record) + "\n")
    return files


def _num_tokens(ex: ExampleTensors) -> int:
    from ..datasets import list_examples

    return int(list_examples()[ex.sentence_index]["num_tokens"])


def _tiny_problem() -> AttentionProblem:
    """A 4-variable real problem (for doctests)."""
    ex = load_example(heads=[0], tokens=[1, 2], layer=0)
    return lower_attention(ex.q, ex.k, ex.v, bits=2, normalize="standardise")

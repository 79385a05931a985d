"""experiments/: the doctests of its modules, and ``python -m experiments.run_all --quick`` end to end.

The quick run checks that the pipeline works (every arm of both tasks trains, is tested and
summarised; the sparsity study and the figures are written), not its numbers.
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["protocol", "tasks", "sparsity"])
def test_doctests(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    mod = importlib.import_module(f"experiments.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_paired_gap_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    from scipy import stats

    from experiments.protocol import paired_gap

    a = [0.91, 0.88, 0.93, 0.90, 0.87, 0.92, 0.89, 0.94, 0.90, 0.91]
    b = [0.89, 0.88, 0.90, 0.91, 0.85, 0.90, 0.88, 0.90, 0.89, 0.88]
    g = paired_gap(a, b)
    d = [100 * (x - y) for x, y in zip(a, b, strict=True)]
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)  # scipy's own interval (of the raw difference)
    assert g["mean"] == pytest.approx(sum(d) / len(d))
    assert g["t_ci95"] == pytest.approx([100 * ci.low, 100 * ci.high])
    assert g["p_paired_t"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    lo, hi = g["bootstrap_ci95"]
    assert lo < g["mean"] < hi and g["bootstrap_method"] == "BCa"
    same = paired_gap([0.5, 0.6], [0.4, 0.5])
    assert same["t_ci95"] == pytest.approx([10.0, 10.0]) and same["bootstrap_ci95"] == pytest.approx([10.0, 10.0])


@pytest.mark.slow
def test_quick_run_writes_every_arm_of_both_tasks(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run_all", "--quick", "--out-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from_arms = {"softmax", "bag", "qama-cim", "qama-sa", "qama-exact", "all-selected", "random"}
    for task in ("digits", "recall"):
        doc = json.loads((tmp_path / f"{task}.json").read_text())
        assert set(doc["arms"]) == from_arms
        seeds = doc["protocol"]["seeds"]
        for arm, entry in doc["arms"].items():
            assert len(entry["per_seed_test_accuracy"]) == len(seeds) == 2
            assert [r["seed"] for r in entry["runs"]] == seeds
            assert all(0.0 <= a <= 1.0 for a in entry["per_seed_test_accuracy"])
            if arm not in ("softmax", "bag"):
                assert 0.0 <= entry["selection"]["test_bit_density"] <= 1.0
                assert entry["selection"]["test_mean_energy_gap"] >= -1e-9
        random_runs, cim_runs = doc["arms"]["random"]["runs"], doc["arms"]["qama-cim"]["runs"]
        assert [r["matched_density"] for r in random_runs] == [r["train_bit_density"] for r in cim_runs]
        assert doc["arms"]["all-selected"]["selection"]["test_bit_density"] == 1.0
        assert doc["arms"]["qama-exact"]["selection"]["test_at_ground_fraction"] == 1.0
        assert {(c["a"], c["b"]) for c in doc["comparisons"]} >= {("softmax", "qama-cim"), ("softmax", "bag")}
        assert doc["provenance"]["git_commit"] and doc["run"]["wall_time_s"] > 0
        assert doc["protocol"]["quick"] is True
    sparsity = json.loads((tmp_path / "minilm_sparsity.json").read_text())
    assert {r["penalty"] for r in sparsity["rows"]} == {0.0, 2.0, 66.0}
    cost = json.loads((tmp_path / "solver_cost.json").read_text())
    assert cost["qama-cim"]["forward_cpu_s"] > 0
    for name in ("experiments_accuracy.png", "minilm_sparsity.png", "minilm_sparsity_summary.png"):
        assert (tmp_path / name).stat().st_size > 1000

"""``qama inspect``: the summary table, --json, and the --target/--sweep delegation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qama_compile.cli.main import main
from qama_compile.core.problem import AttentionProblem
from qama_compile.tools import target_report


def test_table_counts(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", "--random", "2,3,4,8", "--seed", "1", "--bits", "2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:] if line.strip()}
    # H=3, N=4, q=2: V = 24; per head (8*7)/2 = 28; penalty 3*8 = 24; total 3*28 + 24 = 108
    assert rows["variables"] == "24" and rows["couplers_per_head"] == "28"
    assert rows["penalty_couplers"] == "24" and rows["couplers_total"] == "108"
    assert rows["softmax_attention_bytes"] == str(2 * 3 * 4 * 4 * 8)
    assert "H*N*q" in out and "H(H-1)/2 * N*q" in out


def test_json_matches_summary(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    q, k, v = np.random.default_rng(0).normal(size=(3, 2, 5, 4))
    np.savez(tmp_path / "qkv.npz", q=q, k=k, v=v)
    assert main(["inspect", str(tmp_path / "qkv.npz"), "--bits", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s = doc["summary"]
    assert (s["heads"], s["tokens"], s["bits"], s["variables"]) == (2, 5, 3, 30)
    assert s["couplers_total"] == 2 * 15 * 14 // 2 + 15
    assert s["variables_formula"] == "H*N*q = 2*5*3 = 30"


def test_example_heads_and_tokens(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", "example", "--layer", "1", "--heads", "0,3", "--tokens", "4", "--bits", "1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["summary"]
    assert (s["heads"], s["tokens"], s["variables"]) == (2, 4, 8)


def test_target_and_sweep_delegate(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def inspect_targets(problem: AttentionProblem, targets: list[str], **options: object) -> list[dict]:
        seen["targets"] = targets
        return [{"target": t, "qubits": 10 * i, "fits": True} for i, t in enumerate(targets)]

    def sweep(
        problem: AttentionProblem,
        param: str,
        values: list[int],
        *,
        targets: list[str],
        target: str = "dwave-advantage",
        plot: str | None = None,
    ) -> list[dict]:
        seen["sweep"] = (param, values, targets, target, plot)
        return [{param: v, "variables": problem.shape[1] * v * problem.bits} for v in values]

    monkeypatch.setattr(target_report, "inspect_targets", inspect_targets)
    monkeypatch.setattr(target_report, "sweep", sweep)
    assert (
        main(
            [
                "inspect",
                "--random",
                "1,2,3,4",
                "--bits",
                "1",
                "--target",
                "advantage",
                "--target",
                "cim-550",
                "--sweep",
                "tokens=8,16",
                "--plot",
                "s.png",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert seen == {
        "targets": ["advantage", "cim-550"],
        "sweep": ("tokens", [8, 16], ["advantage", "cim-550"], "advantage", "s.png"),
    }
    assert "cim-550" in out and "target" in out and "16" in out
    assert main(["inspect", "--random", "1,2,3,4", "--bits", "1", "--target", "advantage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["targets"][0]["target"] == "advantage"


def test_bad_sweep(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", "--random", "1,1,2,2", "--sweep", "tokens"]) == 2
    assert "PARAM=V1,V2" in capsys.readouterr().err
    assert main(["inspect", "--random", "1,1,2,2", "--plot", "x.png"]) == 2
    assert "--plot needs --sweep" in capsys.readouterr().err


def test_help_has_examples(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--sweep tokens=8,16,32,64" in out


def test_precision_verdict_and_fix(capsys) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: 12 heads, 64 tokens, 4 bits do not fit cim-100k by precision; the fix fits."""
    argv = ["inspect", "--random", "1,12,64,64", "--bits", "4", "--target", "cim-100k"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cim-100k: does not fit: needs 10 bits of coupler precision, target has 8" in out
    assert "fix: lower with --bits 2" in out and "--allow-precision-loss" in out
    table = out[out.index("target  ") :].splitlines()
    assert max(len(line) for line in table) <= 100  # the default table fits 100 characters
    assert main([*argv, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["targets"][0]
    assert row["fits"] is False and row["size_fits"] is True and row["largest_bits"] == 2
    assert row["physical_couplers"] < row["logical_couplers"] + 3072 * row["field_ancillas"]  # zeroed ones gone
    fixed = ["inspect", "--random", "1,12,64,64", "--bits", "2", "--target", "cim-100k", "--json"]
    assert main(fixed) == 0
    assert json.loads(capsys.readouterr().out)["targets"][0]["fits"] is True
    assert main(["inspect", "--random", "1,12,64,64", "--bits", "auto", "--target", "cim-100k", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["bits"] == 2
    assert main(["inspect", "--random", "1,1,2,3", "--bits", "auto"]) == 2
    assert "--bits auto needs a --target" in capsys.readouterr().err

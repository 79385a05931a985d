"""``qama targets``: the table and the JSON list with sources."""

from __future__ import annotations

import json

import pytest

from qama_compile.cli.main import main


def test_table_lists_every_target_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for name in (
        "dwave-advantage",
        "dwave-advantage2",
        "chimera-c16",
        "cim-550",
        "cim-100k",
        "ibm-heron",
        "aer-statevector",
    ):
        assert name in out
    assert "source: https://docs.dwavequantum.com" in out and "[-2, 1]" in out


def test_json_is_parseable_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "--json"]) == 0
    facts = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert facts["dwave-advantage"]["extended_j_range"] == [-2.0, 1.0]
    assert facts["cim-550"]["coupling_bits"] == 8 and facts["cim-550"]["sources"]
    assert facts["ibm-heron"]["h_range"] == [None, None]

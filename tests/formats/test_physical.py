"""Export: each format round-trips the energies (or parses) and writes atomically."""

from __future__ import annotations

import json
from pathlib import Path

import dimod
import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.compiler.driver import compile
from qama_compile.errors import UnknownNameError
from qama_compile.formats.physical import ExportPass, export_compiled, export_ir, pick_format
from qama_compile.passes.base import PassManager
from qama_compile.targets import get_target


@pytest.fixture
def problem():  # type: ignore[no-untyped-def]
    return lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 2, 3, 4)), bits=2)


def test_bqm_json_roundtrip_energies(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem, target="chimera-c16", seed=0)
    path = export_compiled(cp, tmp_path / "p.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "qama-compile/bqm-json" and doc["target"] == "chimera-c16" and len(doc["problems"]) == 2
    spins = np.random.default_rng(0).choice([-1, 1], size=(4, cp.num_qubits))
    for b, ser in enumerate(doc["problems"]):
        bqm = dimod.BinaryQuadraticModel.from_serializable(ser)
        assert set(bqm.variables) == set(cp.qubits.tolist())
        energies = [bqm.energy(dict(zip(cp.qubits.tolist(), row.tolist(), strict=True))) for row in spins]
        np.testing.assert_allclose(np.asarray(energies), cp.physical.select([b]).energies(spins)[0], atol=1e-9)
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind


def test_cim_integer_matrix_npz_and_txt(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem, target="cim-550", seed=0)
    with np.load(export_compiled(cp, tmp_path / "p.npz")) as f:
        assert f["J"].dtype == np.int64 and np.abs(f["J"]).max() <= 127 and np.abs(f["h"]).max() <= 127
        header = json.loads(str(f["header"]))
        assert header["integer"] and header["target"] == "cim-550" and header["format"] == "qama-compile/ising-npz"
        j_step = float(f["j_step"])
        s = np.random.default_rng(1).choice([-1, 1], size=(3, cp.num_qubits))
        e = (
            f["offset"][:, None]
            + (f["h"] * j_step) @ s.T
            + np.einsum("se,be->bs", s[:, f["rows"]] * s[:, f["cols"]], f["J"] * j_step)
        )
        np.testing.assert_allclose(e, cp.physical.energies(s), atol=1e-9)
    text = export_compiled(cp, tmp_path / "p.txt").read_text()
    assert text.startswith("# format: qama-compile/ising-txt") and text.count("# problem") == 2
    assert "np.float64" not in text and "# qubits: " + " ".join(map(str, cp.qubits.tolist())) in text


def test_gate_formats(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem.select([0]), target="ibm-heron")
    qasm = export_compiled(cp, tmp_path / "p.qasm", reps=2).read_text()
    assert qasm.startswith("// format: qama-compile/qasm3") and "// problem 0" in qasm
    assert "OPENQASM 3.0" in qasm and "input float[64]" in qasm
    assert "qubit[12]" in qasm
    lp = export_compiled(cp, tmp_path / "p.lp").read_text()
    assert "Minimize" in lp
    pauli = json.loads(export_compiled(cp, tmp_path / "p.json").read_text())
    assert pauli["format"] == "qama-compile/pauli-json" and pauli["problems"][0]["terms"]
    assert pauli["qubit_order"] == cp.qubits.tolist()


def test_format_choice_and_errors(tmp_path: Path) -> None:
    assert pick_format("x.npz", None) == "ising-npz"
    assert pick_format("x.bin", get_target("cim-550")) == "ising-npz"
    assert pick_format("x", get_target("ibm-heron"), "json") == "pauli-json"
    assert pick_format("x", None, "coo") == "ising-txt"
    with pytest.raises(UnknownNameError, match="known formats"):
        pick_format("x.json", None, "mtx")


def test_export_pass_writes_and_passes_through(problem, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, ctx = PassManager([ExportPass(path=str(tmp_path / "q.json"))]).run(problem.ir.to_spin())
    assert (tmp_path / "q.json").exists() and ctx.records[0].report is None
    assert out.num_variables == problem.ir.num_variables
    assert export_ir(problem.ir, tmp_path / "b.txt").exists()

"""Physical files read back: one registry, self-contained records, decode without the session, hostile files refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.compiler.compiled import CompiledProblem
from qama_compile.compiler.driver import compile
from qama_compile.core.decode import (
    AncillaGauge,
    ChainEmbedding,
    FixVariables,
    VartypeChange,
    decode_samples,
    step_from_data,
    step_to_data,
)
from qama_compile.errors import FileFormatError, InvalidInputError
from qama_compile.formats import FORMATS, PhysicalFile, decode_file, load, save
from qama_compile.formats.physical import export_compiled, export_ir

PROBLEM = lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 2, 3, 4)), bits=2)


@pytest.fixture(scope="module")
def compiled() -> dict[str, CompiledProblem]:
    return {
        "chimera-c16": compile(PROBLEM, target="chimera-c16", seed=0),
        "cim-550": compile(PROBLEM, target="cim-550", seed=0, allow_precision_loss=True),
        "ibm-heron": compile(PROBLEM.select([0]), target="ibm-heron"),
        "one": compile(PROBLEM.select([1]), target="chimera-c16", seed=0),
    }


CASES = [
    ("chimera-c16", "p.json", "bqm-json"),
    ("chimera-c16", "p.npz", "ising-npz"),
    ("chimera-c16", "p.txt", "ising-txt"),
    ("chimera-c16", "p.qasm", "qasm3"),
    ("cim-550", "c.npz", "ising-npz"),
    ("cim-550", "c.txt", "ising-txt"),
    ("ibm-heron", "g.json", "pauli-json"),
    ("ibm-heron", "g.qasm", "qasm3"),
    ("one", "one.lp", "lp"),
]


def test_every_physical_format_is_registered_and_covered() -> None:
    physical = {name for name, spec in FORMATS.items() if spec.physical}
    assert physical == {fmt for _, _, fmt in CASES}
    assert all(spec.read is not None for spec in FORMATS.values())


@pytest.mark.parametrize("target,name,fmt", CASES)
def test_physical_file_loads_and_decodes_like_the_session(
    compiled: dict[str, CompiledProblem], tmp_path: Path, target: str, name: str, fmt: str
) -> None:
    cp = compiled[target]
    pf = load(export_compiled(cp, tmp_path / name))
    assert isinstance(pf, PhysicalFile) and pf.format == fmt
    assert pf.target == cp.target.name and pf.graph_id == cp.target.graph_id and pf.kind == cp.target.kind
    np.testing.assert_array_equal(pf.qubits, cp.qubits)
    assert pf.attention == dict(zip(("heads", "tokens", "bits"), cp.problem.shape[1:], strict=True))  # type: ignore[union-attr]
    chain = next((s for s in cp.decoder if isinstance(s, ChainEmbedding)), None)
    assert pf.embedding == ({} if chain is None else chain.chains())
    spins = np.random.default_rng(0).choice([-1, 1], size=(32, cp.num_qubits)).astype(np.int8)
    scale = 1 + np.abs(cp.physical.energies(spins)).max()
    np.testing.assert_allclose(pf.physical.energies(spins), cp.physical.energies(spins), rtol=0, atol=1e-12 * scale)
    got, info = pf.decode(spins)
    want, want_info = cp.decode(spins)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(info["logical_energies"], want_info["logical_energies"], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(pf.weights(spins), cp.weights(spins), rtol=0, atol=0)


def test_bqm_json_payload_is_what_dimod_reads(compiled: dict[str, CompiledProblem], tmp_path: Path) -> None:
    cp = compiled["chimera-c16"]
    doc = json.loads(export_compiled(cp, tmp_path / "p.json").read_text())
    spins = np.random.default_rng(2).choice([-1, 1], size=(8, cp.num_qubits))
    for b, payload in enumerate(doc["problems"]):
        bqm = dimod.BinaryQuadraticModel.from_serializable(payload)
        energies = bqm.energies((spins, cp.qubits.tolist()))
        np.testing.assert_allclose(energies, cp.physical.select([b]).energies(spins)[0], atol=1e-9)
    save(PROBLEM, tmp_path / "l.json", index=1)  # the logical file's "bqm" member too
    bqm = dimod.BinaryQuadraticModel.from_serializable(json.loads((tmp_path / "l.json").read_text())["bqm"])
    x = np.random.default_rng(3).integers(0, 2, size=(5, PROBLEM.ir.num_variables))
    labels = [tuple(r) for r in PROBLEM.ir.labels.tolist()]
    np.testing.assert_allclose(bqm.energies((x, labels)), PROBLEM.ir.select([1]).energies(x)[0], atol=1e-9)


def test_exports_without_a_record_load_as_the_physical_ir(tmp_path: Path) -> None:
    ir = PROBLEM.ir.select([0])
    for name in ("a.json", "a.npz", "a.txt", "a.qasm", "a.lp"):
        back = load(export_ir(ir, tmp_path / name))
        x = np.random.default_rng(4).choice([-1, 1], size=(6, ir.num_variables))
        assert not isinstance(back, PhysicalFile)
        np.testing.assert_allclose(back.energies(x), ir.to_spin().energies(x), atol=1e-9)


def test_physical_formats_are_refused_by_save(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="physical format"):
        save(PROBLEM, tmp_path / "p.txt", format="ising-txt")


def _doc(cp: CompiledProblem, path: Path) -> dict[str, Any]:
    return json.loads(export_compiled(cp, path).read_text())  # type: ignore[no-any-return]


LEGACY = [
    ('{"format": "qama-compile/bqm", "format_version": 1, "problems": []}', "p.json"),
    ('{"format": "qama-compile/pauli", "format_version": 1, "problems": []}', "p.json"),
    ('# qama-compile ising; {"integer": false}\n# problem 0 offset np.float64(0.0) variables 1 couplers 0\n', "p.txt"),
]


@pytest.mark.parametrize("text,name", LEGACY)
def test_old_physical_files_say_how_to_rewrite_them(tmp_path: Path, text: str, name: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(FileFormatError, match=r"qama-compile 0\.x.*re-export it with this qama-compile"):
        load(tmp_path / name)


def _set(doc: dict[str, Any], where: str, value: Any) -> None:
    node: Any = doc
    keys = where.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


HOSTILE = [
    ("compiled.schema", "other"),
    ("compiled.version", 99),
    ("compiled.qubits", [0, 1]),
    ("compiled.qubits.0", 10**6),
    ("compiled.decoder", "steps"),
    ("compiled.decoder.0", {"type": "Pickle", "data": "..."}),
    ("compiled.decoder.1.chain_of.0", 99),
    ("compiled.decoder.1.chain_of", [0] * 48),
    ("compiled.decoder.1.num_logical", 10**12),
    ("compiled.decoder.1.qubits.1", 0),
    ("compiled.decoder.1.method", "vote"),
    ("compiled.decoder.0.source", "TERNARY"),
    ("compiled.logical.linear", [[1.0]]),
    ("compiled.logical.data", [["x"]]),
    ("compiled.logical.rows.0", -1),
    ("compiled.embedding.chains", [[1, 2]]),
    ("compiled.attention.heads", 7),
    ("compiled.attention", {"heads": 1}),
    ("compiled.extra", 1),
    ("problems.0.variable_labels.0", 10**6),
    ("problems.1.variable_type", "BINARY"),
]


@pytest.mark.parametrize("where,value", HOSTILE)
def test_hostile_physical_records_raise_file_format_errors(
    compiled: dict[str, CompiledProblem], tmp_path: Path, where: str, value: Any
) -> None:
    doc = _doc(compiled["chimera-c16"], tmp_path / "p.json")
    _set(doc, where, value)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(FileFormatError) as info:
        load(tmp_path / "bad.json")
    assert str(tmp_path / "bad.json") in str(info.value)


def test_hostile_fix_variables_and_ancilla_steps_are_bounded(
    compiled: dict[str, CompiledProblem], tmp_path: Path
) -> None:
    doc = _doc(compiled["cim-550"], tmp_path / "c.json")
    for step in (
        {"type": "FixVariables", "indices": [0], "values": [1], "num_variables": 10**12},
        {"type": "AncillaGauge", "ancilla": 10**9, "count": 1},
        {"type": "FixVariables", "indices": [0, 0], "values": [1, 1], "num_variables": 12},
    ):
        doc["compiled"]["decoder"] = [step]
        (tmp_path / "bad.json").write_text(json.dumps(doc))
        with pytest.raises(FileFormatError, match=r"compiled\.decoder"):
            load(tmp_path / "bad.json")


STEPS = st.one_of(
    st.builds(VartypeChange, source=st.sampled_from(["BINARY", "SPIN"]), target=st.sampled_from(["BINARY", "SPIN"])),
    st.builds(AncillaGauge, ancilla=st.integers(0, 5), count=st.integers(1, 3)),
    st.integers(1, 6).flatmap(
        lambda n: st.lists(st.integers(0, n - 1), unique=True, max_size=n).map(
            lambda idx: FixVariables(
                indices=np.array(idx, dtype=np.int64), values=np.ones(len(idx), np.int8), num_variables=n
            )
        )
    ),
    st.lists(st.integers(1, 3), min_size=1, max_size=4).map(
        lambda lengths: ChainEmbedding(
            qubits=np.arange(sum(lengths)) * 3 + 1,
            chain_of=np.repeat(np.arange(len(lengths)), lengths),
            num_logical=len(lengths),
            method="majority",
        )
    ),
)


@settings(max_examples=40, deadline=None)
@given(step=STEPS)
def test_decode_steps_round_trip_through_plain_json(step: Any) -> None:
    data = json.loads(json.dumps(step_to_data(step)))
    back = step_from_data(data)
    assert type(back) is type(step) and step_to_data(back) == step_to_data(step)
    if isinstance(step, ChainEmbedding):
        x = np.random.default_rng(0).choice([-1, 1], size=(1, 4, step.qubits.size))
        np.testing.assert_array_equal(decode_samples([back], x), decode_samples([step], x))


def test_decode_file_api_with_binary_npz_and_qubit_matching(
    compiled: dict[str, CompiledProblem], tmp_path: Path
) -> None:
    cp = compiled["chimera-c16"]
    path = export_compiled(cp, tmp_path / "p.npz")
    bits = np.random.default_rng(5).integers(0, 2, size=(2, 7, cp.num_qubits))
    perm = np.random.default_rng(6).permutation(cp.num_qubits)
    np.savez(tmp_path / "s.npz", samples=bits[..., perm], qubits=cp.qubits[perm])
    out = decode_file(path, tmp_path / "s.npz")
    _, info = cp.decode(bits, vartype="BINARY")
    np.testing.assert_allclose(out.energies, info["logical_energies"], rtol=0, atol=1e-12)
    assert out.masks is not None and out.masks.shape == (2, 7, 2, 3, 3)
    np.testing.assert_allclose(out.physical_energies, cp.physical.energies(2 * bits - 1), atol=1e-9)
    with pytest.raises(InvalidInputError, match="columns"):
        decode_file(path, bits[..., :-1])
    with pytest.raises(InvalidInputError, match="spins"):
        decode_file(path, np.full((2, cp.num_qubits), 2))
    with pytest.raises(InvalidInputError, match="stated SPIN"):
        decode_file(path, bits[0], vartype="SPIN", problems=[0])


ISING = st.fixed_dictionaries(
    {"batch": st.integers(1, 2), "qubits": st.integers(1, 5), "seed": st.integers(0, 2**31 - 1), "ints": st.booleans()}
)


@pytest.mark.parametrize("name", ["p.json", "p.npz", "p.txt", "g.json", "p.qasm", "p.lp"])
@settings(max_examples=10, deadline=None)
@given(p=ISING)
def test_every_physical_format_round_trips_energies_of_all_assignments(name: str, p: dict[str, Any]) -> None:
    """Random Ising batches on arbitrary qubit ids through each writer and ``load``: every assignment's energy."""
    import tempfile

    from qama_compile.core.ir import QuadraticIR

    rng = np.random.default_rng(p["seed"])
    b, q = (1 if name.endswith(".lp") else p["batch"]), p["qubits"]
    rows, cols = np.triu_indices(q, k=1)
    keep = rng.random(rows.size) < 0.6
    draw = (lambda *s: rng.integers(-7, 8, size=s).astype(float)) if p["ints"] else (lambda *s: rng.normal(size=s))
    qubits = np.sort(rng.choice(5000, size=q, replace=False))
    ir = QuadraticIR.from_coo(
        linear=draw(b, q), rows=rows[keep], cols=cols[keep], data=draw(b, int(keep.sum())), offset=draw(b),
        vartype="SPIN", labels=qubits.reshape(q, 1), label_fields=("qubit",),
    )  # fmt: skip
    fmt = {"g.json": "pauli-json"}.get(name)
    spins = 1 - 2 * ((np.arange(2**q)[:, None] >> np.arange(q)) & 1)
    with tempfile.TemporaryDirectory() as d:
        back = load(export_ir(ir, Path(d) / name, format=fmt))
    assert not isinstance(back, PhysicalFile)
    np.testing.assert_array_equal(back.labels[:, 0], qubits)
    want = ir.energies(spins)
    np.testing.assert_allclose(back.energies(spins), want, rtol=0, atol=1e-12 * (1 + np.abs(want).max()))

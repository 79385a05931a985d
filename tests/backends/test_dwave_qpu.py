"""``dwave``: native, clique-cached and heuristic paths on dwave-system's MockDWaveSampler, with
broken qubits; chain-strength choices; a clear error without credentials."""

from __future__ import annotations

from pathlib import Path

import dimod
import numpy as np
import pytest
from dwave.samplers import SimulatedAnnealingSampler
from dwave.system.testing import MockDWaveSampler
from qama_backends.dwave_qpu import DWaveBackend, chain_strength_function, find_token

from qama_compile import get_backend, lower_attention
from qama_compile.compiler import compile as compile_problem
from qama_compile.core.cliques import clique_embedding
from qama_compile.core.convert import ir_to_bqm
from qama_compile.datasets import load_example
from qama_compile.errors import BackendError, InvalidInputError, ProblemTooLargeError
from qama_compile.runtime.solve import solve
from qama_compile.targets import Target, get_target


def _mock(**kwargs: object) -> MockDWaveSampler:
    # a seeded simulated-annealing substitute: a reproducible offline stand-in for the QPU
    return MockDWaveSampler(
        substitute_sampler=SimulatedAnnealingSampler(), substitute_kwargs={"seed": 0, "num_sweeps": 1000}, **kwargs
    )


def _minilm_problem():  # type: ignore[no-untyped-def]
    ex = load_example(sentence=0, layer=0, heads=[0, 1], tokens=[1, 2, 3, 4, 5, 6])
    return lower_attention(ex.q, ex.k, ex.v, bits=2)  # 2 heads x 6 tokens x 2 bits = 24 variables


def _broken_p16() -> tuple[MockDWaveSampler, list[int]]:
    """Pegasus P16 with 20 broken qubits, 10 of them inside the ideal graph's K_24 clique embedding
    (so a problem compiled for the ideal ``dwave-advantage`` graph lands on dead qubits)."""
    ideal = get_target("dwave-advantage")
    used = np.unique(np.concatenate([np.asarray(c) for c in ideal.clique_embedding(24)]))
    rng = np.random.default_rng(0)
    others = np.setdiff1d(np.fromiter(ideal.graph().nodes, dtype=np.int64), used)  # type: ignore[union-attr]
    broken = sorted(rng.choice(used, 10, replace=False).tolist() + rng.choice(others, 10, replace=False).tolist())
    return _mock(topology_type="pegasus", topology_shape=[16], broken_nodes=broken), broken


# --------------------------------------------------------------------------- credentials
def test_without_credentials_says_how_to_configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DWAVE_API_TOKEN", raising=False)
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(tmp_path / "missing.conf"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_token() is None
    with pytest.raises(BackendError, match="dwave config create") as err:
        get_backend("dwave")
    assert "DWAVE_API_TOKEN" in str(err.value) and err.value.fields["backend"] == "dwave"


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWAVE_API_TOKEN", "DEV-not-a-real-token")
    assert find_token() == "DEV-not-a-real-token"


def test_properties_and_target_come_from_the_sampler() -> None:
    qpu = DWaveBackend(sampler=_mock(broken_nodes=[3]))
    props = qpu.properties
    assert props["native_graph"] == {"type": "chimera", "shape": [4, 4, 4]}
    assert props["max_variables"] == props["num_qubits"] == 127
    assert {"num_reads", "chain_strength", "seed"} <= set(qpu.parameters)
    graph, graph_id = qpu.working_graph()
    assert graph.number_of_nodes() == 127 and 3 not in graph.nodes and graph_id.startswith("sha256:")
    target = Target.from_sampler(qpu.child)
    assert target.graph_id == graph_id and target.num_qubits == 127  # the same graph, as a compilation target
    assert DWaveBackend(child=qpu.child).child is qpu.child  # the older option name
    assert DWaveBackend(sampler=target).child is qpu.child  # a Target read from the sampler
    with pytest.raises(InvalidInputError, match="not both"):
        DWaveBackend(sampler=qpu.child, child=qpu.child)


# --------------------------------------------------------------------------- the case
def test_compiled_for_the_sampler_target_runs_unchanged_and_reaches_the_ground_state() -> None:
    """Done-when: Target.from_sampler(mock with broken qubits) -> compile -> solve(backend='dwave')."""
    mock, broken = _broken_p16()
    problem = _minilm_problem()
    target = Target.from_sampler(mock)
    assert target.num_qubits == 5640 - 20 and not set(broken) & set(target.graph().nodes)  # type: ignore[union-attr]
    compiled = compile_problem(problem, target=target, seed=0)
    result = solve(problem, backend="dwave", backend_options={"sampler": mock}, target=target, num_reads=100, seed=0)
    ss = result.samplesets[0]
    assert ss.info["native"] is True and ss.info["embedding_method"] == "native"
    # the compiled embedding is used unchanged: same physical qubits, no second embedding
    assert result.info.physical_qubits == compiled.num_qubits == ss.info["embedding_qubits"]
    assert set(ss.variables) == {int(q) for q in compiled.physical.labels[:, 0]}
    assert result.info.chain_break_fraction[0] < 0.05
    exact = solve(problem, backend="exact")
    assert result.energies[0] == pytest.approx(exact.energies[0], abs=1e-9)


def test_compiled_for_the_ideal_graph_is_refused_with_the_fix() -> None:
    mock, broken = _broken_p16()
    problem = _minilm_problem()
    with pytest.raises(BackendError, match="compiled for another graph") as err:
        solve(problem, backend="dwave", backend_options={"sampler": mock}, target="dwave-advantage", num_reads=5)
    assert "Target.from_sampler" in (err.value.fix or "")
    missing = set(err.value.fields["missing_qubits"])
    assert missing and missing <= set(broken)
    # opting in embeds the physical problem again, as a logical one
    out = solve(
        problem,
        backend="dwave",
        backend_options={"sampler": mock, "on_foreign": "embed"},
        target="dwave-advantage",
        num_reads=5,
        seed=0,
    )
    info = out.samplesets[0].info
    assert info["native"] is False and info["embedding_qubits"] > out.info.physical_qubits


# --------------------------------------------------------------------------- logical problems
def test_logical_problems_use_cached_clique_embeddings() -> None:
    mock, _ = _broken_p16()
    qpu = DWaveBackend(sampler=mock)
    rng = np.random.default_rng(1)
    bqms = [
        dimod.BinaryQuadraticModel(rng.normal(size=40), np.triu(rng.normal(size=(40, 40)), 1), 0.0, "SPIN")
        for _ in range(3)
    ]
    infos = [qpu.sample(b, num_reads=2).info for b in bqms]
    assert [i["embedding_method"] for i in infos] == ["clique"] * 3
    assert all(i["chain_break_fraction"] <= 1.0 and i["max_chain_length"] >= 2 for i in infos)
    # the same size embeds from the in-memory cache (timings: benchmarks/bench_dwave_embedding.py)
    graph, graph_id = qpu.working_graph()
    emb = clique_embedding(graph_id, graph, 40)
    assert emb is clique_embedding(graph_id, graph, 40) and {q for c in emb for q in c} <= set(mock.nodelist)
    assert all(i["embedding_qubits"] == sum(len(c) for c in emb) for i in infos)


def test_too_large_for_a_clique_falls_back_to_find_embedding_or_says_why() -> None:
    qpu = DWaveBackend(sampler=_mock(), embedding_timeout=2.0)  # Chimera C4: largest clique K_16
    ring = dimod.BinaryQuadraticModel(
        {i: 0.1 for i in range(30)}, {(i, (i + 1) % 30): -1.0 for i in range(30)}, 0, "SPIN"
    )
    ss = qpu.sample(ring, num_reads=3, seed=0)
    assert ss.info["embedding_method"] == "heuristic" and ss.info["embedding_qubits"] >= 30
    dimod.testing.assert_sampleset_energies(ss, ring)
    dense = dimod.BinaryQuadraticModel(
        {i: 0.0 for i in range(60)}, {(i, j): 1.0 for i in range(60) for j in range(i)}, 0, "SPIN"
    )
    with pytest.raises(BackendError, match="find_embedding found no embedding of the 60-variable") as err:
        qpu.sample(dense, seed=0)
    assert "decompose" in (err.value.fix or "")
    with pytest.raises(ProblemTooLargeError, match="largest clique"):
        DWaveBackend(sampler=_mock(), embedding_method="clique").sample(dense)


def test_solve_end_to_end_offline_matches_exact() -> None:
    # 4 variables per problem: clique chains of 2 on Chimera, 8 qubits, which the mock solves exactly
    problem = lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 1, 2, 4)), bits=2)
    mock = MockDWaveSampler(exact_solver_cutoff=16)
    result = solve(problem, backend=DWaveBackend(sampler=mock), num_reads=5, seed=1)
    exact = solve(problem, backend="exact")
    assert result.energies == pytest.approx(exact.energies, abs=1e-9)  # every energy rechecked by solve
    for ss in result.samplesets:
        assert ss.info["embedding_qubits"] == 8 and ss.info["hardware_time_s"] > 0
        assert "chain_break_fraction" in ss.record.dtype.names


def test_fixed_embedding_and_chain_strength() -> None:
    child = _mock()
    bqm = dimod.BinaryQuadraticModel(
        {"a": 0.5, "b": -0.5, "c": 0.2}, {("a", "b"): -1.0, ("b", "c"): 0.8, ("a", "c"): 0.3}, 0.0, "SPIN"
    )
    # a triangle on Chimera: chain b over two coupled qubits of one unit cell
    embedding = {"a": [0], "b": [4, 1], "c": [5]}
    qpu = DWaveBackend(sampler=child, embedding=embedding, chain_strength=2.0)
    assert qpu.properties["max_variables"] == 3 and "fixed embedding" in qpu.properties["description"]
    ss = qpu.sample(bqm, num_reads=10)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert ss.info["embedding_qubits"] == 4 and ss.info["embedding_method"] == "fixed"
    assert ss.info["chain_strength"] == 2.0 and ss.info["chain_strength_method"] == "user"
    assert ss.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)


@pytest.mark.parametrize(
    ("choice", "prefactor", "method"),
    [
        (None, None, "torque"),
        ("torque", 0.5, "torque"),
        ("scaled", None, "scaled"),
        ("scaled", 3.0, "scaled"),
        (1.5, None, "user"),
    ],
)
def test_chain_strength_choices(choice: object, prefactor: float | None, method: str) -> None:
    from dwave.embedding.chain_strength import scaled, uniform_torque_compensation

    bqm = dimod.BinaryQuadraticModel({0: 0.3, 1: -0.7, 2: 0.1}, {(0, 1): 1.2, (1, 2): -0.4, (0, 2): 0.9}, 0, "SPIN")
    ss = DWaveBackend(sampler=_mock(), chain_strength=choice, chain_strength_prefactor=prefactor).sample(bqm)
    expected = {
        "torque": uniform_torque_compensation(bqm, prefactor=1.414 if prefactor is None else prefactor),
        "scaled": scaled(bqm, prefactor=1.0 if prefactor is None else prefactor),
        "user": 1.5,
    }[method]
    assert ss.info["chain_strength_method"] == method and ss.info["chain_strength"] == pytest.approx(expected)
    # a call option overrides the constructor's
    assert DWaveBackend(sampler=_mock()).sample(bqm, chain_strength=4.0).info["chain_strength"] == 4.0


@pytest.mark.parametrize("bad", ["strong", -1.0, 0.0, float("nan"), True, [1.0]])
def test_bad_chain_strength(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="chain_strength"):
        DWaveBackend(sampler=_mock(), chain_strength=bad)
    with pytest.raises(InvalidInputError):
        chain_strength_function(bad)


def test_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="embedding_method"):
        DWaveBackend(sampler=_mock(), embedding_method="magic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="embedding_timeout"):
        DWaveBackend(sampler=_mock(), embedding_timeout=0)
    with pytest.raises(InvalidInputError, match="on_foreign"):
        DWaveBackend(sampler=_mock(), on_foreign="ignore")  # type: ignore[arg-type]


def test_too_many_variables_for_the_chip() -> None:
    bqm = dimod.BinaryQuadraticModel({i: 1.0 for i in range(129)}, {}, 0.0, "BINARY")
    with pytest.raises(ProblemTooLargeError, match="129 variables"):
        DWaveBackend(sampler=_mock()).sample(bqm)


def test_native_problem_on_the_ideal_chip_goes_to_the_chip_directly() -> None:
    problem = lower_attention(*np.random.default_rng(5).normal(size=(3, 2, 3, 4)), bits=2)  # 12 variables
    child = _mock(topology_type="chimera", topology_shape=[16, 16, 4])
    result = solve(problem, backend=DWaveBackend(sampler=child), num_reads=50, seed=0, target="chimera-c16")
    ss = result.samplesets[0]
    assert ss.info["native"] is True and result.info.physical_qubits == ss.info["embedding_qubits"] > 12
    assert 0.0 <= result.info.chain_break_fraction[0] <= 1.0  # from the compiler's decoder
    assert result.energies[0] == pytest.approx(solve(problem, backend="exact").energies[0], abs=1e-9)
    # the same physical BQM, labelled as qubits, is recognised without the compiler
    bqm = ir_to_bqm(compile_problem(problem, target="chimera-c16").physical, 0, vartype="SPIN")
    assert DWaveBackend(sampler=child).sample(bqm, num_reads=2).info["native"] is True


def test_native_problems_are_not_rescaled_by_the_qpu() -> None:
    child = _mock(topology_type="chimera", topology_shape=[16, 16, 4])
    seen: list[dict[str, object]] = []
    inner = child.sample

    def spy(bqm: dimod.BinaryQuadraticModel, **kwargs: object) -> dimod.SampleSet:
        seen.append(kwargs)
        return inner(bqm, **kwargs)

    child.sample = spy  # type: ignore[method-assign]
    problem = lower_attention(*np.random.default_rng(5).normal(size=(3, 1, 3, 4)), bits=2)
    bqm = ir_to_bqm(compile_problem(problem, target="chimera-c16").physical, 0, vartype="SPIN")
    qpu = DWaveBackend(sampler=child)
    assert qpu.sample(bqm, num_reads=2).info["native"] is True
    assert seen[-1] == {"num_reads": 2, "auto_scale": False}  # the compiler scaled it into the ranges
    logical = dimod.BinaryQuadraticModel({"a": 0.5}, {("a", "b"): -1.0}, 0.0, "SPIN")
    qpu.sample(logical, num_reads=2)
    assert "auto_scale" not in seen[-1]  # logical problems: the QPU's own scaling, as EmbeddingComposite

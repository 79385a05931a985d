"""compile(): physical problems per target kind, decoding back to the logical problem, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qama_compile import lower_attention
from qama_compile.compiler import CompiledProblem, compile, default_pipeline, plan_decomposition
from qama_compile.core.decode import AncillaGauge, ChainEmbedding
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError
from qama_compile.passes.base import PassManager
from qama_compile.passes.reduce import ReducePass
from qama_compile.passes.reports import DecomposePlan
from qama_compile.targets import get_target


@pytest.fixture(scope="module")
def problem():  # type: ignore[no-untyped-def]
    return lower_attention(*np.random.default_rng(7).normal(size=(3, 2, 2, 3, 4)), bits=2)  # B=2, V=12


def _intact_physical(cp: CompiledProblem, x: np.ndarray) -> np.ndarray:
    """Physical spins with every chain intact for logical binary samples ``x [B, S, V]``."""
    s = 2 * x - 1
    for step in cp.decoder:
        if isinstance(step, ChainEmbedding):
            return s[..., step.chain_of]
        if isinstance(step, AncillaGauge):  # the ancillas at +1: logical spins unchanged
            return np.concatenate([s, np.ones((*s.shape[:-1], step.count), dtype=s.dtype)], axis=-1)
    return s


@pytest.mark.parametrize(
    "target", ["dwave-advantage", "dwave-advantage2", "chimera-c16", "cim-550", "ibm-heron", "aer-statevector"]
)
def test_compile_decode_roundtrip_per_target(problem, target: str) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem, target=target, seed=0, allow_precision_loss=True)
    assert cp.physical.batch_size == 2 and cp.physical.vartype == "SPIN" and cp.target.name == target
    assert [r.name for r in cp.log] == ["analysis", "embed", "quantize"]
    assert cp.log[1].qubits == cp.num_qubits
    x = np.random.default_rng(1).integers(0, 2, size=(2, 5, 12))
    logical, info = cp.decode(_intact_physical(cp, x))
    np.testing.assert_array_equal(logical, x)
    np.testing.assert_allclose(info["logical_energies"], problem.energies(x))
    assert cp.weights(_intact_physical(cp, x)).shape == (2, 5, 2, 3)
    if cp.target.kind == "annealer":  # analog: scaled only, so the physical energy is scale * logical
        scale = np.asarray(cp.physical.meta["scale"])[:, None]
        np.testing.assert_allclose(
            cp.physical.energies(_intact_physical(cp, x)) / scale, problem.energies(x), atol=1e-9
        )
        np.testing.assert_array_equal(info["chain_break_fraction"], 0.0)


def test_to_bqm_has_qubit_labels_and_same_energy(problem) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem, target="dwave-advantage", seed=0)
    bqm = cp.to_bqm(1)
    assert set(bqm.variables) == set(cp.qubits.tolist())
    s = np.random.default_rng(2).choice([-1, 1], size=cp.num_qubits)
    assert bqm.energy(dict(zip(cp.qubits.tolist(), s.tolist(), strict=True))) == pytest.approx(
        cp.physical.select([1]).energies(s)[0, 0]
    )


def test_decode_validates_and_accepts_binary(problem) -> None:  # type: ignore[no-untyped-def]
    cp = compile(problem, target="cim-550")
    with pytest.raises(InvalidInputError, match="physical samples"):
        cp.decode(np.ones((3, 5)))
    with pytest.raises(InvalidInputError, match="vartype='BINARY'"):
        cp.decode(np.zeros((3, cp.num_qubits)))
    a, _ = cp.decode(np.zeros((3, cp.num_qubits), dtype=int), vartype="BINARY")
    b, _ = cp.decode(-np.ones((3, cp.num_qubits), dtype=int))
    np.testing.assert_array_equal(a, b)


def test_too_large_names_counts_and_limit(problem) -> None:  # type: ignore[no-untyped-def]
    big = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 20, 4)), bits=4)  # 160 variables
    with pytest.raises(ProblemTooLargeError, match=r"160 qubits needed > 156|160 .*156") as exc:
        compile(big, target="ibm-heron")
    assert exc.value.fields["size"] == 160 and exc.value.fields["limit"] == 156
    with pytest.raises(ProblemTooLargeError, match=r"6400 logical couplers > 6016 physical couplers"):
        compile(big, target="chimera-c16")
    mid = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 9, 4)), bits=4)  # 72 variables
    with pytest.raises(ProblemTooLargeError, match=r"72 variables.*K_64"):
        compile(mid, target="chimera-c16", embedding="clique")


def test_too_large_points_at_plan_decomposition_which_splits_it() -> None:
    big = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 20, 4)), bits=4)  # 160 variables
    with pytest.raises(ProblemTooLargeError) as exc:
        compile(big, target="ibm-heron")
    assert "plan_decomposition" in str(exc.value.fix)
    plan = plan_decomposition(big, target="ibm-heron")
    assert isinstance(plan, DecomposePlan) and plan.needed and plan.max_variables == 156
    assert max(plan.sizes) <= 156 and plan.num_variables == 160
    small = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 3, 4)), bits=2)
    assert not plan_decomposition(small, target="cim-550").needed


@pytest.mark.parametrize("target", ["dwave-advantage", "chimera-c16", "cim-550", "ibm-heron", "aer-statevector"])
def test_summary_is_json_for_every_path(problem, target: str) -> None:  # type: ignore[no-untyped-def]
    pm = PassManager([ReducePass()]) + default_pipeline()
    for cp in (compile(problem, target=target, seed=0), compile(problem, target=target, pipeline=pm)):
        summary = json.loads(json.dumps(cp.summary(), allow_nan=False))
        assert summary["physical_qubits"] == cp.num_qubits and summary["target"] == target
        assert summary["physical_couplers"] == int(cp.physical.nonzero_couplers().max())
        assert summary["physical_couplers"] <= summary["physical_couplers_structural"]
        assert {r["name"] for r in summary["log"]} >= {"analysis", "embed", "quantize"}


def test_custom_pipeline_with_reduce_decodes_fixed_variables(problem) -> None:  # type: ignore[no-untyped-def]
    pm = PassManager([ReducePass()]) + default_pipeline()
    # QAMA problems this small are solved outright by roof duality: nothing is left to embed
    cp = compile(problem.select([0]), target="dwave-advantage", pipeline=pm)
    assert cp.log[0].name == "reduce" and cp.num_qubits == cp.log[0].variables == 0
    logical, info = cp.decode(np.ones((2, 0), dtype=int))
    assert logical.shape == (1, 2, 12)
    np.testing.assert_allclose(info["logical_energies"], problem.select([0]).energies(logical))
    # a frustrated problem keeps some variables; decoding restores the fixed ones
    rng = np.random.default_rng(5)
    iu, ju = np.triu_indices(6, k=1)
    frustrated = QuadraticIR.from_coo(linear=np.zeros(6), rows=iu, cols=ju, data=np.ones(iu.size), vartype="SPIN")
    fixed = QuadraticIR.from_coo(linear=[[5.0, -5.0]], vartype="SPIN")  # two decoupled, forced spins
    ir = QuadraticIR.from_coo(
        linear=np.concatenate([frustrated.linear, fixed.linear], axis=1),
        rows=frustrated.rows,
        cols=frustrated.cols,
        data=frustrated.data,
        vartype="SPIN",
    )
    cp = compile(ir, target="chimera-c16", pipeline=pm)
    assert cp.log[0].variables == 6
    s = rng.choice([-1, 1], size=(4, cp.num_qubits))
    logical, info = cp.decode(s)
    assert logical.shape == (1, 4, 8) and np.all(logical[0, :, 6:] == [-1, 1])
    np.testing.assert_allclose(info["logical_energies"], ir.energies(logical))


def test_input_not_mutated_and_seeded(problem) -> None:  # type: ignore[no-untyped-def]
    before = problem.ir.linear.copy()
    cp = compile(problem, target="cim-550", rounding="stochastic", seed=4, allow_precision_loss=True)
    np.testing.assert_array_equal(problem.ir.linear, before)
    summary = cp.summary()
    ancillas = get_target("cim-550").field_ancillas(problem.ir)
    assert summary["physical_qubits"] == 12 + ancillas and summary["log"][2]["name"] == "quantize"
    assert summary["reports"]["QuantizationReport"]["rounding"] == "stochastic"
    assert summary["reports"]["EmbeddingReport"]["field_ancillas"] == ancillas
    again = compile(problem, target="cim-550", rounding="stochastic", seed=4, allow_precision_loss=True)
    np.testing.assert_array_equal(again.physical.data, cp.physical.data)  # seeded
    with pytest.raises(InvalidInputError, match="AttentionProblem or a QuadraticIR"):
        compile("nope", target="cim-550")  # type: ignore[arg-type]


def test_decode_one_problem_touches_only_that_problem(problem) -> None:  # type: ignore[no-untyped-def]
    pm = PassManager([ReducePass()]) + default_pipeline()
    rng = np.random.default_rng(9)
    iu, ju = np.triu_indices(6, k=1)
    ir = QuadraticIR.from_coo(
        linear=rng.normal(size=(3, 6)), rows=iu, cols=ju, data=rng.normal(size=(3, iu.size)), vartype="SPIN"
    )
    cp = compile(ir, target="cim-550", pipeline=pm)
    s = rng.choice([-1, 1], size=(3, 4, cp.num_qubits))
    whole, info = cp.decode(s)
    for b in range(3):
        one, one_info = cp.decode(s[b : b + 1], problems=[b])
        np.testing.assert_array_equal(one[0], whole[b])
        np.testing.assert_allclose(one_info["logical_energies"][0], info["logical_energies"][b])
    with pytest.raises(InvalidInputError, match="out of range"):
        cp.decode(s[:1], problems=[3])

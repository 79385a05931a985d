"""Embedding: every embedding verifies; intact chains keep the logical energy; unembedding methods."""

from __future__ import annotations

import dimod
import networkx as nx
import numpy as np
import pytest
from dwave.embedding import embed_bqm, majority_vote, verify_embedding
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.convert import ir_to_bqm
from qama_compile.core.decode import AncillaGauge, ChainEmbedding, decode_samples_with_info
from qama_compile.core.exact import lowest_states
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import InvalidInputError, ProblemTooLargeError
from qama_compile.passes.base import PassManager
from qama_compile.passes.embed import EmbedPass, logical_edges, torque_chain_strength
from qama_compile.passes.options import CompileOptions
from qama_compile.passes.reports import EmbeddingReport
from qama_compile.targets import Target, get_target

CHIMERA = get_target("chimera-c16")


def _random_ir(rng: np.random.Generator, v: int, density: float, batch: int = 2) -> QuadraticIR:
    iu, ju = np.triu_indices(v, k=1)
    keep = rng.random(iu.size) < density
    return QuadraticIR.from_coo(
        linear=rng.normal(size=(batch, v)),
        rows=iu[keep],
        cols=ju[keep],
        data=rng.normal(size=(batch, int(keep.sum()))),
        offset=rng.normal(size=batch),
        vartype="BINARY",
    )


def _intact(step: ChainEmbedding, logical_spins: np.ndarray) -> np.ndarray:
    return logical_spins[..., step.chain_of]


def _check_verifies(ir: QuadraticIR, step: ChainEmbedding, target: Target) -> None:
    r, c, _ = logical_edges(ir.to_spin())
    assert verify_embedding(step.chains(), list(zip(r.tolist(), c.tolist(), strict=True)), target.graph())


@given(
    v=st.integers(2, 12),
    density=st.floats(0.2, 1.0),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(["clique", "heuristic"]),
)
def test_embedding_verifies_and_intact_chains_keep_the_energy(v: int, density: float, seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    ir = _random_ir(rng, v, density)
    phys, ctx = PassManager([EmbedPass(method=method)]).run(  # type: ignore[arg-type]
        ir, target=CHIMERA, options=CompileOptions(seed=seed)
    )
    step = ctx.decoders[-1]
    assert isinstance(step, ChainEmbedding)
    _check_verifies(ir, step, CHIMERA)
    x = rng.integers(0, 2, size=(2, 6, v))
    physical = _intact(step, 2 * x - 1)
    np.testing.assert_allclose(phys.energies(physical), ir.energies(x), atol=1e-9)
    back, info = decode_samples_with_info(ctx.decoders, physical)
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(info["chain_break_fraction"], 0.0)
    assert set(phys.labels[:, 0].tolist()) <= set(CHIMERA.graph().nodes)  # type: ignore[union-attr]


def test_matches_dwave_embed_bqm_energies(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=2)
    phys, ctx = PassManager([EmbedPass()]).run(problem.ir, target=get_target("dwave-advantage"))
    step = ctx.decoders[-1]
    assert isinstance(step, ChainEmbedding)
    report = ctx.get(EmbeddingReport)
    assert report is not None
    cs = report.chain_strength[0]
    labels = problem.ir.label_tuples()
    ref = embed_bqm(
        ir_to_bqm(problem.ir, 0, vartype="SPIN"),
        {labels[i]: ch for i, ch in step.chains().items()},
        get_target("dwave-advantage").graph(),
        chain_strength=cs,
    )
    spins = rng.choice([-1, 1], size=(5, phys.num_variables))  # arbitrary, chains may break
    mine = phys.select([0]).energies(spins)[0]
    qubits = phys.labels[:, 0]
    theirs = [ref.energy({int(q): int(s) for q, s in zip(qubits, row, strict=True)}) for row in spins]
    np.testing.assert_allclose(mine, theirs, atol=1e-9)


def test_chain_strength_torque_and_user_value(rng: np.random.Generator) -> None:
    from dwave.embedding.chain_strength import uniform_torque_compensation

    ir = _random_ir(rng, 6, 0.7, batch=3)
    cs = torque_chain_strength(ir.to_spin())
    for b in range(3):
        assert cs[b] == pytest.approx(uniform_torque_compensation(ir_to_bqm(ir, b, vartype="SPIN")))
    _, ctx = PassManager([EmbedPass(chain_strength=2.5)]).run(ir, target=CHIMERA)
    report = ctx.get(EmbeddingReport)
    assert report is not None and report.chain_strength == (2.5, 2.5, 2.5) and report.chain_strength_source == "user"
    _, ctx = PassManager([EmbedPass()]).run(ir, target=CHIMERA, options=CompileOptions(chain_strength=(1.0, 2.0, 3.0)))
    report = ctx.get(EmbeddingReport)
    assert report is not None and report.chain_strength == (1.0, 2.0, 3.0)


def test_chain_strength_rules_scaled_and_prefactors(rng: np.random.Generator) -> None:
    from dwave.embedding.chain_strength import scaled, uniform_torque_compensation

    ir = _random_ir(rng, 6, 0.7, batch=2)
    bqms = [ir_to_bqm(ir, b, vartype="SPIN") for b in range(2)]
    cases = [
        (
            CompileOptions(chain_strength="scaled"),
            [scaled(q) for q in bqms],
            "scaled to the largest |h|, |J| (prefactor 1)",
        ),
        (
            CompileOptions(chain_strength="scaled", chain_strength_prefactor=2.0),
            [scaled(q, prefactor=2.0) for q in bqms],
            "scaled to the largest |h|, |J| (prefactor 2)",
        ),
        (
            CompileOptions(chain_strength="torque", chain_strength_prefactor=0.5),
            [uniform_torque_compensation(q, prefactor=0.5) for q in bqms],
            "uniform torque compensation (prefactor 0.5)",
        ),
        (
            CompileOptions(),
            [uniform_torque_compensation(q) for q in bqms],
            "uniform torque compensation (prefactor 1.414)",
        ),
    ]
    for options, expected, source in cases:
        _, ctx = PassManager([EmbedPass()]).run(ir, target=CHIMERA, options=options)
        report = ctx.get(EmbeddingReport)
        assert report is not None and report.chain_strength == pytest.approx(expected)
        assert report.chain_strength_source == source
    _, ctx = PassManager([EmbedPass(chain_strength="scaled", prefactor=3.0)]).run(ir, target=CHIMERA)
    report = ctx.get(EmbeddingReport)
    assert report is not None and report.chain_strength == pytest.approx([scaled(q, prefactor=3.0) for q in bqms])
    with pytest.raises(InvalidInputError, match="'torque' or 'scaled'"):
        CompileOptions(chain_strength="strong")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="chain_strength_prefactor"):
        CompileOptions(chain_strength="scaled", chain_strength_prefactor=0.0)


def test_unembedding_methods_and_chain_breaks() -> None:
    step = ChainEmbedding(qubits=np.array([1, 2, 3, 4, 5]), chain_of=np.array([0, 0, 0, 1, 1]), num_logical=2)
    s = np.array([[[1, 1, -1, -1, 1], [1, 1, 1, 1, 1], [-1, -1, -1, 1, -1]]])
    out, info = step.decode_with_info(s)
    assert out.tolist() == [[[1, -1], [1, 1], [-1, 1]]]  # a tie takes the chain's first qubit
    np.testing.assert_allclose(info["chain_break_fraction"], [3 / 6])
    # agrees with dwave's majority vote where there is no tie
    ref, _ = majority_vote(s[0, :, :3], [[0, 1, 2]])
    np.testing.assert_array_equal(out[0, :, :1], ref)
    disc = ChainEmbedding(qubits=step.qubits, chain_of=step.chain_of, num_logical=2, method="discard")
    kept, dinfo = disc.decode_with_info(s)
    assert kept.tolist() == [[[1, 1]]] and dinfo["kept_fraction"] == pytest.approx(1 / 3)
    wr = ChainEmbedding(qubits=step.qubits, chain_of=step.chain_of, num_logical=2, method="weighted_random", seed=5)
    many = np.repeat(s[:, :1], 4000, axis=1)
    a = wr.decode(many)
    np.testing.assert_array_equal(a, wr.decode(many))  # seeded
    assert abs((a[0, :, 0] == 1).mean() - 2 / 3) < 0.05 and abs((a[0, :, 1] == 1).mean() - 1 / 2) < 0.05
    other = ChainEmbedding(qubits=step.qubits, chain_of=step.chain_of, num_logical=2, method="weighted_random", seed=6)
    assert not np.array_equal(a, other.decode(many))  # random where chains break, seeded


@pytest.mark.parametrize("ancillas", ["auto", 1, 3])
def test_cim_ancillas_carry_fields(rng: np.random.Generator, ancillas: str | int) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 3, 4)), bits=2)
    options = CompileOptions(field_ancillas=ancillas)  # type: ignore[arg-type]
    phys, ctx = PassManager([EmbedPass()]).run(problem.ir, target=get_target("cim-550"), options=options)
    v = problem.ir.num_variables
    k = get_target("cim-550").field_ancillas(problem.ir, requested=ancillas)  # type: ignore[arg-type]
    assert k == (ancillas if ancillas != "auto" else k) and k >= 1
    assert phys.num_variables == v + k and not np.any(phys.linear)
    assert ctx.get(EmbeddingReport).field_ancillas == k  # type: ignore[union-attr]
    step = ctx.decoders[-1]
    assert isinstance(step, AncillaGauge) and step.count == k
    x = rng.integers(0, 2, size=(1, 8, v))
    for gauge in (1, -1):  # the global flip of all spins is the same assignment
        s = np.concatenate([gauge * (2 * x - 1), np.full((1, 8, k), gauge)], axis=2)
        np.testing.assert_allclose(phys.energies(s), problem.ir.energies(x), atol=1e-9)
        back, _ = decode_samples_with_info(ctx.decoders, s)
        np.testing.assert_array_equal(back, x)


def test_auto_ancillas_bound_the_field_couplers(rng: np.random.Generator) -> None:
    """'auto' splits the fields until no ancilla coupler is larger than the largest coupling."""
    ir = lower_attention(*rng.normal(size=(3, 4, 6, 8)), bits=2, normalize="none").ir
    spin = ir.to_spin()
    largest = max(np.abs(spin.blocks).max(), np.abs(spin.data).max())
    k = get_target("cim-550").field_ancillas(ir)
    assert k == int(np.ceil(np.abs(spin.linear).max() / largest)) > 1
    phys, _ = PassManager([EmbedPass()]).run(ir, target=get_target("cim-550"))
    field_couplers = phys.data[:, -k * ir.num_variables :]
    assert np.abs(field_couplers).max() <= largest * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    ancillas=st.integers(1, 4),
    n=st.integers(2, 7),
)
def test_split_ancillas_keep_every_ground_state(seed: int, ancillas: int, n: int) -> None:
    """Exact ground states of the k-ancilla layout decode to ground states of the logical problem."""
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, k=1)
    ir = QuadraticIR.from_coo(
        linear=rng.normal(size=(1, n)) * 3, rows=iu, cols=ju, data=rng.normal(size=(1, iu.size)), vartype="SPIN"
    )
    options = CompileOptions(field_ancillas=ancillas)
    phys, ctx = PassManager([EmbedPass()]).run(ir, target=get_target("cim-550"), options=options)
    x, e = lowest_states(phys, k=1)
    _, e_logical = lowest_states(ir, k=1)
    np.testing.assert_allclose(e[:, 0], e_logical[:, 0], atol=1e-9)  # same minimum
    back, _ = decode_samples_with_info(ctx.decoders, x)
    np.testing.assert_allclose(ir.energies(back)[:, 0], e_logical[:, 0], atol=1e-9)  # a logical ground state
    disagree = x.copy()
    disagree[..., n] *= -1  # one ancilla flipped: decoding takes the majority (a tie: the first ancilla)
    assert ir.energies(decode_samples_with_info(ctx.decoders, disagree)[0]).shape == (1, 1)


def test_user_graph_target_and_clique_cache() -> None:
    target = Target.from_graph("grid", nx.grid_2d_graph(6, 6), h_range=(-1, 1), j_range=(-1, 1))
    ir = _random_ir(np.random.default_rng(0), 4, 1.0)
    _, ctx = PassManager([EmbedPass(method="clique")]).run(ir, target=target)
    step = ctx.decoders[-1]
    assert isinstance(step, ChainEmbedding)
    _check_verifies(ir, step, target)
    assert target.largest_clique() is None and CHIMERA.largest_clique() == 64
    _, ctx2 = PassManager([EmbedPass(method="clique")]).run(ir, target=target)
    np.testing.assert_array_equal(ctx2.decoders[-1].qubits, step.qubits)  # type: ignore[attr-defined]


def test_too_large_names_counts_and_limit() -> None:
    ir = _random_ir(np.random.default_rng(1), 70, 1.0, batch=1)
    with pytest.raises(ProblemTooLargeError, match=r"70 variables.*K_64") as exc:
        PassManager([EmbedPass(method="clique")]).run(ir, target=CHIMERA)
    assert exc.value.fields["size"] == 70 and exc.value.fields["limit"] == 64
    with pytest.raises(ProblemTooLargeError, match=r"needs 8 qubits.*has 5"):
        small = Target(name="tiny", kind="gate", topology="none", num_qubits=5, h_range=(-1, 1), j_range=(-1, 1))
        PassManager([EmbedPass()]).run(_random_ir(np.random.default_rng(2), 8, 0.5), target=small)


def test_no_target_is_just_spin() -> None:
    ir = _random_ir(np.random.default_rng(3), 3, 1.0)
    out, ctx = PassManager([EmbedPass()]).run(ir)
    assert out.vartype == "SPIN" and len(ctx.decoders) == 1
    bqm = ir_to_bqm(out, 0, vartype="SPIN")
    assert bqm.vartype is dimod.SPIN

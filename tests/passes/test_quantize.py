"""Quantization: coefficients on the target grid inside the ranges; honest error reports."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import PrecisionLossError
from qama_compile.passes.base import PassManager
from qama_compile.passes.options import CompileOptions
from qama_compile.passes.quantize import QuantizePass, grid_step, scale_factors
from qama_compile.passes.reports import QuantizationReport
from qama_compile.targets import Target, get_target

CIM = get_target("cim-550")
ADV = get_target("dwave-advantage")
LOSSY = CompileOptions(allow_precision_loss=True)  # measure the loss instead of refusing


def _spin_ir(rng: np.random.Generator, v: int, batch: int = 2, scale: float = 1.0) -> QuadraticIR:
    iu, ju = np.triu_indices(v, k=1)
    return QuadraticIR.from_coo(
        linear=scale * rng.normal(size=(batch, v)),
        rows=iu,
        cols=ju,
        data=scale * rng.normal(size=(batch, iu.size)),
        vartype="SPIN",
    )


def _on_grid(values: np.ndarray, step: float, bounds: tuple[float, float]) -> None:
    k = values / step
    np.testing.assert_allclose(k, np.rint(k), atol=1e-9)
    assert values.min(initial=0) >= bounds[0] - 1e-12 and values.max(initial=0) <= bounds[1] + 1e-12


@given(
    v=st.integers(2, 9),
    seed=st.integers(0, 2**16),
    bits=st.integers(3, 8),
    rounding=st.sampled_from(["nearest", "stochastic"]),
    magnitude=st.floats(1e-3, 1e3),
)
def test_coefficients_on_the_grid_inside_the_ranges(
    v: int, seed: int, bits: int, rounding: str, magnitude: float
) -> None:
    ir = _spin_ir(np.random.default_rng(seed), v, scale=magnitude)
    target = Target(
        name="t",
        kind="cim",
        topology="complete",
        num_qubits=64,
        h_range=(-2.0, 2.0),
        j_range=(-1.0, 1.0),
        extended_j_range=(-2.0, 1.0),
        coupling_bits=bits,
    )
    out, ctx = PassManager([QuantizePass(rounding=rounding, max_exact=0)]).run(  # type: ignore[arg-type]
        ir, target=target, options=CompileOptions(seed=seed, allow_precision_loss=True)
    )
    q = ctx.get(QuantizationReport)
    assert q is not None
    _on_grid(out.linear, grid_step(target.h_range, bits), target.h_range)
    _on_grid(out.data, grid_step(q.j_bounds, bits), q.j_bounds)
    # reported errors are honest: recompute them
    scale = np.asarray(q.scale)[:, None]
    err = np.concatenate([out.linear / scale - ir.linear, out.data / scale - ir.data], axis=1)
    assert q.max_coefficient_error == pytest.approx(np.abs(err).max())
    assert q.zeroed_couplers == tuple(((ir.data != 0) & (out.data == 0)).sum(axis=1).tolist())
    assert q.nonzero_couplers == tuple((out.data != 0).sum(axis=1).tolist())
    # the energy bound holds for random assignments
    s = np.random.default_rng(seed + 1).choice([-1, 1], size=(50, v))
    gap = np.abs(out.energies(s) / scale - ir.energies(s))
    assert np.all(gap <= np.asarray(q.energy_error_bound)[:, None] + 1e-9)


def test_nearest_error_is_at_most_half_a_step() -> None:
    ir = _spin_ir(np.random.default_rng(0), 6)
    out, ctx = PassManager([QuantizePass()]).run(ir, target=CIM, options=LOSSY)
    q = ctx.get(QuantizationReport)
    assert q is not None
    step = grid_step((-1.0, 1.0), 8)
    assert q.max_coefficient_error <= step / 2 / min(q.scale) + 1e-12
    assert q.levels == 255 and q.j_step == pytest.approx(step)
    assert out.meta["quantization_steps"]["j_step"] == pytest.approx(step)


def test_stochastic_rounding_is_seeded_and_unbiased() -> None:
    ir = QuadraticIR.from_coo(linear=[[1.0, 0.3]], vartype="SPIN")  # 0.3 of the max sits between levels at 3 bits
    target = Target(
        name="t", kind="cim", topology="complete", num_qubits=4, h_range=(-1, 1), j_range=(-1, 1), coupling_bits=3
    )
    runs = [
        PassManager([QuantizePass(rounding="stochastic", max_exact=0)]).run(
            ir, target=target, options=CompileOptions(seed=s, allow_precision_loss=True)
        )[0]
        for s in range(400)
    ]
    vals = np.array([r.linear[0, 1] for r in runs])
    assert set(np.round(vals * 3).tolist()) == {0.0, 1.0}
    assert abs(vals.mean() - 0.3) < 0.03
    again = PassManager([QuantizePass(rounding="stochastic", max_exact=0)]).run(
        ir, target=target, options=CompileOptions(seed=7, allow_precision_loss=True)
    )[0]
    assert again.linear[0, 1] == runs[7].linear[0, 1]


def test_extended_range_used_only_when_it_helps() -> None:
    chain_like = QuadraticIR.from_coo(linear=[[0.1, 0.1]], rows=[0], cols=[1], data=[[-3.0]], vartype="SPIN")
    scale, ext = scale_factors(chain_like, ADV)
    assert ext and scale[0] == pytest.approx(2 / 3)
    positive = QuadraticIR.from_coo(linear=[[0.1, 0.1]], rows=[0], cols=[1], data=[[3.0]], vartype="SPIN")
    scale, ext = scale_factors(positive, ADV)
    assert not ext and scale[0] == pytest.approx(1 / 3)
    out, ctx = PassManager([QuantizePass()]).run(chain_like, target=ADV)  # analog: scaled only
    q = ctx.get(QuantizationReport)
    assert q is not None and q.bits is None and q.rounding == "none (analog)"
    assert out.data[0, 0] == pytest.approx(-2.0) and q.max_coefficient_error < 1e-12


def test_ground_state_check_on_a_qama_problem(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 4)), bits=2, normalize="none")
    out, ctx = PassManager([QuantizePass()]).run(problem.ir, target=CIM)
    assert out.vartype == "SPIN" and ctx.decoders  # BINARY input: converted, with a decoder
    q = ctx.get(QuantizationReport)
    assert q is not None and q.ground_state_checked and q.ground_state_preserved == (True,)
    big = PassManager([QuantizePass(max_exact=4)]).run(problem.ir, target=CIM)[1].get(QuantizationReport)
    assert big is not None and not big.ground_state_checked and big.ground_state_preserved == ()


def test_ground_state_check_is_right_when_precision_destroys_the_problem() -> None:
    """At 2 bits most couplings round to zero; the check must say which problems kept their ground state."""
    rng = np.random.default_rng(11)
    ir = _spin_ir(rng, 8, batch=6)
    ir = QuadraticIR.from_coo(linear=ir.linear * 0.02, rows=ir.rows, cols=ir.cols, data=ir.data, vartype="SPIN")
    out, ctx = PassManager([QuantizePass(bits=2)]).run(ir, target=CIM, options=LOSSY)
    q = ctx.get(QuantizationReport)
    assert q is not None and len(q.ground_state_preserved) == 6
    states = (2 * ((np.arange(2**8)[:, None] >> np.arange(8)) & 1) - 1).astype(np.int8)
    original, quantized = ir.energies(states), out.energies(states)
    for b in range(6):  # independently: is some quantized ground state an original ground state?
        ground_q = quantized[b] <= quantized[b].min() + 1e-12
        first = int(np.flatnonzero(ground_q)[0])  # the enumeration's tie rule: lowest state index
        assert q.ground_state_preserved[b] == bool(original[b, first] <= original[b].min() + 1e-9)
    assert not all(q.ground_state_preserved)  # 2 bits lose some ground states here
    assert "not an original ground state" in q.precision_loss  # allowed, so reported
    with pytest.raises(PrecisionLossError, match="not an original ground state") as caught:
        PassManager([QuantizePass(bits=2)]).run(ir, target=CIM)  # not allowed: refused
    assert caught.value.ground_state_preserved == q.ground_state_preserved and caught.value.bits == 2


def test_refuses_to_zero_more_couplers_than_allowed() -> None:
    """A coupler 1000x below the largest vanishes on an 8-bit DAC; 1 of 3 is over the 5% allowance."""
    ir = QuadraticIR.from_coo(
        linear=[[0.0, 0.0, 0.0]], rows=[0, 0, 1], cols=[1, 2, 2], data=[[1.0, 0.5, 0.001]], vartype="SPIN"
    )
    with pytest.raises(PrecisionLossError, match=r"33.3% of the non-zero couplers round to zero") as caught:
        PassManager([QuantizePass(max_exact=0)]).run(ir, target=CIM)
    err = caught.value
    assert err.bits == 8 and err.bits_needed == 10 and err.zeroed_fraction == pytest.approx(1 / 3)
    assert "allow_precision_loss=True" in str(err) and err.max_zeroed_fraction == 0.05
    tolerant = CompileOptions(max_zeroed_fraction=0.4)
    out, ctx = PassManager([QuantizePass(max_exact=0)]).run(ir, target=CIM, options=tolerant)
    q = ctx.get(QuantizationReport)
    assert q is not None and q.zeroed_couplers == (1,) and q.precision_loss == "" and q.bits_needed == 3
    assert out.data[0, 2] == 0.0
    _, ctx = PassManager([QuantizePass(max_exact=0, bits=10)]).run(ir, target=CIM)  # 10 bits keep it
    q = ctx.get(QuantizationReport)
    assert q is not None and q.zeroed_couplers == (0,)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    heads=st.integers(1, 3),
    tokens=st.integers(2, 6),
    bits=st.integers(1, 4),
    dac=st.integers(3, 10),
    normalize=st.sampled_from(["none", "standardise"]),
)
def test_the_target_rule_predicts_what_the_pass_zeroes(
    seed: int, heads: int, tokens: int, bits: int, dac: int, normalize: str
) -> None:
    """Target.precision (on the logical problem) counts exactly the couplers the pipeline rounds to zero."""
    from qama_compile.passes.embed import EmbedPass

    rng = np.random.default_rng(seed)
    problem = lower_attention(*rng.normal(size=(3, 2, heads, tokens, 4)), bits=bits, normalize=normalize)
    options = CompileOptions(bits=dac, allow_precision_loss=True, max_exact=0)
    _, ctx = PassManager([EmbedPass(), QuantizePass()]).run(problem.ir, target=CIM, options=options)
    q = ctx.get(QuantizationReport)
    predicted = CIM.precision(problem.ir, bits=dac)
    assert q is not None and predicted.zeroed_couplers == q.zeroed_couplers
    assert q.bits_needed == predicted.bits_needed
    # bits_needed is the narrowest DAC within the allowance: one bit fewer is over it (when > 2)
    if predicted.bits_needed > 2:
        fewer = CIM.precision(problem.ir, bits=predicted.bits_needed - 1)
        assert fewer.fits is False
    assert CIM.precision(problem.ir, bits=predicted.bits_needed).fits is True
    assert CIM.precision(problem.ir, bits=predicted.bits_lossless).zeroed_couplers == (0, 0)


def test_gate_targets_and_no_target_are_skipped() -> None:
    ir = _spin_ir(np.random.default_rng(1), 3)
    for target in (None, get_target("ibm-heron")):
        out, ctx = PassManager([QuantizePass()]).run(ir, target=target)
        assert out is ir and ctx.get(QuantizationReport) is None


def test_per_qubit_coupling_range_bounds_the_scale() -> None:
    """A qubit with ten strong couplers: the extended range alone would allow a scale of 2,
    the per-qubit range [-5, 5] caps the coupling sum on the centre qubit."""
    import networkx as nx

    from qama_compile.passes.quantize import coupling_sums, scale_factors
    from qama_compile.targets import Target

    star = QuadraticIR.from_coo(
        linear=np.zeros(11), rows=np.zeros(10, int), cols=np.arange(1, 11), data=-np.ones(10), vartype="SPIN"
    )
    graph = nx.star_graph(10)
    free = Target.from_graph("star", graph, h_range=(-4, 4), j_range=(-1, 1), extended_j_range=(-2, 1))
    capped = dataclasses.replace(free, per_qubit_coupling_range=(-5.0, 5.0))
    (s_free,), ext_free = scale_factors(star, free)
    (s_capped,), ext_capped = scale_factors(star, capped)
    assert ext_free and s_free == pytest.approx(2.0)  # J = -1 scaled to the extended -2
    assert coupling_sums(star)[0].min() == pytest.approx(-10.0)  # the centre qubit
    assert not ext_capped and s_capped == pytest.approx(0.5)  # -10 * 0.5 = -5: the per-qubit bound
    out, _ = PassManager([QuantizePass()]).run(star, target=capped)
    assert coupling_sums(out)[0].min() >= -5.0 - 1e-12
    # dense blocks and the sparse head penalty of a lowered problem, against dimod's adjacency
    from qama_compile.core.convert import ir_to_bqm

    spin = lower_attention(*np.random.default_rng(1).normal(size=(3, 2, 3, 4)), bits=2).ir.to_spin()
    assert spin.block_count and spin.rows.size
    bqm = ir_to_bqm(spin, 0, vartype="SPIN")
    expected = [sum(bqm.adj[v].values()) for v in spin.label_tuples()]
    np.testing.assert_allclose(coupling_sums(spin)[0], expected, atol=1e-12)

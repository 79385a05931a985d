"""Roof-duality fixing, coupling pruning and the conditioning algebra (qama_compile.passes.reduce)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qama_compile import InvalidInputError, lower_attention
from qama_compile.core.convert import ir_to_bqm
from qama_compile.core.decode import FixVariables, decode_samples
from qama_compile.core.ir import QuadraticIR, Vartype
from qama_compile.passes.base import PassManager
from qama_compile.passes.reduce import ReducePass, condition, fix_variables, prune_couplings
from qama_compile.passes.reports import ReductionReport
from qama_compile.runtime.registry import get_backend
from qama_compile.runtime.solve import solve


def all_states(v: int) -> np.ndarray:
    return ((np.arange(2**v)[:, None] >> np.arange(v)) & 1).astype(np.int8)


def in_vartype(x01: np.ndarray, vartype: str) -> np.ndarray:
    """0/1 assignments as the given vartype's values."""
    x = np.asarray(x01, dtype=np.int8)
    return (2 * x - 1).astype(np.int8) if vartype == "SPIN" else x


def ground_energies(ir: QuadraticIR) -> np.ndarray:
    """Exact ground energy of every problem by enumeration (independent of the backends)."""
    x = in_vartype(all_states(ir.num_variables), ir.vartype)
    return ir.energies(x).min(axis=1)


def random_ir(
    seed: int, *, b: int = 2, g: int = 2, n: int = 3, extra: int = 2, vartype: Vartype = "BINARY"
) -> QuadraticIR:
    """Dense blocks plus sparse couplings plus variables outside the blocks."""
    rng = np.random.default_rng(seed)
    v = g * n + extra
    blocks = np.triu(rng.normal(size=(b, g, n, n)), k=1)
    pairs = np.array([(i, j) for i, j in itertools.combinations(range(v), 2) if i // n != j // n or i >= g * n])
    keep = pairs[rng.random(len(pairs)) < 0.5]
    return QuadraticIR(
        vartype=vartype,
        linear=rng.normal(size=(b, v)),
        offset=rng.normal(size=b),
        blocks=blocks,
        rows=keep[:, 0],
        cols=keep[:, 1],
        data=rng.normal(size=(b, len(keep))),
        labels=np.arange(v).reshape(v, 1),
    )


# --------------------------------------------------------------------------- condition
@given(seed=st.integers(0, 10_000), spin=st.booleans(), mode=st.sampled_from(["random", "heads", "none", "all"]))
def test_condition_preserves_every_energy(seed: int, spin: bool, mode: str) -> None:
    ir = random_ir(seed, vartype="SPIN" if spin else "BINARY")
    rng = np.random.default_rng(seed + 1)
    v = ir.num_variables
    if mode == "random":
        fixed = np.flatnonzero(rng.random(v) < 0.5)
    elif mode == "heads":  # a whole block: dense blocks stay dense
        fixed = np.arange(3)
    elif mode == "none":
        fixed = np.zeros(0, dtype=np.int64)
    else:
        fixed = np.arange(v)
    values = in_vartype(rng.integers(0, 2, size=(ir.batch_size, fixed.size)), ir.vartype)
    sub = condition(ir, fixed, values)
    kept = np.setdiff1d(np.arange(v), fixed)
    assert sub.num_variables == kept.size and sub.vartype == ir.vartype
    assert np.array_equal(sub.labels, ir.labels[kept])
    xs = in_vartype(rng.integers(0, 2, size=(ir.batch_size, 8, kept.size)), ir.vartype)
    full = np.empty((ir.batch_size, 8, v), dtype=np.int8)
    full[:, :, kept] = xs
    full[:, :, fixed] = values[:, None, :]
    np.testing.assert_allclose(sub.energies(xs), ir.energies(full), rtol=0, atol=1e-10)
    if mode == "heads":
        assert sub.block_count == 1 and sub.block_size == 3


def test_condition_rejects_bad_values() -> None:
    ir = random_ir(0)
    with pytest.raises(InvalidInputError, match="values must be in"):
        condition(ir, [0], [2])
    with pytest.raises(InvalidInputError, match="distinct"):
        condition(ir, [0, 0], [1, 1])


# --------------------------------------------------------------------------- roof duality
@pytest.mark.parametrize(("heads", "bits"), [(1, 2), (2, 2), (3, 1)])
def test_fixed_problem_has_the_same_ground_energy_on_qama(heads: int, bits: int) -> None:
    problem = lower_attention(*np.random.default_rng(heads).normal(size=(3, 3, heads, 3, 4)), bits=bits)
    result = fix_variables(problem.ir)
    assert result.ir.num_variables <= problem.ir.num_variables
    exact = solve(problem, backend="exact")
    # solve the reduced problem exactly, decode with the step, compare on the original
    reduced_best = np.empty((problem.batch_size, result.ir.num_variables), dtype=np.int8)
    for b in range(problem.batch_size):
        states = all_states(result.ir.num_variables)
        energies = result.ir.select([b]).energies(states)[0]
        reduced_best[b] = states[int(np.argmin(energies))]
    decoded = result.step.decode(reduced_best[:, None, :])
    np.testing.assert_allclose(problem.ir.energies(decoded)[:, 0], exact.energies, rtol=0, atol=1e-9)
    assert np.all(result.lower_bounds <= exact.energies + 1e-9)
    if heads == 1:  # one head: all couplings <= 0 (submodular), roof duality solves it
        assert result.ir.num_variables == 0


@given(seed=st.integers(0, 10_000), spin=st.booleans(), strict=st.booleans())
def test_fixing_keeps_the_ground_energy_on_random_models(seed: int, spin: bool, strict: bool) -> None:
    rng = np.random.default_rng(seed)
    v = 8
    # diagonally dominant fields make roof duality fix a good share of the variables
    ir = QuadraticIR.from_coo(
        linear=rng.normal(scale=3.0, size=(2, v)),
        rows=[0, 1, 2, 3, 4, 5, 6],
        cols=[1, 2, 3, 4, 5, 6, 7],
        data=rng.normal(size=(2, 7)),
        offset=rng.normal(size=2),
        vartype="SPIN" if spin else "BINARY",
    )
    result = fix_variables(ir, strict=strict)
    reduced = result.ir
    states = in_vartype(all_states(reduced.num_variables), reduced.vartype)
    red_e = reduced.energies(states)
    best = states[np.argmin(red_e, axis=1)]
    decoded = result.step.decode(best[:, None, :])
    np.testing.assert_allclose(ir.energies(decoded)[:, 0], ground_energies(ir), rtol=0, atol=1e-9)
    np.testing.assert_allclose(red_e.min(axis=1), ground_energies(ir), rtol=0, atol=1e-9)
    if strict:  # strong persistency: every ground state of the original has the fixed values
        full = in_vartype(all_states(v), ir.vartype)
        e = ir.energies(full)
        for b in range(ir.batch_size):
            grounds = full[np.isclose(e[b], e[b].min(), rtol=0, atol=1e-9)]
            assert np.all(grounds[:, result.step.indices] == result.step.values[b])


def test_fix_variables_uses_the_intersection_over_the_batch() -> None:
    # problem 0: both variables forced to 1; problem 1: x0 forced to 1, x1 a tie (not fixed)
    ir = QuadraticIR.from_coo(linear=[[-1.0, -1.0], [-1.0, 0.0]], rows=[], cols=[], data=np.zeros((2, 0)))
    result = fix_variables(ir)
    assert result.fixed_per_problem.tolist() == [2, 1]
    assert result.step.indices.tolist() == [0] and result.step.values.tolist() == [[1], [1]]
    assert result.ir.num_variables == 1 and result.ir.linear.tolist() == [[-1.0], [0.0]]
    assert result.ir.offset.tolist() == [-1.0, -1.0]


# --------------------------------------------------------------------------- pruning
@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
def test_prune_bounds_hold_for_every_assignment(vartype: Vartype) -> None:
    ir = random_ir(7, vartype=vartype)
    out = prune_couplings(ir, threshold=0.6)
    assert out.pruned.min() > 0 and out.ir.num_variables == ir.num_variables
    x = in_vartype(all_states(ir.num_variables), vartype)
    diff = out.ir.energies(x) - ir.energies(x)
    assert np.all(diff >= out.shift_low[:, None] - 1e-12)
    assert np.all(diff <= out.shift_high[:, None] + 1e-12)
    ground_shift = ground_energies(out.ir) - ground_energies(ir)
    assert np.all(np.abs(ground_shift) <= out.error_bound + 1e-12)
    pruned_abs = np.abs(ir.data).clip(max=0.6) * (np.abs(ir.data) < 0.6)
    assert np.all(
        out.error_bound
        <= pruned_abs.sum(axis=1) + np.abs(ir.blocks * (np.abs(ir.blocks) < 0.6)).sum(axis=(1, 2, 3)) + 1e-12
    )
    if vartype == "SPIN":  # symmetric and tight
        np.testing.assert_allclose(-out.shift_low, out.shift_high)


def test_prune_drops_structure_pruned_everywhere() -> None:
    ir = QuadraticIR.from_coo(linear=np.zeros((2, 3)), rows=[0, 1], cols=[1, 2], data=[[0.01, 1.0], [0.02, 0.01]])
    out = prune_couplings(ir, threshold=0.1)
    assert out.ir.num_sparse_couplers == 1  # (0, 1) is small in both problems; (1, 2) only in one
    assert out.pruned.tolist() == [1, 2]
    assert out.ir.data.tolist() == [[1.0], [0.0]]
    with pytest.raises(InvalidInputError, match="threshold"):
        prune_couplings(ir, threshold=-1.0)


# --------------------------------------------------------------------------- the pass
def test_reduce_pass_records_and_decodes() -> None:
    problem = lower_attention(*np.random.default_rng(3).normal(size=(3, 2, 3, 3, 4)), bits=2)
    before = problem.ir.linear.copy()
    out, ctx = PassManager([ReducePass(prune_threshold=1e-3)]).run(problem.ir)
    assert np.array_equal(problem.ir.linear, before)
    record = ctx.records[0]
    report = ctx.get(ReductionReport)
    assert record.name == "reduce" and record.variables == out.num_variables and record.report is report
    assert report is not None and report.fixed_variables == problem.ir.num_variables - out.num_variables
    assert len(report.pruned_couplers) == len(report.energy_error_bound) == len(report.lower_bounds) == 2
    assert isinstance(ctx.decoders[-1], FixVariables)
    exact = get_backend("exact")
    best = []
    for b in range(out.batch_size):  # solve the reduced problems with the exact backend
        bqm = ir_to_bqm(out, b)
        ss = exact.sample(bqm)
        best.append([ss.first.sample[v] for v in bqm.variables])
    decoded = decode_samples(ctx.decoders, np.array(best)[:, None, :], batch_size=out.batch_size)
    ref = solve(problem, backend="exact")
    gap = problem.ir.energies(decoded)[:, 0] - ref.energies
    assert np.all(gap <= np.asarray(report.energy_error_bound) + 1e-9)


def test_reduce_pass_without_roof_duality_keeps_variables() -> None:
    ir = random_ir(2)
    out, ctx = PassManager([ReducePass(roof_duality=False, prune_threshold=0.5)]).run(ir)
    assert out.num_variables == ir.num_variables and not ctx.decoders
    report = ctx.get(ReductionReport)
    assert report is not None and report.pruned_couplers[0] > 0 and report.fixed_variables == 0


def test_triviality_per_problem_and_labels() -> None:
    from qama_compile import lower_attention
    from qama_compile.passes.reduce import ground_state_triviality

    rng = np.random.default_rng(5)
    raw = lower_attention(*rng.normal(size=(3, 3, 1, 4, 6)), bits=2, normalize="none")  # one head: no penalty
    report = ground_state_triviality(raw.ir)
    assert report.checked and report.trivial == (True, True, True) and report.fixed_per_problem == (8, 8, 8)
    assert report.message() is not None and "problems 0, 1, 2 of 3" in report.message()  # type: ignore[operator]
    # an exact ground state agrees: every token selected
    from qama_compile import solve

    assert np.all(solve(raw, backend="exact").weights > 0)
    standard = lower_attention(*rng.normal(size=(3, 1, 2, 6, 6)), bits=2)
    res = ground_state_triviality(standard.ir)
    ground = solve(standard, backend="exact").weights
    assert res.trivial == (False,)
    if res.fixed_per_problem[0] == 24:  # fully fixed, yet not every token selected
        assert not bool(np.all(ground > 0)) and res.all_selected == (False,)
    skipped = ground_state_triviality(standard.ir, max_couplers=10)
    assert not skipped.checked and skipped.trivial == () and "skipped" in skipped.reason
    assert skipped.message() is None

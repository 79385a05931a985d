"""Decomposition planning: partitions, alternates and the pass (qama_compile.passes.decompose)."""

from __future__ import annotations

import numpy as np
import pytest

from qama_compile import InvalidInputError, ProblemTooLargeError
from qama_compile.core.ir import QuadraticIR
from qama_compile.passes.base import PassManager
from qama_compile.passes.decompose import DecomposePass, DecomposePlan, alternate_plans, plan_blocks
from qama_compile.targets import get_target

from ..helpers import check_plan, qama


# --------------------------------------------------------------------------- plans
@pytest.mark.parametrize("limit", [2, 3, 4, 6, 8, 9, 16, 40])
def test_plans_partition_and_respect_the_limit(limit: int) -> None:
    ir = qama(0, heads=3, tokens=4, bits=2)  # heads of 8 variables, tokens of 2
    plan = plan_blocks(ir, max_variables=limit)
    check_plan(ir, plan.blocks, limit)
    assert plan.strategy == ("head" if limit >= 8 else "tokens")
    tokens_of = ir.labels[:, 0] * 100 + ir.labels[:, 1]
    for block in plan.blocks:  # a token's bits are never split
        for t in np.unique(tokens_of[block]):
            assert np.all(np.isin(np.flatnonzero(tokens_of == t), block))
    for alt in alternate_plans(ir, plan):
        check_plan(ir, alt.blocks, limit)


def test_head_strategy_packs_whole_heads() -> None:
    ir = qama(0, heads=3, tokens=4, bits=2)
    assert plan_blocks(ir, max_variables=16, strategy="head").sizes == [16, 8]
    assert plan_blocks(ir, max_variables=24).sizes == [24]
    heads = plan_blocks(ir, max_variables=8, strategy="head").blocks
    assert [set(ir.labels[b, 0].tolist()) for b in heads] == [{0}, {1}, {2}]


def test_generic_ir_is_split_into_chunks() -> None:
    rng = np.random.default_rng(0)
    ir = QuadraticIR.from_coo(
        linear=rng.normal(size=(1, 10)), rows=np.arange(9), cols=np.arange(1, 10), data=rng.normal(size=(1, 9))
    )
    plan = plan_blocks(ir, max_variables=4)
    check_plan(ir, plan.blocks, 4)
    assert plan.sizes == [4, 4, 2]


def test_too_large_to_split_raises_with_counts_and_limit() -> None:
    ir = qama(0, heads=2, tokens=4, bits=4)  # 32 variables, heads of 16, tokens of 4
    with pytest.raises(ProblemTooLargeError, match=r"one token has 4 variables.*limit is 3.*32 variables") as info:
        plan_blocks(ir, max_variables=3)
    assert (info.value.fields["size"], info.value.fields["limit"], info.value.fields["unit"]) == (4, 3, "variables")
    with pytest.raises(ProblemTooLargeError, match=r"a head has 16 variables.*limit of 8") as info:
        plan_blocks(ir, max_variables=8, strategy="head")
    assert (info.value.fields["size"], info.value.fields["limit"]) == (16, 8)


def test_bad_options_are_refused() -> None:
    ir = qama(0)
    with pytest.raises(InvalidInputError, match="strategy"):
        plan_blocks(ir, max_variables=4, strategy="rows")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="max_variables"):
        plan_blocks(ir, max_variables=0)


# --------------------------------------------------------------------------- the pass
def test_pass_adds_a_plan_that_says_whether_it_is_needed() -> None:
    ir = qama(0, heads=2, tokens=5, bits=2)  # 20 variables, heads of 10
    out, ctx = PassManager([DecomposePass(max_variables=8)]).run(ir)
    assert out is ir
    plan = ctx.get(DecomposePlan)
    assert plan is not None and ctx.records[0].report is plan
    assert plan.needed and plan.sizes == [6, 4, 6, 4] and "20 variables > limit 8" in plan.reason

    _, ctx = PassManager([DecomposePass(max_variables=64)]).run(ir)
    plan = ctx.get(DecomposePlan)
    assert plan is not None and not plan.needed and plan.reason == "fits" and plan.sizes == [20]

    _, ctx = PassManager([DecomposePass(max_variables=30, max_clique=6)]).run(ir)
    plan = ctx.get(DecomposePlan)
    assert plan is not None and plan.needed and max(plan.sizes) <= 6 and "largest clique 6" in plan.reason


def test_pass_takes_its_limits_from_the_target() -> None:
    ir = qama(0, heads=2, tokens=16, bits=2)  # 64 variables, heads of 32
    _, ctx = PassManager([DecomposePass()]).run(ir, target=get_target("chimera-c16"))  # K_64, 2048 qubits
    plan = ctx.get(DecomposePlan)
    assert plan is not None and not plan.needed  # heads of 32 fit the 64-clique
    _, ctx = PassManager([DecomposePass()]).run(qama(0, heads=1, tokens=40, bits=2), target=get_target("chimera-c16"))
    plan = ctx.get(DecomposePlan)
    assert plan is not None and plan.needed and max(plan.sizes) <= 64
    _, ctx = PassManager([DecomposePass()]).run(ir, target=get_target("cim-550"))
    plan = ctx.get(DecomposePlan)
    assert plan is not None and plan.max_variables == 549  # 550 spins, one is the ancilla for the fields


def test_pass_refuses_to_run_without_any_limit() -> None:
    with pytest.raises(InvalidInputError, match="needs a limit"):
        PassManager([DecomposePass()]).run(qama(0))


def test_pass_raises_when_nothing_fits() -> None:
    ir = qama(0, heads=2, tokens=3, bits=4)
    with pytest.raises(ProblemTooLargeError, match="limit is 2"):
        PassManager([DecomposePass(max_variables=2)]).run(ir)

"""The pass interface: manager invariants, records, combining pipelines, generic decoders."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from qama_compile.core.decode import (
    FixVariables,
    VartypeChange,
    as_batched_samples,
    decode_samples,
    decode_samples_with_info,
)
from qama_compile.core.ir import QuadraticIR
from qama_compile.errors import CompilationError, InvalidInputError
from qama_compile.passes import available_passes, get_pass
from qama_compile.passes.base import Pass, PassContext, PassManager, PassRecord
from qama_compile.passes.options import CompileOptions
from qama_compile.passes.reports import PassReport


def _ir() -> QuadraticIR:
    return QuadraticIR.from_coo(
        linear=[[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]],
        rows=[0, 1],
        cols=[1, 2],
        data=[[2.0, -1.0], [1.0, 1.0]],
        offset=[0.5, -0.5],
        meta={"tag": [1]},
    )


@dataclass(frozen=True)
class ScaleReport(PassReport):
    factor: float


@dataclass(frozen=True)
class Scale(Pass):
    name: ClassVar[str] = "scale"
    factor: float = 2.0

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        context.add(ScaleReport(factor=self.factor))
        return QuadraticIR(
            vartype=ir.vartype,
            linear=ir.linear * self.factor,
            offset=ir.offset,
            blocks=ir.blocks,
            rows=ir.rows,
            cols=ir.cols,
            data=ir.data,
            labels=ir.labels,
            meta=dict(ir.meta),
        )


class ReturnsNone(Pass):
    name: ClassVar[str] = "bad"

    def run(self, ir, context):  # type: ignore[no-untyped-def]
        return None


class MutatesMeta(Pass):
    name: ClassVar[str] = "mutates-meta"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        ir.meta["tag"].append(2)
        return ir


class WritesArray(Pass):
    name: ClassVar[str] = "writes"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        ir.linear[0, 0] = 99.0  # read-only: numpy raises
        return ir


def test_records_one_per_pass_with_counts_and_report() -> None:
    ir = _ir()
    out, ctx = PassManager([Scale(), Scale(factor=3.0)]).run(ir)
    assert [r.name for r in ctx.records] == ["scale", "scale"]
    assert all(isinstance(r, PassRecord) for r in ctx.records)
    assert ctx.records[0].variables == 3 and ctx.records[0].couplers == 2 and ctx.records[0].qubits is None
    assert ctx.records[1].report == ScaleReport(factor=3.0) and ctx.get(ScaleReport) == ScaleReport(factor=3.0)
    assert ctx.records[0].as_dict()["report"] == {"type": "ScaleReport", "factor": 2.0}
    np.testing.assert_allclose(out.linear, ir.linear * 6)


def test_input_ir_is_never_mutated() -> None:
    ir = _ir()
    before = (ir.linear.copy(), ir.data.copy(), ir.offset.copy(), dict(ir.meta))
    PassManager([Scale(), Scale()]).run(ir)
    np.testing.assert_array_equal(ir.linear, before[0])
    np.testing.assert_array_equal(ir.data, before[1])
    assert ir.meta == before[3]
    with pytest.raises(ValueError, match="read-only"):
        PassManager([WritesArray()]).run(ir)
    with pytest.raises(CompilationError, match="mutated its input"):
        PassManager([MutatesMeta()]).run(_ir())


def test_pass_must_return_an_ir() -> None:
    with pytest.raises(CompilationError, match="returned NoneType"):
        PassManager([ReturnsNone()]).run(_ir())
    with pytest.raises(InvalidInputError, match="QuadraticIR"):
        PassManager([Scale()]).run("not an ir")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Pass instances"):
        PassManager([Scale])  # type: ignore[list-item]


def test_combining_pipelines_leaves_both_unchanged() -> None:
    a, b = PassManager([Scale()]), PassManager([Scale(factor=3.0), Scale(factor=5.0)])
    ab = a + b
    assert len(ab) == 3 and len(a) == 1 and len(b) == 2
    assert ab.passes == a.passes + b.passes
    assert (a + Scale()).names == ["scale", "scale"] and len(a) == 1
    assert len(Scale() + a) == 2 and len([Scale()] + b) == 3  # noqa: RUF005 - tests __radd__
    out, _ = ab.run(_ir())
    np.testing.assert_allclose(out.linear, _ir().linear * 30)


def test_context_options_are_typed_and_frozen_and_on_record_called() -> None:
    seen: list[str] = []
    _, ctx = PassManager([Scale()]).run(_ir(), options=CompileOptions(seed=3), on_record=lambda r: seen.append(r.name))
    assert ctx.options.seed == 3 and ctx.options.embedding == "auto"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.options.seed = 4  # type: ignore[misc]
    assert seen == ["scale"]
    with pytest.raises(InvalidInputError, match="not both"):
        PassManager([Scale()]).run(_ir(), options=CompileOptions(), context=ctx)
    with pytest.raises(InvalidInputError, match="PassReport"):
        ctx.add({"factor": 1.0})  # type: ignore[arg-type]


class DropsAVariable(Pass):
    name: ClassVar[str] = "drops"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        return QuadraticIR.from_coo(linear=ir.linear[:, 1:], vartype=ir.vartype)


class DropsAProblem(Pass):
    name: ClassVar[str] = "drops-problem"

    def run(self, ir: QuadraticIR, context: PassContext) -> QuadraticIR:
        return ir.select([0])


def test_manager_enforces_decoders_and_batch_size() -> None:
    with pytest.raises(CompilationError, match="without appending a decoder"):
        PassManager([DropsAVariable()]).run(_ir())
    with pytest.raises(CompilationError, match="changed the batch size"):
        PassManager([DropsAProblem()]).run(_ir())


def test_fix_variables_and_vartype_change_decode_in_reverse_order() -> None:
    steps = [
        FixVariables(indices=np.array([0, 3]), values=np.array([[1, 0], [0, 1]]), num_variables=4),
        VartypeChange(source="BINARY", target="SPIN"),
    ]
    out = decode_samples(steps, np.array([[[1, -1]], [[-1, -1]]]))
    assert out.tolist() == [[[1, 1, 0, 0]], [[0, 0, 0, 1]]]
    x, info = decode_samples_with_info(steps, np.array([[1, 1]]), batch_size=2)
    assert x.shape == (2, 1, 4) and info == {}
    assert VartypeChange(source="SPIN", target="BINARY").decode(np.array([[[0, 1]]])).tolist() == [[[-1, 1]]]
    with pytest.raises(InvalidInputError):
        FixVariables(indices=np.array([0]), values=np.array([1, 0]), num_variables=2)
    with pytest.raises(InvalidInputError):
        as_batched_samples(np.zeros((1, 1, 1, 1)))


def test_pass_registry() -> None:
    assert {"analysis", "embed", "quantize", "reduce", "decompose"} <= set(available_passes())
    assert get_pass("embed", method="clique").name == "embed"
    with pytest.raises(KeyError, match="known passes"):
        get_pass("nope")

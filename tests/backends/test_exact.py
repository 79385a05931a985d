from __future__ import annotations

import dimod
import numpy as np
import pytest
from dimod.testing.asserts import assert_sampler_api, assert_sampleset_energies
from hypothesis import given
from hypothesis import strategies as st
from qama_backends.exact import ExactSampler

from qama_compile.errors import InvalidInputError, ProblemTooLargeError


@given(st.integers(1, 12), st.sampled_from(["SPIN", "BINARY"]), st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_matches_dimod_exact_solver(n: int, vartype: str, seed: int, k: int) -> None:
    bqm = dimod.generators.gnp_random_bqm(n, 0.6, vartype, random_state=seed)
    ours = ExactSampler().sample(bqm, num_reads=k)
    ref = dimod.ExactSolver().sample(bqm)
    assert_sampleset_energies(ours, bqm)
    want = np.sort(ref.record.energy)[: min(k, 2**n)]
    assert np.allclose(ours.record.energy, want)


def test_split_enumeration_above_low_bits() -> None:
    bqm = dimod.generators.gnp_random_bqm(19, 0.5, "SPIN", random_state=3)  # exercises the high part
    ours = ExactSampler().sample(bqm, num_reads=4)
    assert_sampleset_energies(ours, bqm)
    ref = dimod.ExactSolver().sample(bqm).lowest()
    assert ours.first.energy == pytest.approx(ref.first.energy)


def test_dimod_conformance() -> None:
    assert_sampler_api(ExactSampler())


def test_empty_and_offset_only() -> None:
    bqm = dimod.BinaryQuadraticModel({}, {}, 2.5, "BINARY")
    ss = ExactSampler().sample(bqm)
    assert ss.first.energy == 2.5 and len(ss.variables) == 0


def test_refuses_large_problems_before_allocating() -> None:
    bqm = dimod.BinaryQuadraticModel({i: 1.0 for i in range(40)}, {}, 0.0, "SPIN")
    with pytest.raises(ProblemTooLargeError, match="40 variables; the limit is 30") as info:
        ExactSampler().sample(bqm)
    assert info.value.size == 40 and info.value.limit == 30


def test_bad_options() -> None:
    bqm = dimod.BinaryQuadraticModel({"a": 1.0}, {}, 0.0, "SPIN")
    with pytest.raises(InvalidInputError, match="num_reads"):
        ExactSampler().sample(bqm, num_reads=0)
    with pytest.raises(InvalidInputError, match="unknown option"):
        ExactSampler().sample(bqm, sweeps=3)


def test_progress_counts_every_state() -> None:
    from qama_compile.core.ir import QuadraticIR

    rng = np.random.default_rng(0)
    for v in (10, 18):  # one batched table, and the chunked low/high split
        iu, ju = np.triu_indices(v, k=1)
        ir = QuadraticIR.from_coo(linear=rng.normal(size=(2, v)), rows=iu, cols=ju, data=rng.normal(size=(2, iu.size)))
        seen: list[tuple[int, int]] = []
        x = ExactSampler().sample_ir(ir, progress=lambda d, t, seen=seen: seen.append((d, t)))[0]
        assert seen[-1] == (2 * 2**v, 2 * 2**v)
        np.testing.assert_array_equal(x, ExactSampler().sample_ir(ir)[0])
    assert ExactSampler.default_num_reads == 1

"""``sa`` / ``tabu`` / ``steepest``: dwave-samplers passed through, limits declared, the SA quality bar."""

from __future__ import annotations

import dimod
import numpy as np
import pytest
from qama_backends.dwave_samplers import SASampler, SteepestDescentSampler, TabuSampler
from qama_backends.exact import ExactSampler

from qama_compile import get_backend, lower_attention
from qama_compile.errors import InvalidInputError, ProblemTooLargeError
from qama_compile.runtime.solve import solve

# (heads, tokens, bits): 12..20 variables
_SHAPES = [(2, 3, 2), (2, 4, 2), (1, 5, 3), (2, 5, 2), (3, 3, 2), (2, 7, 1), (1, 4, 4), (4, 4, 1), (2, 3, 3), (1, 5, 4)]


def random_qama(i: int, shapes: list[tuple[int, int, int]] = _SHAPES):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(500 + i)
    h, n, bits = shapes[i % len(shapes)]
    d = int(rng.integers(3, 9))
    return lower_attention(*rng.normal(size=(3, h, n, d)), bits=bits)


@pytest.mark.parametrize(
    ("name", "cls"), [("sa", SASampler), ("tabu", TabuSampler), ("steepest", SteepestDescentSampler)]
)
def test_registered_with_declared_limits(name: str, cls: type) -> None:
    sampler = get_backend(name)
    assert type(sampler) is cls
    props = sampler.properties
    assert props["native_graph"] is None and props["max_variables"] >= 10**5 and props["description"]
    assert {"num_reads", "seed"} <= set(sampler.parameters)


def test_options_pass_through_to_dwave_samplers() -> None:
    bqm = dimod.generators.gnp_random_bqm(12, 0.5, "SPIN", random_state=3)
    ours = SASampler().sample(bqm, num_reads=7, num_sweeps=50, beta_range=[0.1, 5.0], seed=11)
    from dwave.samplers import SimulatedAnnealingSampler

    theirs = SimulatedAnnealingSampler().sample(bqm, num_reads=7, num_sweeps=50, beta_range=[0.1, 5.0], seed=11)
    np.testing.assert_array_equal(ours.record.sample, theirs.record.sample)
    np.testing.assert_allclose(ours.record.energy, theirs.record.energy)
    assert ours.info["beta_range"] == [0.1, 5.0] and ours.info["backend"] == "sa"


def test_constructor_defaults_and_call_overrides() -> None:
    bqm = dimod.generators.gnp_random_bqm(10, 0.5, "BINARY", random_state=4)
    sampler = get_backend("sa", num_sweeps=20, beta_schedule_type="linear")
    ss = sampler.sample(bqm, num_reads=3, seed=1)
    assert ss.info["beta_schedule_type"] == "linear"
    override = sampler.sample(bqm, num_reads=3, seed=1, beta_schedule_type="geometric")
    assert override.info["beta_schedule_type"] == "geometric"


def test_same_seed_same_samples() -> None:
    bqm = dimod.generators.gnp_random_bqm(15, 0.6, "SPIN", random_state=5)
    for sampler in (SASampler(), TabuSampler(timeout=5), SteepestDescentSampler()):
        a = sampler.sample(bqm, num_reads=5, seed=9)
        b = sampler.sample(bqm, num_reads=5, seed=9)
        np.testing.assert_array_equal(a.record.sample, b.record.sample)


def test_unknown_options_and_limits_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="num_sweepz") as err:
        SASampler(num_sweepz=10)
    assert "num_sweeps" in str(err.value)  # the fix lists the library's parameters
    bqm = dimod.generators.gnp_random_bqm(6, 0.5, "SPIN", random_state=6)
    with pytest.raises(InvalidInputError, match="bogus"):
        TabuSampler().sample(bqm, bogus=1)
    with pytest.raises(ProblemTooLargeError, match="limited to 5 variables") as too:
        SteepestDescentSampler(max_variables=5).sample(bqm)
    assert too.value.fields["size"] == 6 and too.value.fields["limit"] == 5


def test_steepest_reads_are_local_minima() -> None:
    bqm = dimod.generators.gnp_random_bqm(12, 0.5, "SPIN", random_state=7)
    ss = SteepestDescentSampler().sample(bqm, num_reads=10, seed=2)
    for sample, energy in ss.data(["sample", "energy"]):
        for v in bqm.variables:  # no single flip lowers the energy
            flipped = dict(sample)
            flipped[v] = -flipped[v]
            assert bqm.energy(flipped) >= energy - 1e-9


def test_sa_quality_bar_finds_the_exact_ground_state_in_19_of_20() -> None:
    hits, sizes = 0, []
    for i in range(20):
        problem = random_qama(i)
        bqm = problem.to_bqm(0)
        sizes.append(bqm.num_variables)
        ground = ExactSampler().sample(bqm).first.energy
        result = solve(problem, backend="sa", num_reads=100, seed=i)
        assert problem.energies(result.samples[:, None])[0, 0] == pytest.approx(result.energies[0])
        assert result.energies[0] >= ground - 1e-9
        hits += bool(result.energies[0] <= ground + 1e-9)
    assert min(sizes) >= 12 and max(sizes) <= 20
    assert hits >= 19, f"sa found the ground state in {hits}/20"


def test_sa_on_a_target_decodes_to_logical_ground_states() -> None:
    problem = lower_attention(*np.random.default_rng(11).normal(size=(3, 2, 2, 3, 4)), bits=2)  # 2 x 12 variables
    result = solve(problem, backend="sa", num_reads=50, seed=0, target="dwave-advantage")
    exact = solve(problem, backend="exact")
    assert result.info.target == "dwave-advantage" and result.info.physical_qubits > 12
    assert len(result.info.chain_break_fraction) == 2
    assert all(0.0 <= f <= 1.0 for f in result.info.chain_break_fraction)
    for b in range(2):  # logical energies recomputed from the logical problem
        np.testing.assert_allclose(result.read_energies[b], problem.energies(result.read_samples[b])[b])
        assert set(result.samplesets[b].variables) != set(problem.to_bqm(b).variables)  # physical qubits
    assert result.energies == pytest.approx(exact.energies, abs=1e-9)

"""Tests of the coherent Ising machine emulator backend (``qama_backends.cim``)."""

from __future__ import annotations

import dimod
import dimod.testing
import numpy as np
import pytest
import scipy.sparse as sp
from qama_backends.cim import MACHINES, CIMSampler, couplings_from_ir, sample_ir, sample_ising_arrays
from qama_backends.cim_couplings import Couplings
from qama_backends.cim_dynamics import default_schedule
from qama_backends.cim_polish import greedy_descent
from qama_backends.exact import ExactSampler

from qama_compile import QuadraticIR, get_backend, lower_attention
from qama_compile.errors import InvalidInputError, ProblemTooLargeError, QamaError


def _sk_bqm(n: int, seed: int) -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.choice([-1.0, 1.0], size=(n, n)), 1)
    return dimod.BinaryQuadraticModel(np.zeros(n), upper, 0.0, "SPIN")


def _random_bqm(n: int, seed: int, vartype: str = "SPIN") -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.normal(size=(n, n)), 1)
    return dimod.BinaryQuadraticModel(rng.normal(size=n), upper, float(rng.normal()), vartype)


def ising_energies(h: np.ndarray, J: np.ndarray, spins: np.ndarray) -> np.ndarray:
    s = np.asarray(spins, dtype=np.float64)
    return np.einsum("brv,brv->br", s, h[:, None, :] + 0.5 * np.matmul(s, J))


def _qama_problems(count: int) -> list:
    """Random QAMA problems with 12..20 binary variables (H x N x bits)."""
    shapes = [(2, 3), (2, 4), (2, 5), (3, 3), (1, 6), (1, 8), (1, 10), (3, 3)]
    out = []
    for i in range(count):
        heads, tokens = shapes[i % len(shapes)]
        rng = np.random.default_rng(1000 + i)
        dim = int(rng.integers(2, 9))
        q, k, v = rng.normal(size=(3, heads, tokens, dim))
        out.append(lower_attention(q, k, v, bits=2))
    return out


# ----------------------------------------------------------------------------- dimod API
def test_sampler_conformance_and_properties() -> None:
    sampler = CIMSampler()
    dimod.testing.asserts.assert_sampler_api(sampler)
    props = sampler.properties
    assert props["native_graph"] is None
    assert props["max_variables"] >= 100_000
    assert "coherent Ising machine" in props["description"]
    for name in ("num_reads", "seed", "method", "num_steps", "dt", "polish"):
        assert name in sampler.parameters
    assert isinstance(get_backend("cim"), CIMSampler)


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_energies_are_the_bqm_energies(vartype: str) -> None:
    bqm = _random_bqm(12, seed=3, vartype=vartype)
    ss = CIMSampler().sample(bqm, num_reads=20, seed=0, num_steps=100)
    assert ss.vartype is bqm.vartype
    assert len(ss) == 20
    dimod.testing.asserts.assert_sampleset_energies(ss, bqm)
    samples = ss.record.sample
    assert set(np.unique(samples)) <= set(bqm.vartype.value)
    recomputed = bqm.energies((samples, ss.variables))
    np.testing.assert_allclose(ss.record.energy, recomputed, rtol=0, atol=1e-9)
    # the best read is the exact ground state for 12 variables
    exact = ExactSampler().sample(bqm).first.energy
    assert ss.first.energy == pytest.approx(exact, abs=1e-9)


def test_sign_convention_matches_dimod() -> None:
    """dimod minimises E = sum h s + sum J s s: J < 0 aligns, J > 0 anti-aligns, h > 0 pushes s to -1."""
    ferro = dimod.BinaryQuadraticModel.from_ising({}, {(i, i + 1): -1.0 for i in range(5)})
    s = CIMSampler().sample(ferro, num_reads=10, seed=1).first.sample
    assert len({s[i] for i in range(6)}) == 1
    anti = dimod.BinaryQuadraticModel.from_ising({0: 0.5}, {(i, i + 1): 1.0 for i in range(5)})
    ss = CIMSampler().sample(anti, num_reads=10, seed=1)
    s = ss.first.sample
    assert [s[i] for i in range(6)] == [-1, 1, -1, 1, -1, 1]
    assert ss.first.energy == pytest.approx(-5.5)
    field = dimod.BinaryQuadraticModel.from_ising({"a": 2.0, "b": -3.0}, {})
    s = CIMSampler().sample(field, num_reads=4, seed=0).first.sample
    assert s == {"a": -1, "b": 1}


def test_same_seed_same_samples_and_seed_matters() -> None:
    bqm = _sk_bqm(40, seed=5)
    a = CIMSampler().sample(bqm, num_reads=16, seed=7, num_steps=60, polish=False)
    b = CIMSampler().sample(bqm, num_reads=16, seed=7, num_steps=60, polish=False)
    c = CIMSampler().sample(bqm, num_reads=16, seed=8, num_steps=60, polish=False)
    np.testing.assert_array_equal(a.record.sample, b.record.sample)
    np.testing.assert_array_equal(a.record.energy, b.record.energy)
    assert not np.array_equal(a.record.sample, c.record.sample)


def test_info_reports_steps_times_and_scaling() -> None:
    bqm = _sk_bqm(30, seed=2)
    ss = CIMSampler(machine="honjo2021").sample(bqm, num_reads=10, seed=0, num_steps=120, method="ahc")
    info = ss.info
    assert info["steps"] == 120 and info["method"] == "ahc"
    assert info["wall_time_s"] > 0
    period = MACHINES["honjo2021"].round_trip_s
    assert info["emulated_time_per_read_s"] == pytest.approx(120 * period)
    assert info["emulated_hardware_time_s"] == pytest.approx(120 * period * 10)
    # scale = |lambda_min(J)| / 2 (Lanczos estimate, from inside: within a few per cent)
    J = np.zeros((30, 30))
    for (u, v), c in bqm.quadratic.items():
        J[u, v] = J[v, u] = c
    lam_min = np.linalg.eigvalsh(J)[0]
    assert info["scale"][0] == pytest.approx(-lam_min / 2, rel=0.05)
    assert info["structure"] == "dense" and info["device"] == "cpu"
    assert info["polish"] is True and info["polish_flips_mean"] >= 0


def test_ocean_composite_and_inputs_not_mutated() -> None:
    bqm = _random_bqm(10, seed=4)
    before = bqm.copy()
    tracked = dimod.TrackingComposite(CIMSampler())
    ss = tracked.sample(bqm, num_reads=5, seed=0, num_steps=50)
    assert len(ss) == 5 and tracked.input["bqm"] is bqm
    assert bqm == before
    h = np.ones((1, 4))
    J = np.zeros((1, 4, 4))
    J[0, 0, 1] = J[0, 1, 0] = 1.0
    h0, j0 = h.copy(), J.copy()
    sample_ising_arrays(h, J, num_reads=3, seed=0, num_steps=20)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(J, j0)


def test_empty_and_single_variable_problems() -> None:
    empty = dimod.BinaryQuadraticModel({}, {}, 1.5, "BINARY")
    ss = CIMSampler().sample(empty, num_reads=3, seed=0)
    assert len(ss) == 3 and np.all(ss.record.energy == 1.5)
    one = dimod.BinaryQuadraticModel({"x": 1.0}, {}, 0.0, "BINARY")
    assert CIMSampler().sample(one, num_reads=2, seed=0).first.sample == {"x": 0}


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"method": "magic"}, InvalidInputError),
        ({"num_reads": 0}, InvalidInputError),
        ({"num_reads": 2.5}, InvalidInputError),
        ({"seed": -1}, InvalidInputError),
        ({"dt": 0.0}, InvalidInputError),
        ({"num_steps": 0}, InvalidInputError),
        ({"bogus_option": 1}, InvalidInputError),
        ({"use_torch": "sometimes"}, InvalidInputError),
        ({"num_threads": 0}, InvalidInputError),
        ({"structure": "triangular"}, InvalidInputError),
        ({"device": "tpu"}, InvalidInputError),
        ({"use_torch": False, "device": "cuda"}, InvalidInputError),
    ],
)
def test_bad_options_raise_clear_errors(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        CIMSampler().sample(_random_bqm(4, seed=0), **kwargs)
    assert isinstance(info.value, QamaError)
    assert "fix:" in str(info.value)


def test_bad_arrays_and_limits() -> None:
    h = np.zeros((1, 3))
    asym = np.zeros((1, 3, 3))
    asym[0, 0, 1] = 1.0
    with pytest.raises(InvalidInputError, match="symmetric"):
        sample_ising_arrays(h, asym)
    diag = np.eye(3)[None]
    with pytest.raises(InvalidInputError, match="diagonal"):
        sample_ising_arrays(h, diag)
    bad = np.zeros((1, 3, 3))
    bad[0, 0, 1] = bad[0, 1, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        sample_ising_arrays(h, bad)
    with pytest.raises(InvalidInputError, match="J must be"):
        sample_ising_arrays(h, np.zeros((2, 3, 3)))
    with pytest.raises(ProblemTooLargeError) as info:
        CIMSampler(max_variables=5).sample(_random_bqm(6, seed=0))
    assert info.value.fields == {"size": 6, "limit": 5, "unit": "variables"}
    with pytest.raises(InvalidInputError, match="machine"):
        CIMSampler(machine="nope")


# ----------------------------------------------------------------------------- array API
def test_sample_ising_arrays_batched_matches_per_problem_ground_states() -> None:
    rng = np.random.default_rng(11)
    b, v = 3, 10
    upper = np.triu(rng.normal(size=(b, v, v)), 1)
    J = upper + np.swapaxes(upper, 1, 2)
    h = rng.normal(size=(b, v))
    spins, energies, info = sample_ising_arrays(h, J, num_reads=30, seed=2)
    assert spins.shape == (b, 30, v) and spins.dtype == np.int8
    assert set(np.unique(spins)) <= {-1, 1}
    np.testing.assert_allclose(energies, ising_energies(h, J, spins), atol=1e-9)
    for i in range(b):
        bqm = dimod.BinaryQuadraticModel(h[i], upper[i], 0.0, "SPIN")
        assert energies[i].min() == pytest.approx(ExactSampler().sample(bqm).first.energy, abs=1e-9)
    assert info["steps"] == default_schedule("cac", v).num_steps


@pytest.mark.parametrize("use_torch", [False, True])
def test_dense_sparse_numpy_torch_paths_agree_on_ground_state(use_torch: bool) -> None:
    if use_torch:
        pytest.importorskip("torch")
    bqm = _random_bqm(14, seed=9)
    exact = ExactSampler().sample(bqm).first.energy - bqm.offset
    vectors = bqm.to_numpy_vectors(variable_order=range(14))
    lin, (r, c, d) = vectors[0], vectors[1]
    upper = np.zeros((14, 14))
    upper[r, c] = d
    J = upper + upper.T
    h = np.asarray(lin)[None]
    _, e_dense, info = sample_ising_arrays(h, J[None], num_reads=30, seed=1, use_torch=use_torch, num_threads=1)
    assert info["torch"] is use_torch and not info["sparse"] and info["device"] == "cpu"
    _, e_sparse, info_s = sample_ising_arrays(h, sp.csr_matrix(J), num_reads=30, seed=1, use_torch=use_torch)
    assert info_s["sparse"] and info_s["structure"] == "sparse"
    assert e_dense.min() == pytest.approx(exact, abs=1e-9)
    assert e_sparse.min() == pytest.approx(exact, abs=1e-9)


def test_sample_ir_batched_qama_matches_exact() -> None:
    rng = np.random.default_rng(21)
    problem = lower_attention(*rng.normal(size=(3, 4, 2, 4, 5)), bits=2)  # B=4, H=2, N=4: 16 variables
    samples, energies, info = sample_ir(problem.ir, num_reads=50, seed=3)
    assert samples.shape == (4, 50, 16) and set(np.unique(samples)) <= {0, 1}
    np.testing.assert_allclose(energies, problem.ir.energies(samples), atol=1e-9)
    assert info["vartype"] == "BINARY"
    for b in range(4):
        exact = ExactSampler().sample(problem.to_bqm(b)).first.energy
        assert energies[b].min() == pytest.approx(exact, abs=1e-9)


@pytest.mark.parametrize("structure", ["auto", "dense", "blocks", "sparse"])
def test_couplings_from_ir_reproduce_ir_energies(structure: str) -> None:
    rng = np.random.default_rng(5)
    problem = lower_attention(*rng.normal(size=(3, 2, 3, 3, 4)), bits=2)
    c, offset = couplings_from_ir(problem.ir, structure=structure)
    spins = rng.choice([-1, 1], size=(2, 7, problem.ir.num_variables))
    np.testing.assert_allclose(c.energies(spins) + offset[:, None], problem.ir.to_spin().energies(spins), atol=1e-9)
    assert c.kind == {"auto": "dense", "dense": "dense", "blocks": "blocks+sparse", "sparse": "sparse"}[structure]
    coo = QuadraticIR.from_coo(linear=[[0.0, 0.0, 0.0]], rows=[0, 1], cols=[2, 2], data=[[1.0, -2.0]], vartype="SPIN")
    c2, _ = couplings_from_ir(coo, structure="dense")
    assert c2.dense is not None
    assert c2.dense[0, 0, 2] == c2.dense[0, 2, 0] == 1.0 and c2.dense[0, 1, 2] == -2.0


@pytest.mark.parametrize("method", ["ahc", "basic"])
def test_other_methods_solve_small_frustrated_problems(method: str) -> None:
    bqm = _sk_bqm(16, seed=4)
    exact = ExactSampler().sample(bqm).first.energy
    ss = CIMSampler().sample(bqm, num_reads=50, seed=0, method=method)
    assert ss.info["method"] == method
    assert ss.first.energy == pytest.approx(exact)


def test_greedy_descent_reaches_local_minima_without_raising_energy() -> None:
    rng = np.random.default_rng(8)
    upper = np.triu(rng.normal(size=(2, 25, 25)), 1)
    J = upper + np.swapaxes(upper, 1, 2)
    h = rng.normal(size=(2, 25))
    start = rng.choice([-1.0, 1.0], size=(2, 12, 25))
    out = greedy_descent(Couplings.from_dense(h, J), start)
    before, after = ising_energies(h, J, start), ising_energies(h, J, out.spins)
    np.testing.assert_allclose(out.energies, after, atol=1e-9)
    assert np.all(after <= before + 1e-12)
    assert np.all(out.flips >= (out.spins != start).sum(axis=-1)) and out.flips.sum() > 0
    field = h[:, None, :] + np.matmul(out.spins.astype(float), J)
    assert np.all(-2 * out.spins * field >= -1e-9)  # no single flip lowers the energy


# ----------------------------------------------------------------------------- quality bars
def test_qama_ground_state_in_19_of_20_problems() -> None:
    sampler, hits = CIMSampler(), 0
    for i, problem in enumerate(_qama_problems(20)):
        bqm = problem.to_bqm(0)
        assert 12 <= bqm.num_variables <= 20
        exact = ExactSampler().sample(bqm).first.energy
        ss = sampler.sample(bqm, num_reads=100, seed=i)
        dimod.testing.asserts.assert_sampleset_energies(ss, bqm)
        hits += ss.first.energy <= exact + 1e-9
    assert hits >= 19


@pytest.mark.slow
def test_sk256_within_one_percent_of_simulated_annealing() -> None:
    from dwave.samplers import SimulatedAnnealingSampler

    bqm = _sk_bqm(256, seed=0)
    sa = SimulatedAnnealingSampler().sample(bqm, num_reads=100, num_sweeps=1000, seed=1).first.energy
    ss = CIMSampler().sample(bqm, num_reads=100, seed=0)
    dimod.testing.asserts.assert_sampleset_energies(ss, bqm)
    best = ss.first.energy
    assert best <= sa + 0.01 * abs(sa), (best, sa)


def test_progress_reports_round_trips() -> None:
    bqm = dimod.BinaryQuadraticModel.from_ising({0: 0.5}, {(0, 1): -1.0, (1, 2): 0.5})
    seen: list[tuple[int, int]] = []
    ss = CIMSampler().sample(bqm, num_reads=4, seed=0, num_steps=50, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (50, 50) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    again = CIMSampler().sample(bqm, num_reads=4, seed=0, num_steps=50)  # progress does not change the samples
    np.testing.assert_array_equal(ss.record.sample, again.record.sample)
    h = np.zeros((3, 4))
    J = np.zeros((3, 4, 4))
    J[:, 0, 1] = J[:, 1, 0] = 1.0
    calls: list[tuple[int, int]] = []
    sample_ising_arrays(h, J, num_reads=2, seed=0, num_steps=20, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1]  # every chunk of problems is counted


def test_estimate_and_default_reads() -> None:
    sampler = CIMSampler()
    ir = lower_attention(*np.random.default_rng(0).normal(size=(3, 2, 4, 4)), bits=2).ir
    assert sampler.default_num_reads == 100
    one = sampler.estimate_time_s(ir, num_reads=10)
    assert one > 0 and sampler.estimate_time_s(ir, num_reads=20) == pytest.approx(2 * one)
    assert sampler.estimate_time_s(ir, num_reads=10, num_steps=1000) > one

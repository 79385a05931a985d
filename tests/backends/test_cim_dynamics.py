"""The CIM emulator's integrator, normalisation, device choice and batched path."""

from __future__ import annotations

import dimod
import numpy as np
import pytest
from qama_backends.cim import CIMSampler, sample_ir, sample_ising_arrays
from qama_backends.cim_arrays import cuda_available, limit_threads, resolve_ops
from qama_backends.cim_couplings import Couplings
from qama_backends.cim_dynamics import default_schedule, effective_dt, normalisation, run_dynamics
from qama_backends.exact import ExactSampler

from qama_compile import lower_attention
from qama_compile.errors import InvalidInputError
from qama_compile.runtime.sampling import BatchSampler, sample_batch


def _sk(n: int, seed: int, batch: int = 1) -> tuple[np.ndarray, np.ndarray]:
    upper = np.triu(np.random.default_rng(seed).choice([-1.0, 1.0], size=(batch, n, n)), 1)
    return np.zeros((batch, n)), upper + np.swapaxes(upper, 1, 2)


@pytest.mark.parametrize("method", ["cac", "ahc", "basic", "dsb"])
def test_every_method_finds_small_ground_states_and_is_deterministic(method: str) -> None:
    h, J = _sk(16, seed=4)
    bqm = dimod.BinaryQuadraticModel(h[0], np.triu(J[0], 1), 0.0, "SPIN")
    exact = ExactSampler().sample(bqm).first.energy
    a = sample_ising_arrays(h, J, num_reads=40, seed=3, method=method)
    b = sample_ising_arrays(h, J, num_reads=40, seed=3, method=method)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1].min() == pytest.approx(exact)
    assert a[2]["method"] == method


def test_spectral_normalisation_puts_sk_where_the_constants_were_chosen() -> None:
    h, J = _sk(400, seed=1)
    norm = normalisation(Couplings.from_dense(h, J, sparse=False))
    # SK: lambda_min ~ -2 sqrt(n), so sigma = |lambda_min| / 2 ~ sqrt(n) and the stiffness ~ 2
    assert norm.scale[0] == pytest.approx(np.sqrt(400), rel=0.1)
    assert norm.stiffness[0] == pytest.approx(2.2, rel=0.15)
    # fields only: scaled by their RMS; nothing at all: scale 1
    fields = normalisation(Couplings.from_dense(np.array([[3.0, -4.0]]), np.zeros((1, 2, 2)), sparse=False))
    assert fields.scale[0] == pytest.approx(np.sqrt(12.5))
    empty = normalisation(Couplings.from_dense(np.zeros((1, 2)), np.zeros((1, 2, 2)), sparse=False))
    assert empty.scale[0] == 1.0


def test_stiff_problems_get_a_shorter_euler_step() -> None:
    cac = default_schedule("cac", 100, dt=0.15, feedback=0.5, stability=1.0)
    assert effective_dt(cac, 2.0) == pytest.approx(0.15)
    assert effective_dt(cac, 40.0) == pytest.approx(1.0 / (0.5 * 40.0))
    dsb = default_schedule("dsb", 100, dt=1.25, feedback=0.5, stability=1.8)
    assert effective_dt(dsb, 2.0) == pytest.approx(1.25)
    assert effective_dt(dsb, 40.0) == pytest.approx(1.8 / np.sqrt(1 + 0.5 * 40.0))
    # a sparse max-cut graph (adjacency: lambda_max >> |lambda_min|) is stiff; the run reports it
    rng = np.random.default_rng(0)
    upper = np.triu((rng.random((120, 120)) < 0.3).astype(float), 1)
    _, _, info = sample_ising_arrays(np.zeros(120), upper + upper.T, num_reads=2, seed=0, num_steps=20)
    assert info["stiffness"][0] > 5 and info["dt_effective"] <= info["schedule"]["dt"]


def test_run_dynamics_accepts_a_generator_and_reports_counters() -> None:
    h, J = _sk(12, seed=2, batch=2)
    out = run_dynamics(
        Couplings.from_dense(h, J),
        num_reads=5,
        schedule=default_schedule("cac", 12, num_steps=30),
        seed=np.random.default_rng(1),
    )
    assert out.spins.shape == (2, 5, 12) and out.energy_checks == 3 and out.steps == 30
    recomputed = np.einsum("brv,brv->br", out.spins.astype(float), 0.5 * np.matmul(out.spins.astype(float), J))
    np.testing.assert_allclose(out.energies, recomputed, atol=1e-9)


def test_batched_sample_ir_is_the_batch_sampler_route_and_structured() -> None:
    rng = np.random.default_rng(3)
    problem = lower_attention(*rng.normal(size=(3, 3, 3, 16, 4)), bits=3, normalize="standardise")  # V = 144
    sampler = CIMSampler()
    assert isinstance(sampler, BatchSampler)
    x, e, info = sampler.sample_ir(problem.ir, num_reads=8, seed=0, num_steps=60)
    assert info["structure"] == "blocks+sparse" and x.shape == (3, 8, 144)
    np.testing.assert_allclose(e, problem.ir.energies(x), rtol=1e-12, atol=1e-9)
    out = sample_batch(problem.ir, sampler, num_reads=8, seed=0, num_steps=60)
    assert out.route == "batched"
    np.testing.assert_array_equal(np.stack(out.samples), x)


def test_torch_on_the_cpu_solves_like_numpy() -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(21)
    problem = lower_attention(*rng.normal(size=(3, 3, 2, 40, 4)), bits=2)  # B=3, V=160: blocks + penalty
    _, e_np, _ = sample_ir(problem.ir, num_reads=16, seed=3)
    x_t, e_t, info = sample_ir(problem.ir, num_reads=16, seed=3, use_torch=True, device="cpu")
    assert info["torch"] and info["device"] == "cpu" and info["structure"] == "blocks+sparse"
    np.testing.assert_allclose(e_t, problem.ir.energies(x_t), atol=1e-9)
    np.testing.assert_allclose(e_t.min(axis=1), e_np.min(axis=1), rtol=1e-9, atol=1e-9)
    for method in ("dsb", "basic"):
        _, e_m, _ = sample_ir(problem.ir, num_reads=16, seed=3, use_torch=True, method=method)
        assert np.all(np.isfinite(e_m))


def test_device_choice_and_thread_limits() -> None:
    assert resolve_ops("auto").name == ("torch" if cuda_available() else "numpy")
    assert resolve_ops("cpu").name == "numpy"
    with pytest.raises(InvalidInputError, match="device"):
        resolve_ops("gpu0")
    if not cuda_available():
        with pytest.raises(InvalidInputError, match="CUDA"):
            resolve_ops("cuda")
    with pytest.raises(InvalidInputError, match="num_threads"), limit_threads(0):
        pass
    with limit_threads(1):  # a no-op when the pools already run one thread
        h, J = _sk(8, seed=0)
        assert sample_ising_arrays(h, J, num_reads=2, seed=0, num_steps=5, num_threads=1)[0].shape == (1, 2, 8)


def test_check_false_skips_validation_but_solves_the_same() -> None:
    h, J = _sk(20, seed=6)
    a = sample_ising_arrays(h, J, num_reads=6, seed=1, num_steps=80)
    b = sample_ising_arrays(h, J, num_reads=6, seed=1, num_steps=80, check=False)
    np.testing.assert_array_equal(a[0], b[0])


def test_sparse_bqms_take_the_sparse_path_and_their_defaults() -> None:
    # a planted ferromagnet on a sparse random graph (gauge g): ground state s = g, E = -|edges|
    rng = np.random.default_rng(4)
    n = 300
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, size=(900, 2)).tolist() if p[0] != p[1]}
    g = rng.choice([-1, 1], size=n)
    bqm = dimod.BinaryQuadraticModel.from_ising({}, {(i, j): -float(g[i] * g[j]) for i, j in pairs})
    ss = CIMSampler().sample(bqm, num_reads=8, seed=0, num_steps=300)
    assert ss.info["structure"] == "sparse"
    assert ss.info["schedule"]["feedback"] == default_schedule("dsb", n, sparse=True).feedback
    assert ss.first.energy == pytest.approx(-len(pairs))
    dense = CIMSampler().sample(bqm, num_reads=8, seed=0, num_steps=300, structure="dense")
    assert dense.info["structure"] == "dense" and dense.first.energy == pytest.approx(-len(pairs))

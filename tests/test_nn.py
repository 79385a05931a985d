"""The QAMA operator in PyTorch: formulas vs the numpy reference, energies vs the IR,
energy-based gradients vs finite differences, no NaN, the solver path and the module."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from qama_compile.core import hamiltonian as ref
from qama_compile.core.lowering import build_qama_ir
from qama_compile.errors import InvalidInputError, UnknownNameError
from qama_compile.nn import energy as ne
from qama_compile.nn import layer as qnn

F64 = torch.float64


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


# ---------------------------------------------------------------- formulas match numpy
@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0])
def test_js_coupling_matches_numpy(rng: np.random.Generator, scale: float) -> None:
    q, k = rng.normal(scale=scale, size=(2, 3, 2, 5, 7))
    got = ne.js_coupling(_t(q), _t(k)).numpy()
    np.testing.assert_allclose(got, ref.js_coupling(q, k), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["normal", "positive", "zeros", "constant", "zero_sum", "tiny", "huge"])
def test_value_entropy_matches_numpy(rng: np.random.Generator, kind: str) -> None:
    v = {
        "normal": rng.normal(size=(3, 6, 8)),
        "positive": rng.uniform(0.01, 2.0, size=(3, 6, 8)),
        "zeros": np.zeros((3, 6, 8)),
        "constant": np.full((3, 6, 8), -2.5),
        "zero_sum": np.tile([1.0, -1.0, 2.0, -2.0], (3, 6, 2)),
        "tiny": rng.uniform(0, 1e-9, size=(3, 6, 8)),
        "huge": rng.normal(scale=1e6, size=(3, 6, 8)),
    }[kind]
    got = ne.value_entropy(_t(v)).numpy()
    np.testing.assert_allclose(got, ref.value_entropy(v), rtol=1e-12, atol=1e-12)


def test_bit_and_token_weights_match_numpy() -> None:
    np.testing.assert_array_equal(ne.bit_weights(4).numpy(), ref.bit_weights(4))
    x = torch.tensor([[1, 0, 1, 1, 0, 0]])
    np.testing.assert_allclose(ne.token_weights(x, heads=1, tokens=2, bits=3).numpy(), [[[5 / 7, 1 / 7]]])
    with pytest.raises(InvalidInputError):
        ne.token_weights(x, heads=2, tokens=2, bits=3)


@pytest.mark.parametrize("heads", [1, 3])
def test_token_energies_plus_penalty_equal_ir_energy(rng: np.random.Generator, heads: int) -> None:
    b, n, bits, lam = 4, 5, 3, 2.0
    couplings = rng.normal(size=(b, heads, n, n))  # signed, as after batch norm
    fields = rng.normal(size=(b, heads, n))
    ir = build_qama_ir(couplings, fields, bits=bits, alpha=0.7, beta=1.3, penalty=lam)
    x = rng.integers(0, 2, size=(b, heads * n * bits))
    w = ne.token_weights(torch.from_numpy(x), heads=heads, tokens=n, bits=bits)
    h_ti = ne.token_energies(_t(couplings), _t(fields), w, alpha=0.7, beta=1.3)
    xs = x.reshape(b, heads, n * bits).astype(float)
    pairs = heads * (heads - 1) // 2
    total = xs.sum(axis=1)
    penalty = lam / pairs * ((total**2 - total) / 2).sum(axis=-1) if pairs else 0.0
    expected = ir.energies(x[:, None, :])[:, 0]
    np.testing.assert_allclose(h_ti.sum(dim=(1, 2)).numpy() + penalty, expected, atol=1e-10)


# ---------------------------------------------------------------- gradients
def test_gradcheck_fixed_solution(rng: np.random.Generator) -> None:
    """Energy-based backward of the core (J, h -> A, H -> output) with x held fixed."""
    q, k, v = (_t(a).requires_grad_() for a in rng.normal(size=(3, 2, 2, 4, 3)))
    w = torch.tensor([[1.0, 0.0, 2 / 3, 1 / 3], [0.0, 0.0, 0.0, 0.0]], dtype=F64).expand(2, 2, 4)

    def fn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, _attn, energies = ne.qama_attention(q, k, v, w, alpha=0.8, beta=1.2)
        return out, energies

    assert torch.autograd.gradcheck(fn, (q, k, v), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_gradcheck_module_with_exact_backend() -> None:
    """The whole layer (projections, JS, entropy, batch norm, attention) in float64.

    The solver is the exact backend, so x is the unique ground state; the check asserts
    that x is the same before and after, then re-runs gradcheck with that x fixed
    (``solution=``), which is what the perturbed evaluations see.
    """
    torch.manual_seed(0)
    layer = qnn.QAMultiheadAttention(6, 2, bits=2, backend="exact", num_reads=1).double()
    inp = torch.randn(2, 3, 6, dtype=F64, requires_grad=True)
    layer(inp)
    x0 = layer.last_solution
    assert x0 is not None and layer.last_solve_info["path"] == "batched"

    def fn(t: torch.Tensor) -> torch.Tensor:
        return layer(t, solution=x0)[0]

    assert torch.autograd.gradcheck(fn, (inp,), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)
    # Gradients reach the query, key and value projections.
    layer.zero_grad()
    layer(inp, solution=x0)[0].square().sum().backward()
    for proj in (layer.q_proj, layer.k_proj, layer.v_proj):
        assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0
    layer(inp)
    # the solver returns the same x again at this point
    assert layer.last_solution is not None and torch.equal(layer.last_solution, x0)


@pytest.mark.parametrize("kind", ["zeros", "constant", "huge", "zero_sum_values"])
def test_no_nan_forward_backward(kind: str) -> None:
    torch.manual_seed(1)
    if kind == "zero_sum_values":
        v = torch.tensor([[1.0, -1.0, 0.5, -0.5], [-1e-8, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=F64)
        v = v.expand(2, 3, 4).clone().requires_grad_()
        q = torch.zeros(2, 3, 4, dtype=F64, requires_grad=True)
        out, _a, energies = ne.qama_attention(q, q, v, torch.ones(2, 3, dtype=F64))
        (out.sum() + energies.sum()).backward()
        assert torch.isfinite(out).all() and v.grad is not None and torch.isfinite(v.grad).all()
        return
    layer = qnn.QAMultiheadAttention(8, 2, bits=2, backend="sa", num_reads=2)
    inp = {"zeros": torch.zeros(3, 4, 8), "constant": torch.full((3, 4, 8), 3.0), "huge": 1e4 * torch.randn(3, 4, 8)}[
        kind
    ].requires_grad_()
    for train in (True, False):
        layer.train(train)
        out, masks = layer(inp)
        out.sum().backward()
        assert torch.isfinite(out).all() and masks is not None and torch.isfinite(masks).all()
        assert inp.grad is not None and torch.isfinite(inp.grad).all()
        for p in layer.parameters():
            assert p.grad is None or torch.isfinite(p.grad).all()


# ---------------------------------------------------------------- solver path
def test_solve_ir_batch_per_item_finds_ground_state(rng: np.random.Generator) -> None:
    couplings, fields = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(3, 2, 3))
    ir = build_qama_ir(couplings, fields, bits=2, alpha=1.0, beta=1.0, penalty=2.0)
    x, e, info = qnn.solve_ir_batch(ir, backend="exact", num_reads=1)
    states = ((np.arange(2**12)[:, None] >> np.arange(12)) & 1).astype(np.int8)
    np.testing.assert_allclose(e, ir.energies(states).min(axis=1), atol=1e-12)
    np.testing.assert_allclose(ir.energies(x[:, None])[:, 0], e)
    assert info["path"] == "batched" and x.dtype == np.int8


def test_solve_ir_batch_uses_a_batch_sampler(rng: np.random.Generator) -> None:
    """A sampler with ``sample_ir`` serves the whole batch in one call; the best read wins."""
    ir = build_qama_ir(rng.normal(size=(2, 1, 2, 2)), rng.normal(size=(2, 1, 2)), bits=1, alpha=1, beta=1, penalty=2)
    states = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], dtype=np.int8)
    calls: list[int] = []

    class Batched:
        def sample_ir(self, ir_: object, *, num_reads: int, seed: int) -> tuple[np.ndarray, None, dict[str, str]]:
            calls.append(num_reads)
            bits = np.broadcast_to((states + 1) // 2, (2, 4, 2))
            return bits, None, {"fake": "yes"}

    x, e, info = qnn.solve_ir_batch(ir, backend=Batched(), num_reads=4, seed=3)  # type: ignore[arg-type]
    all_e = ir.energies(((states + 1) // 2)[None].repeat(2, 0))
    np.testing.assert_allclose(e, all_e.min(axis=1))
    assert calls == [4] and info["path"] == "batched" and set(np.unique(x)) <= {0, 1}


# ---------------------------------------------------------------- module behaviour
def test_module_shapes_timing_and_batch_first() -> None:
    torch.manual_seed(2)
    layer = qnn.QAMultiheadAttention(8, 2, bits=2, backend="exact", num_reads=1).eval()
    inp = torch.randn(2, 3, 8)
    out, masks = layer(inp, need_weights=True)
    assert out.shape == (2, 3, 8) and masks is not None and masks.shape == (2, 2, 3, 3)
    w = layer.last_weights
    assert w is not None
    torch.testing.assert_close(masks, (w[..., :, None] * w[..., None, :]).float())
    assert layer.solve_calls == 1 and layer.last_solve_time_s > 0
    assert layer.total_solve_time_s == pytest.approx(layer.last_solve_time_s)
    att = layer.last_attention
    assert att is not None
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 2, 3))
    # batch_first=False with the same weights gives the same output
    seq_first = qnn.QAMultiheadAttention(8, 2, bits=2, backend="exact", num_reads=1, batch_first=False).eval()
    seq_first.load_state_dict(layer.state_dict())
    out2, _ = seq_first(inp.transpose(0, 1), need_weights=False)
    torch.testing.assert_close(out2.transpose(0, 1), out)
    assert layer(inp, need_weights=False)[1] is None
    avg = layer(inp, average_attn_weights=True)[1]
    assert avg is not None and avg.shape == (2, 3, 3)
    assert layer.solve_calls == 3


def test_module_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInputError):
        qnn.QAMultiheadAttention(7, 2)
    with pytest.raises(InvalidInputError):
        qnn.QAMultiheadAttention(8, 2, bits=9)
    with pytest.raises(UnknownNameError):
        qnn.QAMultiheadAttention(8, 2, backend="no-such-backend")
    layer = qnn.QAMultiheadAttention(8, 2, bits=1, backend="exact")
    with pytest.raises(InvalidInputError):
        layer(torch.randn(2, 3, 8), attn_mask=torch.zeros(3, 3))
    with pytest.raises(InvalidInputError):
        layer(torch.randn(2, 3, 8), is_causal=True)
    with pytest.raises(InvalidInputError):
        layer(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 4, 8))
    with pytest.raises(InvalidInputError):
        layer(torch.randn(2, 3, 8), solution=torch.full((2, 6), 2))


def test_import_without_torch_raises_missing_dependency() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import qama_compile\n"
        "try:\n    import qama_compile.nn\nexcept qama_compile.MissingDependencyError as e:\n    print('OK', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert res.stdout.startswith("OK") and "pip install" in res.stdout, res.stdout + res.stderr


def test_module_on_cim_backend_uses_one_batched_call() -> None:
    torch.manual_seed(3)
    layer = qnn.QAMultiheadAttention(
        8, 2, bits=2, backend="cim", num_reads=2, backend_options={"num_threads": 1}
    ).eval()
    out, masks = layer(torch.randn(5, 4, 8))
    assert out.shape == (5, 4, 8) and masks is not None and torch.isfinite(out).all()
    assert layer.last_solve_info["path"] == "batched" and layer.solve_calls == 1
    energy = layer.last_solver_energy
    assert energy is not None and energy.shape == (5,)

"""qama_compile.nn.QAMA: one batched solve, energies, padding, masks, seeds, gradients, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from qama_compile.errors import InvalidInputError, QamaError, TracingError, UnknownNameError
from qama_compile.nn import QAMA
from qama_compile.nn.functional import soft_weights, token_energies

F64 = torch.float64


def _qkv(
    b: int, h: int, n: int, d: int = 4, *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, d, generator=g, dtype=dtype) for _ in range(3)]


def _penalty(x: np.ndarray, lam: float) -> np.ndarray:
    """Head penalty ``lam / P sum_{t<t'} sum_{i,r} x_tir x_t'ir`` of ``x [B, H, T, bits]``."""
    heads = x.shape[1]
    pairs = heads * (heads - 1) // 2
    if not pairs:
        return np.zeros(x.shape[0])
    overlap = sum((x[:, t] * x[:, u]).sum(axis=(1, 2)) for t in range(heads) for u in range(t + 1, heads))
    return lam / pairs * overlap


# ---------------------------------------------------------------- the solve
@pytest.mark.parametrize("backend", ["exact", "cim"])
def test_one_batched_solve_per_forward(backend: str) -> None:
    op = QAMA(2, bits=2, backend=backend, num_reads=2, seed=0, sample_options={} if backend == "exact" else None)
    q, k, v = _qkv(5, 2, 3)
    out = op(q, k, v)
    assert out.shape == (5, 2, 3, 4) and torch.isfinite(out).all()
    info = op.last_solve_info
    assert op.solve_calls == 1 and info["calls"] == 1 and info["path"] == "batched"
    assert info["groups"] == [{"tokens": 3, "items": 5, "variables": 2 * 3 * 2}]
    x = op.last_solution
    assert x is not None and x.dtype == torch.int8 and x.shape == (5, 2, 3, 2) and set(x.unique().tolist()) <= {0, 1}
    assert op.last_solve_time_s > 0 and op.total_solve_time_s == pytest.approx(op.last_solve_time_s)


def test_solver_energy_is_the_sum_of_token_energies_plus_penalty() -> None:
    """The energy the backward differentiates is the energy the solver minimised."""
    op = QAMA(3, bits=2, alpha=0.8, beta=1.2, penalty=1.5, backend="exact", num_reads=1, seed=0).double()
    q, k, v = _qkv(4, 3, 2, dtype=F64)
    mask = torch.tensor([[False, True], [False, False]])  # forbid the pair (query 0, key 1)
    op(q, k, v, attn_mask=mask)
    energies, x = op.last_energies, op.last_solution
    assert energies is not None and x is not None and op.last_solver_energy is not None
    total = energies.sum(dim=(1, 2)).numpy() + _penalty(x.numpy(), 1.5)
    np.testing.assert_allclose(total, op.last_solver_energy, atol=1e-10)


def test_exact_solution_is_stable_and_gradcheck_with_it_fixed() -> None:
    """The whole operator (JS, entropy, three batch norms, energy, output) in float64 with x fixed."""
    torch.manual_seed(0)
    op = QAMA(2, bits=2, backend="exact", num_reads=1, seed=0).double()
    q, k, v = (t.requires_grad_() for t in _qkv(2, 2, 3, seed=1, dtype=F64))
    with torch.no_grad():  # positive values: inside the clamp, so v's gradient is exercised
        v.abs_().add_(0.1)
    op(q, k, v)
    x0 = op.last_solution
    assert x0 is not None

    def fwd(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return op(a, b, c, solution=x0)

    assert torch.autograd.gradcheck(fwd, (q, k, v), eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)
    op(q, k, v)
    assert torch.equal(op.last_solution, x0)  # the solver picks the same x at this point


def test_subclass_can_replace_the_solver() -> None:
    """``solve`` is the override point (the solver-free ablation of the experiments)."""

    class Everything(QAMA):
        def solve(self, couplings: torch.Tensor, fields: torch.Tensor, **_: Any) -> torch.Tensor:
            b, h, _, n = couplings.shape
            return torch.ones(b, h, n, self.bits, dtype=torch.int8)

    op = Everything(2, bits=2, backend="exact")
    q, k, v = _qkv(2, 2, 3)
    op(q, k, v)
    assert op.last_weights is not None and torch.equal(op.last_weights, torch.ones(2, 2, 3, dtype=F64))
    assert op.solve_calls == 0


def test_options_reach_the_backend() -> None:
    op = QAMA(2, bits=1, backend="cim", num_reads=3, seed=0, backend_options={"num_threads": 1},
              sample_options={"num_steps": 17})  # fmt: skip
    op(*_qkv(2, 2, 3))
    assert op.sampler.num_threads == 1
    assert op.last_solve_info["backend_info"]["steps"] == 17 and op.last_solve_info["num_reads"] == 3
    bad = QAMA(2, bits=1, backend="cim", sample_options={"no_such_option": 1})
    with pytest.raises(InvalidInputError, match="no_such_option"):
        bad(*_qkv(2, 2, 3))


@given(
    heads=st.integers(1, 2),
    tokens=st.integers(2, 3),
    bits=st.integers(1, 2),
    lengths=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_padded_problems_are_solved_exactly_and_consistently(
    heads: int, tokens: int, bits: int, lengths: list[int], seed: int
) -> None:
    """Any padding: padded bits are 0, each item's energy is a ground state of its kept tokens'
    problem, and it equals the sum of the token energies plus the head penalty."""
    lengths = [min(n, tokens) for n in lengths]
    b = len(lengths)
    pad = torch.arange(tokens)[None, :] >= torch.tensor(lengths)[:, None]
    op = QAMA(heads, bits=bits, backend="exact", num_reads=1, seed=0).double().eval()  # any length, even 1
    q, k, v = _qkv(b, heads, tokens, seed=seed, dtype=F64)
    op(q, k, v, key_padding_mask=pad)
    x, energies = op.last_solution, op.last_energies
    assert x is not None and energies is not None and op.last_solver_energy is not None
    assert not x.bool().any(-1).transpose(1, 2)[pad].any()
    total = energies.sum(dim=(1, 2)).numpy() + _penalty(x.numpy(), op.penalty)
    np.testing.assert_allclose(total, op.last_solver_energy, atol=1e-9)
    with torch.no_grad():
        couplings, fields, _ = op.couplings_and_fields(q, k, v, _padding(pad, heads))
    for i, n in enumerate(lengths):  # enumerate the kept tokens' problem of item i
        nv = heads * n * bits
        states = torch.from_numpy(((np.arange(2**nv)[:, None] >> np.arange(nv)) & 1).reshape(-1, heads, n, bits))
        w = soft_weights(states)
        e = token_energies(couplings[i, :, :n, :n].expand(len(states), -1, -1, -1), fields[i, :, :n], w)
        best = (e.sum(dim=(1, 2)).numpy() + _penalty(states.numpy(), op.penalty)).min()
        assert op.last_solver_energy[i] == pytest.approx(best, abs=1e-9)


def _padding(pad: torch.Tensor, heads: int) -> Any:
    from qama_compile.nn.masks import canonical_masks

    b, n = pad.shape
    return canonical_masks(key_padding_mask=pad, attn_mask=None, batch=b, heads=heads, lq=n, lk=n)


# ---------------------------------------------------------------- seeds
def test_same_seed_same_output_and_calls_differ() -> None:
    q, k, v = _qkv(6, 2, 4, seed=3)
    a, b = (QAMA(2, bits=2, backend="sa", num_reads=1, seed=11) for _ in range(2))
    out_a, out_b = a(q, k, v), b(q, k, v)
    assert torch.equal(out_a, out_b) and torch.equal(a.last_solution, b.last_solution)
    seeds = {a.last_solve_info["seed"]}
    for _ in range(3):
        a(q, k, v)
        seeds.add(a.last_solve_info["seed"])
    assert len(seeds) == 4  # every call its own solver seed


def test_seed_none_follows_torch_manual_seed() -> None:
    q, k, v = _qkv(4, 2, 3, seed=4)
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        op = QAMA(2, bits=2, backend="sa", num_reads=1)
        runs.append((op(q, k, v), op.last_solve_info["seed"]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


# ---------------------------------------------------------------- padding and masks
def test_padded_keys_cost_no_variables_and_get_zero_weight() -> None:
    op = QAMA(2, bits=2, backend="exact", num_reads=1, seed=0)
    q, k, v = _qkv(4, 2, 5)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False] * 4 + [True], [False] * 5])
    out = op(q, k, v, key_padding_mask=pad)
    info = op.last_solve_info
    assert info["calls"] == 3  # lengths 3, 4, 5: one call each, not one per item
    assert sorted((g["tokens"], g["items"], g["variables"]) for g in info["groups"]) == [
        (3, 1, 12),
        (4, 1, 16),
        (5, 2, 20),
    ]
    x, w = op.last_solution, op.last_weights
    assert x is not None and w is not None
    assert not x[pad[:, None, :].expand(4, 2, 5)].any() and not w[pad[:, None, :].expand(4, 2, 5)].any()
    assert (out.transpose(1, 2)[pad] == 0).all() and torch.isfinite(out).all()


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_padding_is_invisible_to_the_kept_tokens(train: bool) -> None:
    """A padded sequence gives the kept tokens exactly what the unpadded sequence gives them."""
    q, k, v = _qkv(1, 2, 3, seed=5, dtype=F64)
    filler = [torch.randn(1, 2, 2, 4, dtype=F64) for _ in range(3)]
    padded = [torch.cat([t, f], dim=2) for t, f in zip((q, k, v), filler, strict=True)]
    ops = [QAMA(2, bits=2, backend="exact", num_reads=1, seed=0).double().train(train) for _ in range(2)]
    ops[1].load_state_dict(ops[0].state_dict())
    short = ops[0](q, k, v)
    long = ops[1](*padded, key_padding_mask=torch.tensor([[False, False, False, True, True]]))
    torch.testing.assert_close(long[:, :, :3], short, rtol=1e-12, atol=1e-12)
    assert torch.equal(ops[1].last_solution[:, :, :3], ops[0].last_solution)
    for name, buf in ops[0].state_dict().items():  # running statistics too: padding is not in them
        torch.testing.assert_close(ops[1].state_dict()[name], buf, rtol=1e-12, atol=1e-12, msg=name)


def test_attention_masks_bool_and_float_agree_and_remove_couplings() -> None:
    q, k, v = _qkv(3, 2, 4, seed=6, dtype=F64)
    forbid = torch.rand(4, 4, generator=torch.Generator().manual_seed(0)) < 0.4
    additive = torch.zeros(4, 4, dtype=F64).masked_fill(forbid, float("-inf"))
    outs = []
    for mask in (forbid, additive, forbid[None, None].expand(3, 2, 4, 4), forbid.repeat(6, 1, 1)):
        op = QAMA(2, bits=2, backend="exact", num_reads=1, seed=0).double()
        outs.append((op(q, k, v, attn_mask=mask), op.last_solution))
    for out, x in outs[1:]:
        assert torch.equal(out, outs[0][0]) and torch.equal(x, outs[0][1])
    # the forbidden pairs are out of the problem: the solver saw J = 0 there
    op = QAMA(2, bits=2, backend="exact", num_reads=1, seed=0).double()
    couplings, _, _ = op.couplings_and_fields(q, k, v, _masks(attn_mask=forbid, batch=3))
    assert (couplings[:, :, forbid] == 0).all() and (couplings[:, :, ~forbid] != 0).all()


def test_finite_attention_mask_values_shift_the_couplings() -> None:
    q, k, v = _qkv(2, 2, 3, seed=7, dtype=F64)
    shift = torch.tensor([[0.0, 0.5, -1.0], [2.0, 0.0, 0.0], [0.0, -0.25, 0.0]], dtype=F64)
    op = QAMA(2, bits=2, backend="exact").double()
    plain, _, _ = op.couplings_and_fields(q, k, v)
    shifted, _, _ = op.couplings_and_fields(q, k, v, _masks(attn_mask=shift))
    torch.testing.assert_close(shifted, plain + shift)


def _masks(*, attn_mask: torch.Tensor, batch: int = 2) -> Any:
    from qama_compile.nn.masks import canonical_masks

    lq, lk = attn_mask.shape[-2:]
    return canonical_masks(key_padding_mask=None, attn_mask=attn_mask, batch=batch, heads=2, lq=lq, lk=lk)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda op, q, k, v: op(q[0], k[0], v[0]), "must be \\[batch, heads, tokens, dim\\]"),
        (lambda op, q, k, v: op(q, k[:, :, :2], v[:, :, :2]), "must share"),
        (lambda op, q, k, v: op(q, k, v[:, :1]), "must share"),
        (lambda op, q, k, v: op(q.clone().index_fill_(2, torch.tensor([1]), float("nan")), k, v), "q contains NaN"),
        (lambda op, q, k, v: op(q, k, v * float("inf")), "v contains"),
        (lambda op, q, k, v: op(q, k, v, key_padding_mask=torch.ones(2, 3, dtype=torch.bool)), "pads every key"),
        (lambda op, q, k, v: op(q, k, v, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool)), "key_padding_mask"),
        (lambda op, q, k, v: op(q, k, v, key_padding_mask=torch.zeros(2, 3, dtype=torch.int64)), "dtype"),
        (lambda op, q, k, v: op(q, k, v, attn_mask=torch.zeros(3, 4)), "attn_mask has shape"),
        (lambda op, q, k, v: op(q, k, v, attn_mask=torch.full((3, 3), float("nan"))), "NaN"),
        (lambda op, q, k, v: op(q, k, v, solution=torch.zeros(2, 2, 3, 3)), "solution must be"),
        (lambda op, q, k, v: op(q, k, v, solution=torch.full((2, 2, 3, 2), 2)), "solution must be"),
        (
            lambda op, q, k, v: op(
                q, k, v, solution=torch.ones(2, 2, 3, 2), key_padding_mask=torch.tensor([[0, 0, 1], [0, 0, 0]]).bool()
            ),
            "padded key",
        ),
    ],
)
def test_bad_input_is_a_project_error_with_a_fix(call: Any, match: str) -> None:
    op = QAMA(2, bits=2, backend="exact")
    q, k, v = _qkv(2, 2, 3)
    with pytest.raises(InvalidInputError, match=match) as exc:
        call(op, q, k, v)
    assert exc.value.fix


def test_bad_options() -> None:
    for kwargs in ({"bits": 0}, {"bits": 9}, {"num_reads": 0}, {"eps": 0.0}, {"alpha": float("nan")},
                   {"seed": -1}, {"value_transform": "log"}, {"backend": 42}):  # fmt: skip
        with pytest.raises(InvalidInputError):
            QAMA(2, **kwargs)
    with pytest.raises(UnknownNameError):
        QAMA(2, backend="no-such-backend")
    with pytest.raises(InvalidInputError):
        QAMA(0)


def test_batch_norm_with_one_value_per_head_is_refused_in_training() -> None:
    op = QAMA(2, bits=1, backend="exact")
    q, k, v = _qkv(1, 2, 1)
    with pytest.raises(InvalidInputError, match="more than one value per head"):
        op(q, k, v)
    assert op.eval()(q, k, v).shape == (1, 2, 1, 4)


def test_non_finite_couplings_from_parameters_are_named() -> None:
    op = QAMA(2, bits=1, backend="exact")
    with torch.no_grad():
        op.coupling_norm.weight.fill_(float("nan"))
    with pytest.raises(InvalidInputError, match="couplings contain NaN") as exc:
        op(*_qkv(2, 2, 3))
    assert "learning rate" in str(exc.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_jit_trace_is_refused() -> None:
    op = QAMA(2, bits=1, backend="exact")
    with pytest.raises(TracingError) as exc:
        torch.jit.trace(op, tuple(_qkv(2, 2, 3)))
    assert isinstance(exc.value, QamaError) and "torch.compile" in (exc.value.fix or "")


def test_fixed_solution_energies_match_functional() -> None:
    op = QAMA(2, bits=3, backend="exact").double()
    q, k, v = _qkv(2, 2, 3, dtype=F64)
    x = torch.randint(0, 2, (2, 2, 3, 3), generator=torch.Generator().manual_seed(0))
    op(q, k, v, solution=x)
    couplings, fields, _ = QAMA(2, bits=3, backend="exact").double().couplings_and_fields(q, k, v)
    expected = token_energies(couplings, fields, soft_weights(x))
    assert op.last_energies is not None
    torch.testing.assert_close(op.last_energies, expected)

"""QAMultiheadAttention as a drop-in for torch.nn.MultiheadAttention: state dicts, conventions,
masks, cross-attention, transformer layers, torch.compile, jit.trace, devices, bad input."""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from torch import nn

from qama_compile.errors import InvalidInputError, TracingError
from qama_compile.nn import QAMA, QAMultiheadAttention

F64 = torch.float64
CONFIGS: list[dict[str, Any]] = [
    {},
    {"batch_first": True},
    {"kdim": 3, "vdim": 5},
    {"bias": False},
    {"add_bias_kv": True},
    {"add_zero_attn": True, "dropout": 0.1},
]
QUICK: dict[str, Any] = {"bits": 1, "backend": "exact", "num_reads": 1, "seed": 0}


def _x(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- parameters and state dicts
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(c) or "default")
def test_state_dict_of_torch_mha_loads_strictly(config: dict[str, Any]) -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, **config)
    torch.manual_seed(0)
    qa = QAMultiheadAttention(8, 2, **config, **QUICK)
    # same parameters, same names, same initialisation from the same torch seed
    mha_params = dict(mha.named_parameters())
    qa_params = dict(qa.named_parameters())
    assert set(mha_params) == {n for n in qa_params if not n.startswith("qama.")}
    for name, p in mha_params.items():
        assert torch.equal(qa_params[name], p), name
    other = QAMultiheadAttention(8, 2, **config, **QUICK)
    before = copy.deepcopy(other.qama.state_dict())
    result = other.load_state_dict(mha.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for name, p in mha.state_dict().items():
        assert torch.equal(other.state_dict()[name], p), name
    for name, t in before.items():  # the QAMA batch norms are kept as they were
        assert torch.equal(other.qama.state_dict()[name], t), name
    converted = QAMultiheadAttention.from_torch(mha, **QUICK)
    assert all(torch.equal(converted.state_dict()[n], p) for n, p in mha.state_dict().items())
    assert converted.batch_first == mha.batch_first and converted.dropout == mha.dropout


def test_state_dicts_round_trip_and_partial_qama_entries_stay_strict() -> None:
    a = QAMultiheadAttention(8, 2, **QUICK)
    with torch.no_grad():
        a.qama.coupling_norm.weight.fill_(3.0)
    b = QAMultiheadAttention(8, 2, **QUICK)
    b.load_state_dict(a.state_dict(), strict=True)
    assert torch.equal(b.qama.coupling_norm.weight, a.qama.coupling_norm.weight)
    partial = {k: v for k, v in a.state_dict().items() if k != "qama.field_norm.bias"}
    with pytest.raises(RuntimeError, match=r"qama\.field_norm\.bias"):
        b.load_state_dict(partial, strict=True)
    # inside a bigger model, with a prefix
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    qa_layer = copy.deepcopy(layer)
    qa_layer.self_attn = QAMultiheadAttention(8, 2, **QUICK)
    qa_layer.load_state_dict(layer.state_dict(), strict=True)
    assert torch.equal(qa_layer.self_attn.in_proj_weight, layer.self_attn.in_proj_weight)


def test_from_torch_refuses_other_modules() -> None:
    with pytest.raises(InvalidInputError, match="MultiheadAttention"):
        QAMultiheadAttention.from_torch(nn.Linear(2, 2))  # type: ignore[arg-type]


# ---------------------------------------------------------------- forward conventions
@pytest.mark.parametrize("output", ["paper", "masked-softmax"])
def test_layouts_and_return_convention(output: str) -> None:
    seq_first = QAMultiheadAttention(8, 2, output=output, **QUICK).eval()
    batch_first = QAMultiheadAttention(8, 2, batch_first=True, output=output, **QUICK).eval()
    batch_first.load_state_dict(seq_first.state_dict())
    x = _x(3, 2, 8)  # [tokens, batch, embed]
    out, weights = seq_first(x, x, x)
    assert out.shape == (3, 2, 8) and weights is not None and weights.shape == (2, 3, 3)
    out_bf, weights_bf = batch_first(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1))
    torch.testing.assert_close(out_bf.transpose(0, 1), out)
    assert weights_bf is not None
    torch.testing.assert_close(weights_bf, weights)
    per_head = seq_first(x, x, x, average_attn_weights=False)[1]
    assert per_head is not None and per_head.shape == (2, 2, 3, 3)
    torch.testing.assert_close(per_head.mean(dim=1), weights)
    assert seq_first(x, x, x, need_weights=False)[1] is None
    one, one_w = seq_first(x[:, 0], x[:, 0], x[:, 0])  # unbatched [tokens, embed]
    assert one.shape == (3, 8) and one_w is not None and one_w.shape == (3, 3)
    torch.testing.assert_close(one, out[:, 0])


def test_paper_output_is_qama_on_the_projections() -> None:
    """output='paper': in-projection, QAMA per head, heads merged, out_proj; weights are w_i w_j."""
    qa = QAMultiheadAttention(8, 2, batch_first=True, **QUICK).double()
    x = _x(3, 4, 8, dtype=F64)
    out, weights = qa(x, x, x, average_attn_weights=False)
    op = QAMA(2, bits=1, backend="exact").double()
    op.load_state_dict(qa.qama.state_dict())
    w_q, w_k, w_v = qa.in_proj_weight.chunk(3)
    b_q, b_k, b_v = qa.in_proj_bias.chunk(3)
    heads = [(x @ w.T + b).reshape(3, 4, 2, 4).transpose(1, 2) for w, b in ((w_q, b_q), (w_k, b_k), (w_v, b_v))]
    per_head = op(*heads, solution=qa.last_solution)
    expected = qa.out_proj(per_head.transpose(1, 2).reshape(3, 4, 8))
    torch.testing.assert_close(out, expected)
    w = qa.last_weights
    assert w is not None and weights is not None
    torch.testing.assert_close(weights, w[..., :, None] * w[..., None, :])


def test_masked_softmax_output_is_attention_over_selected_keys() -> None:
    qa = QAMultiheadAttention(8, 2, output="masked-softmax", batch_first=True, **{**QUICK, "bits": 2})
    x = _x(2, 4, 8, seed=1)
    _, attn = qa(x, x, x, average_attn_weights=False)
    w = qa.last_weights
    assert attn is not None and w is not None
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 2, 4))
    selected_any = (w > 0).any(-1)  # [B, H]
    unselected = (w == 0)[:, :, None, :].expand_as(attn) & selected_any[:, :, None, None]
    assert (attn[unselected] == 0).all()


# ---------------------------------------------------------------- masks and lengths
@pytest.mark.parametrize("output", ["paper", "masked-softmax"])
def test_key_padding_bool_and_float_agree_and_padded_keys_get_nothing(output: str) -> None:
    x = _x(5, 3, 8, seed=2)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False] * 4 + [True]])
    results = []
    first = QAMultiheadAttention(8, 2, output=output, **QUICK)
    for mask in (pad, torch.zeros(3, 5).masked_fill(pad, float("-inf"))):
        qa = QAMultiheadAttention(8, 2, output=output, **QUICK)
        qa.load_state_dict(first.state_dict())
        results.append((*qa(x, x, x, key_padding_mask=mask, average_attn_weights=False), qa.last_solve_info))
    (out, weights, info), (out2, weights2, _) = results
    assert torch.equal(out, out2) and weights is not None and weights2 is not None and torch.equal(weights, weights2)
    assert (weights.transpose(1, 3)[pad] == 0).all()  # no weight on a padded key, in any head or row
    assert info["calls"] == 3 and sum(g["variables"] for g in info["groups"]) == 2 * (5 + 3 + 4)
    assert torch.isfinite(out).all()


def test_attention_masks_and_is_causal() -> None:
    x = _x(4, 2, 8, seed=3)
    causal_bool = torch.ones(4, 4, dtype=torch.bool).triu(1)  # True = not allowed
    causal_float = nn.Transformer.generate_square_subsequent_mask(4)
    outs = []
    first = QAMultiheadAttention(8, 2, output="masked-softmax", **QUICK)
    for kwargs in (
        {"attn_mask": causal_bool},
        {"attn_mask": causal_float},
        {"attn_mask": causal_float, "is_causal": True},
        {"is_causal": True},
        {"attn_mask": causal_bool.repeat(2 * 2, 1, 1)},
    ):
        qa = QAMultiheadAttention(8, 2, output="masked-softmax", **QUICK)
        qa.load_state_dict(first.state_dict())
        out, attn = qa(x, x, x, **kwargs)
        assert attn is not None and (attn[:, causal_bool] == 0).all()
        outs.append(out)
    for out in outs[1:]:
        assert torch.equal(out, outs[0])


def test_cross_attention_of_other_lengths() -> None:
    """Lq != Lk: queries and keys are separate variables; masked-softmax works, paper refuses clearly."""
    qa = QAMultiheadAttention(8, 2, output="masked-softmax", kdim=6, vdim=6, **QUICK)
    tgt, mem = _x(3, 2, 8, seed=4), _x(5, 2, 6, seed=5)
    pad = torch.tensor([[False] * 5, [False, False, True, True, True]])
    out, attn = qa(tgt, mem, mem, key_padding_mask=pad)
    assert out.shape == (3, 2, 8) and attn is not None and attn.shape == (2, 3, 5)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 3))
    assert (attn[1, :, 2:] == 0).all()
    info = qa.last_solve_info
    assert info["layout"] == "bipartite"
    assert sorted(g["variables"] for g in info["groups"]) == [2 * (3 + 2), 2 * (3 + 5)]
    assert qa.last_solution is not None and qa.last_solution.shape == (2, 2, 3 + 5, 1)
    paper = QAMultiheadAttention(8, 2, kdim=6, vdim=6, **QUICK)
    with pytest.raises(InvalidInputError, match="masked-softmax"):
        paper(tgt, mem, mem)
    extra = QAMultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, output="masked-softmax", **QUICK)
    out, attn = extra(tgt, tgt, tgt, key_padding_mask=torch.zeros(2, 3, dtype=torch.bool))
    assert attn is not None and attn.shape == (2, 3, 5)


# ---------------------------------------------------------------- where users put attention
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("output", ["paper", "masked-softmax"])
def test_inside_transformer_encoder_layer_train_and_eval(batch_first: bool, output: str) -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=batch_first)
    layer.self_attn = QAMultiheadAttention.from_torch(layer.self_attn, output=output, **QUICK)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01)
    x = _x(2, 4, 8) if batch_first else _x(4, 2, 8)
    pad = torch.tensor([[False] * 4, [False, False, False, True]])
    for _ in range(2):
        loss = layer(x, src_key_padding_mask=pad).square().mean()
        opt.zero_grad()
        loss.backward()
        assert layer.self_attn.in_proj_weight.grad is not None and layer.self_attn.in_proj_weight.grad.abs().sum() > 0
        opt.step()
    layer.eval()
    calls = layer.self_attn.solve_calls
    with torch.no_grad():  # torch's fused inference path would bypass self_attn.forward; it must not
        y = layer(x, src_key_padding_mask=pad)
        y2 = layer(x)
    assert layer.self_attn.solve_calls == calls + 2 and torch.isfinite(y).all() and torch.isfinite(y2).all()


def test_inside_transformer_encoder_nested_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    """nn.TransformerEncoder's eval path turns padded batches into nested tensors; they work."""
    nested_calls: list[int] = []
    original = QAMultiheadAttention._forward_nested

    def spy(self: QAMultiheadAttention, *args: Any, **kwargs: Any) -> Any:
        nested_calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QAMultiheadAttention, "_forward_nested", spy)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    layer.self_attn = QAMultiheadAttention.from_torch(layer.self_attn, **QUICK)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).eval()
    x = _x(2, 4, 8)
    pad = torch.tensor([[False] * 4, [False, False, True, True]])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "nested tensors are in prototype stage"
        y = enc(x, src_key_padding_mask=pad)
    assert len(nested_calls) == 2  # both layers got nested input
    assert y.shape == (2, 4, 8) and torch.isfinite(y).all() and (y[1, 2:] == 0).all()
    assert all(m.self_attn.solve_calls == 1 for m in enc.layers)
    assert [g["tokens"] for g in enc.layers[0].self_attn.last_solve_info["groups"]] == [2, 4]


@pytest.mark.parametrize("batch_first", [True, False])
def test_inside_transformer_decoder_layer(batch_first: bool) -> None:
    layer = nn.TransformerDecoderLayer(8, 2, 16, batch_first=batch_first)
    layer.self_attn = QAMultiheadAttention.from_torch(layer.self_attn, **QUICK)
    layer.multihead_attn = QAMultiheadAttention.from_torch(layer.multihead_attn, output="masked-softmax", **QUICK)
    tgt = _x(2, 4, 8) if batch_first else _x(4, 2, 8)
    mem = _x(2, 3, 8, seed=1) if batch_first else _x(3, 2, 8, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    y = layer(tgt, mem, tgt_mask=mask, tgt_is_causal=True)
    y.sum().backward()
    assert y.shape == tgt.shape and layer.self_attn.in_proj_weight.grad is not None
    with torch.no_grad():
        assert torch.isfinite(layer.eval()(tgt, mem, tgt_mask=mask)).all()


# ---------------------------------------------------------------- dropout
def test_dropout_drops_pairs_in_training_only() -> None:
    x = _x(4, 2, 8, seed=6)
    for output in ("paper", "masked-softmax"):
        qa = QAMultiheadAttention(8, 2, dropout=0.5, output=output, **QUICK)
        ref = QAMultiheadAttention(8, 2, output=output, **QUICK)
        ref.load_state_dict(qa.state_dict())
        torch.manual_seed(0)
        out, w = qa(x, x, x, average_attn_weights=False)
        torch.manual_seed(0)
        out_again, _ = qa(x, x, x)
        out_ref, w_ref = ref(x, x, x, average_attn_weights=False)
        assert w is not None and w_ref is not None
        assert not torch.equal(out, out_ref) and ((w == 0) & (w_ref != 0)).any()
        ref.load_state_dict(qa.state_dict())
        qa.eval(), ref.eval()
        torch.testing.assert_close(qa(x, x, x)[0], ref(x, x, x)[0])
        del out_again


# ---------------------------------------------------------------- tracing and compiling
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_jit_trace_is_refused_with_a_project_error() -> None:
    qa = QAMultiheadAttention(8, 2, batch_first=True, **QUICK)
    x = _x(2, 3, 8)
    with pytest.raises(TracingError, match=r"torch\.jit\.trace"):
        torch.jit.trace(qa, (x, x, x))
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    layer.self_attn = qa
    with pytest.raises(TracingError):
        torch.jit.trace(layer, (x,))


class _TinyModel(nn.Module):
    def __init__(self, output: str) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.attn = QAMultiheadAttention(8, 2, batch_first=True, output=output, bits=2, backend="sa", num_reads=2,
                                         seed=5)  # fmt: skip
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x)
        a, _ = self.attn(h, h, h, key_padding_mask=pad, need_weights=False)
        out: torch.Tensor = self.head((h + a).mean(dim=1))
        return out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # inside inductor
@pytest.mark.parametrize(("output", "compiler"), [("paper", "inductor"), ("masked-softmax", "aot_eager")])
def test_torch_compile_gives_the_eager_output(output: str, compiler: str) -> None:
    """Same seed, same spins, same output and gradients (inductor is slow to compile; one case uses it)."""
    torch.manual_seed(0)
    eager = _TinyModel(output)
    compiled_model = copy.deepcopy(eager)
    compiled = torch.compile(compiled_model, backend=compiler)
    x = _x(4, 5, 4, seed=7)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 5, [False] * 4 + [True]])
    for kwargs in ({}, {"pad": pad}):
        y_eager = eager(x, **kwargs)
        y_compiled = compiled(x, **kwargs)
        torch.testing.assert_close(y_compiled, y_eager, rtol=1e-5, atol=1e-6)
        assert torch.equal(compiled_model.attn.last_solution, eager.attn.last_solution)
        y_eager.sum().backward()
        y_compiled.sum().backward()
    for (name, p), q in zip(eager.named_parameters(), compiled_model.parameters(), strict=True):
        if p.grad is None:  # the paper's output norm is unused by masked-softmax
            assert q.grad is None and output == "masked-softmax" and "output_norm" in name, name
            continue
        assert q.grad is not None, name
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert compiled_model.attn.solve_calls == eager.attn.solve_calls == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors() -> None:  # pragma: no cover - no GPU on the CI machine
    qa = QAMultiheadAttention(8, 2, batch_first=True, **QUICK).cuda()
    x = _x(2, 3, 8).cuda()
    out, w = qa(x, x, x)
    out.sum().backward()
    assert out.is_cuda and w is not None and w.is_cuda and qa.in_proj_weight.grad is not None


# ---------------------------------------------------------------- refusals
BAD_CALLS = [
    (lambda qa, x: qa(x[0, 0], x[0, 0], x[0, 0]), "must all be"),
    (lambda qa, x: qa(x, x[..., :4], x), "key's last axis is 4"),
    (lambda qa, x: qa(x, x[:, :1], x[:, :1]), "batch sizes"),
    (lambda qa, x: qa(x, x, x[:2]), "tokens"),
    (lambda qa, x: qa(x, x, x.int()), "dtype"),
    (lambda qa, x: qa(x, x, x.double()), "dtype"),
    (lambda qa, x: qa(x * float("nan"), x, x), "query contains NaN"),
    (lambda qa, x: qa(x, x, x, key_padding_mask=torch.zeros(3, 2, dtype=torch.bool)), "key_padding_mask must be"),
    (lambda qa, x: qa(x, x, x, key_padding_mask=torch.ones(2, 3, dtype=torch.bool)), "pads every key"),
    (lambda qa, x: qa(x, x, x, key_padding_mask=torch.full((2, 3), float("nan"))), "NaN"),
    (lambda qa, x: qa(x, x, x, attn_mask=torch.zeros(2, 3, 3)), "attn_mask has shape"),
    (lambda qa, x: qa(x, x, x, attn_mask=torch.zeros(3, 3, dtype=torch.int32)), "dtype"),
    (lambda qa, x: qa(x, x, x, attn_mask=torch.full((3, 3), float("inf"))), "\\+inf"),
]


@pytest.mark.parametrize(("call", "match"), BAD_CALLS)
def test_bad_input_is_a_project_error_with_a_fix(call: Any, match: str) -> None:
    qa = QAMultiheadAttention(8, 2, **QUICK)
    with pytest.raises(InvalidInputError, match=match) as exc:
        call(qa, _x(3, 2, 8))
    assert exc.value.fix


def test_bad_constructor_arguments() -> None:
    for args, kwargs in (
        ((7, 2), {}),
        ((0, 2), {}),
        ((8, 0), {}),
        ((8, 2), {"dropout": 1.0}),
        ((8, 2), {"output": "softmax"}),
        ((8, 2), {"bits": 0}),
        ((8, 2), {"value_transform": "exp"}),
    ):
        with pytest.raises(InvalidInputError):
            QAMultiheadAttention(*args, **kwargs)

""":class:`QAMultiheadAttention`: a drop-in for :class:`torch.nn.MultiheadAttention` built on :class:`QAMA`.

Same constructor, parameters (names, shapes, initialisation), ``forward`` signature and
return convention as ``torch.nn.MultiheadAttention`` (it is a subclass), so
``qa.load_state_dict(mha.state_dict())`` is strict-clean and the layer can be the
``self_attn`` of ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``. The
softmax is replaced by the QAMA operator (docs/operator.md):

* ``output="paper"`` (default): the authors' per-head output
  ``BatchNorm(-(H_ti hi_tid / h_ti))`` (:class:`QAMA`), heads merged, ``out_proj``; returned
  weights are the selection masks ``M_tij = w_ti w_tj`` (0 on padded keys and forbidden pairs).
* ``output="masked-softmax"`` (ours, not the paper's): attention
  ``A_tij = w_tj exp(-e_tij) / Z_ti`` over the selected keys, ``out_proj(A v)``; returned
  weights are ``A``.

>>> import torch
>>> from qama_compile.nn import QAMultiheadAttention
>>> mha = torch.nn.MultiheadAttention(8, 2)
>>> qa = QAMultiheadAttention.from_torch(mha, bits=1, backend="exact", seed=0)
>>> x = torch.randn(3, 2, 8, generator=torch.Generator().manual_seed(0))   # [tokens, batch, embed]
>>> out, weights = qa(x, x, x)
>>> out.shape, weights.shape, qa.last_solution.shape
(torch.Size([3, 2, 8]), torch.Size([2, 3, 3]), torch.Size([2, 2, 3, 1]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..base.optional import optional_import
from ..errors import InvalidInputError
from .functional import EPS, ValueTransform, coupling_energies, energy_softmax, soft_weights, token_energies
from .masks import canonical_masks
from .operator import QAMA, check_finite, refuse_tracing

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")
    nn = torch.nn

__all__ = ["OUTPUT_MODES", "QAMultiheadAttention"]

OutputMode = Literal["paper", "masked-softmax"]
OUTPUT_MODES: tuple[str, ...] = ("paper", "masked-softmax")


def _guard(module: nn.Module, args: Any) -> None:
    """Forward pre-hook: refuse ``torch.jit.trace``.

    Its presence also matters: ``nn.TransformerEncoderLayer`` takes a fused inference path
    (``torch._transformer_encoder_layer_fwd``, softmax attention on ``in_proj_weight``) that
    bypasses ``self_attn.forward``, unless some submodule has a forward hook.
    """
    refuse_tracing("QAMultiheadAttention")


def _fill_qama_state(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state-dict pre-hook: a ``torch.nn.MultiheadAttention`` state dict has no QAMA entries.

    When none of this layer's ``qama.*`` entries is present (a plain MHA state dict), the
    current ones are filled in, so a strict load succeeds and keeps them. A state dict with
    some but not all of them still fails strictly.
    """
    inner = prefix + "qama."
    if any(key.startswith(inner) for key in state_dict):
        return
    if not any(key.startswith(prefix) for key in state_dict):
        return
    qama = module.qama
    if not isinstance(qama, QAMA):
        return
    for key, value in qama.state_dict().items():
        state_dict[inner + key] = value


class QAMultiheadAttention(nn.MultiheadAttention):
    """Quantum-annealing multi-head attention (QAMA), a drop-in for ``torch.nn.MultiheadAttention``.

    Args:
        embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim,
            batch_first, device, dtype: as ``torch.nn.MultiheadAttention`` (the parameters are
            its own). ``dropout`` drops (query, key) pairs: in the energy ``H_ti`` for
            ``output="paper"``, in ``A`` for ``"masked-softmax"``.
        output: ``"paper"`` (default) or ``"masked-softmax"`` (see the module docstring).
        bits, alpha, beta, penalty, eps, backend, backend_options, sample_options, num_reads,
            seed, value_transform: the :class:`QAMA` options (``self.qama``).

    ``forward`` is ``torch.nn.MultiheadAttention.forward``'s: ``(attn_output, weights)``,
    ``weights`` ``None`` unless ``need_weights``, averaged over heads unless
    ``average_attn_weights=False``. Masks: docs/operator.md ("Tokens, padding and masks").
    With ``Lq == Lk`` (self-attention) token ``i`` is query ``i`` and key ``i``, as in the
    paper; with ``Lq != Lk`` queries and keys are separate variables (only
    ``output="masked-softmax"`` defines an output for that).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        output: OutputMode = "paper",
        bits: int = 4,
        alpha: float = 1.0,
        beta: float = 1.0,
        penalty: float = 2.0,
        eps: float = EPS,
        backend: Any = "cim",
        backend_options: dict[str, Any] | None = None,
        sample_options: dict[str, Any] | None = None,
        num_reads: int = 8,
        seed: int | None = None,
        value_transform: ValueTransform = "clamp",
    ) -> None:
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}", fix=f"pass {name} >= 1")
        if embed_dim % num_heads:
            raise InvalidInputError(
                f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}",
                fix="choose embed_dim as a multiple of num_heads",
            )
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {dropout!r}", fix="pass e.g. dropout=0.1")
        if output not in OUTPUT_MODES:
            raise InvalidInputError(
                f"unknown output {output!r}", fix="use output='paper' (the authors') or 'masked-softmax' (ours)"
            )
        super().__init__(
            embed_dim,
            num_heads,
            dropout=dropout,
            bias=bias,
            add_bias_kv=add_bias_kv,
            add_zero_attn=add_zero_attn,
            kdim=kdim,
            vdim=vdim,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )
        self.output_mode: OutputMode = output
        self.qama = QAMA(
            num_heads,
            bits=bits,
            alpha=alpha,
            beta=beta,
            penalty=penalty,
            eps=eps,
            backend=backend,
            backend_options=backend_options,
            sample_options=sample_options,
            num_reads=num_reads,
            seed=seed,
            value_transform=value_transform,
            device=device,
            dtype=dtype,
        )
        self.last_attention: torch.Tensor | None = None
        self.register_forward_pre_hook(_guard)
        self.register_load_state_dict_pre_hook(_fill_qama_state)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, **qama_options: Any) -> QAMultiheadAttention:
        """A QAMA layer with ``mha``'s configuration and weights (``qama_options``: the keyword-only options).

        >>> import torch
        >>> mha = torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True)
        >>> qa = QAMultiheadAttention.from_torch(mha, backend="exact")
        >>> bool(torch.equal(qa.k_proj_weight, mha.k_proj_weight)), qa.batch_first
        (True, True)
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise InvalidInputError(
                f"from_torch takes a torch.nn.MultiheadAttention, got {type(mha).__name__}",
                fix="pass the nn.MultiheadAttention to convert",
            )
        ref = mha.out_proj.weight
        layer = cls(
            mha.embed_dim,
            mha.num_heads,
            dropout=mha.dropout,
            bias=mha.in_proj_bias is not None,
            add_bias_kv=mha.bias_k is not None,
            add_zero_attn=mha.add_zero_attn,
            kdim=mha.kdim,
            vdim=mha.vdim,
            batch_first=mha.batch_first,
            device=ref.device,
            dtype=ref.dtype,
            **qama_options,
        )
        layer.load_state_dict(mha.state_dict(), strict=True)
        return layer.train(mha.training)

    # ------------------------------------------------------------------ bookkeeping (QAMA's)
    @property
    def last_solution(self) -> torch.Tensor | None:
        """The solver's bits of the last call, int8 ``[B, H, T, bits]`` (see :class:`QAMA`)."""
        return self.qama.last_solution

    @property
    def last_weights(self) -> torch.Tensor | None:
        """Token weights ``w [B, H, T]`` of the last call."""
        return self.qama.last_weights

    @property
    def last_energies(self) -> torch.Tensor | None:
        """Per-query energies ``H_ti`` of the last call."""
        return self.qama.last_energies

    @property
    def solve_calls(self) -> int:
        return self.qama.solve_calls

    @property
    def last_solve_time_s(self) -> float:
        return self.qama.last_solve_time_s

    @property
    def total_solve_time_s(self) -> float:
        return self.qama.total_solve_time_s

    @property
    def last_solve_info(self) -> dict[str, Any]:
        return self.qama.last_solve_info

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, output={self.output_mode!r}"

    # ------------------------------------------------------------------ forward
    def _check_inputs(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> bool:
        """Shapes as ``torch.nn.MultiheadAttention`` takes them; returns whether the input is batched."""
        batched = query.ndim == 3
        layout = "[batch, tokens, embed]" if self.batch_first else "[tokens, batch, embed]"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise InvalidInputError(
                f"query, key and value must all be {layout} (or unbatched [tokens, embed]), got shapes "
                f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}",
                fix=f"reshape the inputs to {layout} (batch_first={self.batch_first})",
            )
        for name, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not t.is_floating_point():
                raise InvalidInputError(f"{name} has dtype {t.dtype}", fix="pass float tensors", tensor=name)
            if t.shape[-1] != dim:
                raise InvalidInputError(
                    f"{name}'s last axis is {t.shape[-1]}, expected {dim}",
                    fix=f"pass {name} with {dim} features (embed_dim, kdim, vdim of the layer)",
                    tensor=name,
                )
        if batched:
            ax = 0 if self.batch_first else 1
            tok = 1 - ax
            if not query.shape[ax] == key.shape[ax] == value.shape[ax]:
                raise InvalidInputError(
                    f"query, key and value have batch sizes {query.shape[ax]}, {key.shape[ax]}, {value.shape[ax]} "
                    f"(batch_first={self.batch_first})",
                    fix=f"pass {layout} tensors of one batch; is batch_first set as your data is laid out?",
                )
            if key.shape[tok] != value.shape[tok]:
                raise InvalidInputError(
                    f"key and value have {key.shape[tok]} and {value.shape[tok]} tokens",
                    fix="pass one value per key",
                )
        elif key.shape[0] != value.shape[0]:
            raise InvalidInputError(
                f"key and value have {key.shape[0]} and {value.shape[0]} tokens", fix="pass one value per key"
            )
        return batched

    def _forward_nested(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Nested-tensor input (``nn.TransformerEncoder``'s inference path): padded, solved, re-nested."""
        if not (query is key is value) or not self.batch_first:
            raise InvalidInputError(
                "nested-tensor input is supported for batch-first self-attention only",
                fix="pass padded tensors with a key_padding_mask",
            )
        if kwargs.get("key_padding_mask") is not None:
            raise InvalidInputError(
                "a nested tensor carries its own padding; key_padding_mask must be None",
                fix="drop key_padding_mask",
            )
        lengths = [int(t.shape[0]) for t in query.unbind()]
        padded = torch.nested.to_padded_tensor(query, 0.0)
        positions = torch.arange(padded.shape[1], device=padded.device)
        pad_mask = positions[None, :] >= torch.tensor(lengths, device=padded.device)[:, None]
        kwargs.update(key_padding_mask=pad_mask, need_weights=False)
        out, _ = self.forward(padded, padded, padded, **kwargs)
        return torch.nested.as_nested_tensor([out[i, :n] for i, n in enumerate(lengths)]), None

    def forward(  # type: ignore[override]
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(attn_output, attn_weights)`` exactly as ``torch.nn.MultiheadAttention.forward`` returns them.

        ``attn_output`` is ``[Lq, B, E]`` (``[B, Lq, E]`` with ``batch_first``; ``[Lq, E]``
        unbatched). ``attn_weights`` (if ``need_weights``) is ``[B, H, Lq, Lk]`` or, averaged
        over heads, ``[B, Lq, Lk]``: selection masks ``w_ti w_tj`` for ``output="paper"``,
        attention ``A`` for ``"masked-softmax"``.
        """
        refuse_tracing("QAMultiheadAttention")
        if query.is_nested:
            return self._forward_nested(
                query, key, value, attn_mask=attn_mask, is_causal=is_causal, key_padding_mask=key_padding_mask
            )
        batched = self._check_inputs(query, key, value)
        self.qama.check_dtype(query=query, key=key, value=value)
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        check_finite(query=query, key=key, value=value)
        out, weights = self._attend(query, key, value, key_padding_mask, attn_mask, is_causal, need_weights)
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if not batched:
                weights = weights.squeeze(0)
        return out, weights

    def _project(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """``q [B, H, Lq, dh]``, ``k, v [B, H, Lk', dh]`` with the MHA's parameters; returns the extra keys."""
        nnf = torch.nn.functional
        e, heads = self.embed_dim, self.num_heads
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q, k, v = nnf.linear(query, w_q, b_q), nnf.linear(key, w_k, b_k), nnf.linear(value, w_v, b_v)
        b = q.shape[0]
        extra = 0
        if self.bias_k is not None and self.bias_v is not None:
            k = torch.cat([k, self.bias_k.reshape(1, 1, e).expand(b, 1, e)], dim=1)
            v = torch.cat([v, self.bias_v.reshape(1, 1, e).expand(b, 1, e)], dim=1)
            extra += 1
        q, k, v = (t.reshape(b, t.shape[1], heads, e // heads).transpose(1, 2) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = torch.zeros(b, heads, 1, e // heads, dtype=k.dtype, device=k.device)
            k, v = torch.cat([k, zeros], dim=2), torch.cat([v, zeros], dim=2)
            extra += 1
        return q, k, v, extra

    def _attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None,
        attn_mask: torch.Tensor | None,
        is_causal: bool,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Batch-first core: ``[B, Lq, E]`` -> ``([B, Lq, E], weights [B, H, Lq, Lk] or None)``."""
        q, k, v, extra = self._project(query, key, value)
        b, heads, lq, _ = q.shape
        lk = k.shape[2]
        masks = canonical_masks(
            key_padding_mask=key_padding_mask,
            attn_mask=attn_mask,
            is_causal=is_causal,
            batch=b,
            heads=heads,
            lq=lq,
            lk=lk - extra,
            extra_keys=extra,
            device=q.device,
        )
        shared = lq == lk
        if self.output_mode == "paper" and not shared:
            raise InvalidInputError(
                f"output='paper' needs as many keys as queries (got {lq} queries and {lk} keys"
                + (", counting the add_bias_kv / add_zero_attn keys" if extra else "")
                + "): the authors' output row i combines token i's energy with value row i",
                fix="use output='masked-softmax' for cross-attention of different lengths "
                "(and for add_bias_kv / add_zero_attn)",
            )
        qama = self.qama
        couplings, fields, entropy_terms = qama.couplings_and_fields(q, k, v, masks, shared=shared)
        x = qama.select(couplings, fields, kept=masks.kept, shared=shared)
        w = soft_weights(x, dtype=couplings.dtype)
        w_query, w_key = (w, w) if shared else (w[..., :lq], w[..., lq:])
        allowed = masks.pair_allowed(shared=shared)
        p = self.dropout if self.training else 0.0
        if self.output_mode == "paper":
            drop = torch.nn.functional.dropout(torch.ones_like(couplings), p=p) if p > 0 else None
            energies = token_energies(couplings, fields, w, alpha=qama.alpha, beta=qama.beta, pair_weights=drop)
            heads_out = qama.combine(energies, entropy_terms, fields, masks.kept)
            weights = w_query.unsqueeze(-1) * w_key.unsqueeze(-2)
            if allowed is not None:
                weights = torch.where(allowed, weights, torch.zeros_like(weights))
            if drop is not None:
                weights = weights * drop
        else:
            attn = energy_softmax(couplings, fields, w_query, w_key, alpha=qama.alpha, beta=qama.beta, allowed=allowed)
            weights = torch.nn.functional.dropout(attn, p=p) if p > 0 else attn
            energies = (
                token_energies(couplings, fields, w, alpha=qama.alpha, beta=qama.beta)
                if shared
                else coupling_energies(couplings, w_query, w_key, alpha=qama.alpha)
            )
            heads_out = weights @ v
        qama.record(w, energies)
        self._record_attention(weights)
        out = heads_out.transpose(1, 2).reshape(b, lq, self.embed_dim)
        return self.out_proj(out), (weights if need_weights else None)

    @torch.compiler.disable
    def _record_attention(self, weights: torch.Tensor) -> None:
        self.last_attention = weights.detach()

"""Attention masks in the QAMA problem: padding removes keys, ``attn_mask`` edits couplings.

The operator's reading of torch's masks (docs/operator.md, "Tokens, padding and masks"):

* ``key_padding_mask`` ``[B, Lk]``: ``True`` (bool) or ``-inf`` (float) marks a padded key.
  A padded key is not a variable of the problem (no qubits), has weight exactly 0, and is
  left out of the batch-norm statistics. Finite float entries are added to the couplings of
  that key (like ``attn_mask``).
* ``attn_mask`` ``[Lq, Lk]``, ``[B*H, Lq, Lk]`` or ``[B|1, H|1, Lq, Lk]``: ``True`` (bool) or
  ``-inf`` (float) forbids the pair (query i, key j): its coupling is removed from the problem
  (``J_ij = 0``), it gets no weight, and (masked-softmax output) no attention. Finite float
  entries are added to the normalised coupling ``J_ij`` (softmax attention adds them to the
  logits; ``J`` plays the logits' role in the energy ``-alpha J_ij w_i w_j``).
* ``is_causal=True`` without ``attn_mask`` builds the causal mask (key ``j <= i``).

>>> import torch
>>> m = canonical_masks(key_padding_mask=torch.tensor([[False, True]]), attn_mask=None, is_causal=True,
...                     batch=1, heads=2, lq=2, lk=2)
>>> m.kept.tolist(), m.pair_allowed(shared=True)[0, 0].tolist()
([[True, False]], [[True, False], [False, False]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..base.optional import optional_import
from ..errors import InvalidInputError

if TYPE_CHECKING:
    import torch
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")

__all__ = ["Masks", "canonical_masks"]


@dataclass(frozen=True, eq=False)
class Masks:
    """Canonical masks of one call.

    Attributes:
        kept: ``[B, Lk]`` bool, ``True`` where the key takes part; ``None``: every key.
        allowed: ``[B|1, H|1, Lq, Lk]`` bool, ``True`` where the pair is allowed; ``None``: all.
        shift: ``[B|1, H|1, Lq, Lk]`` additive coupling shift (0 on forbidden pairs); ``None``: 0.
    """

    kept: torch.Tensor | None = None
    allowed: torch.Tensor | None = None
    shift: torch.Tensor | None = None

    def pair_allowed(self, *, shared: bool) -> torch.Tensor | None:
        """Allowed pairs after padding: key ``j`` kept and (shared layout) token ``i`` kept."""
        allowed = self.allowed
        if self.kept is not None:
            keys = self.kept[:, None, None, :]
            pad = keys & self.kept[:, None, :, None] if shared else keys
            allowed = pad if allowed is None else allowed & pad
        return allowed


def _float_mask(mask: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(allowed, shift or None)`` from an additive float mask; NaN and +inf are refused."""
    if bool(torch.isnan(mask).any()) or bool((mask == float("inf")).any()):
        what = "a padded key" if name == "key_padding_mask" else "a forbidden pair"
        raise InvalidInputError(
            f"{name} contains NaN or +inf",
            fix=f"in {name} use -inf (or True in a bool mask) for {what} and finite values to shift couplings",
            tensor=name,
        )
    allowed = mask != float("-inf")
    shift = torch.where(allowed, mask, torch.zeros_like(mask))
    return allowed, (shift if bool((shift != 0).any()) else None)


def _check_dtype(mask: torch.Tensor, name: str) -> None:
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise InvalidInputError(
            f"{name} has dtype {mask.dtype}; a bool or float mask is required",
            fix=f"pass a bool {name} (True = masked) or a float one (-inf = masked, finite = added)",
            tensor=name,
        )


def canonical_masks(
    *,
    key_padding_mask: torch.Tensor | None,
    attn_mask: torch.Tensor | None,
    is_causal: bool = False,
    batch: int,
    heads: int,
    lq: int,
    lk: int,
    extra_keys: int = 0,
    device: torch.device | None = None,
) -> Masks:
    """Check torch-style masks and bring them to :class:`Masks` for ``lk + extra_keys`` keys.

    ``extra_keys`` keys appended after the masks were made (``add_bias_kv``, ``add_zero_attn``)
    are kept and allowed, as torch pads its masks for them.
    """
    kept = allowed = shift = None
    if key_padding_mask is not None:
        kpm = key_padding_mask
        _check_dtype(kpm, "key_padding_mask")
        if tuple(kpm.shape) != (batch, lk):
            raise InvalidInputError(
                f"key_padding_mask must be [batch, keys] = {(batch, lk)}, got {tuple(kpm.shape)}",
                fix="pass one entry per key of each sequence (True or -inf = padded)",
                tensor="key_padding_mask",
            )
        if kpm.dtype == torch.bool:
            kept = ~kpm
        else:
            kept, kshift = _float_mask(kpm, "key_padding_mask")
            if kshift is not None:
                shift = kshift[:, None, None, :].expand(batch, 1, lq, lk)
        if not bool(kept.any(dim=1).all()):
            raise InvalidInputError(
                "key_padding_mask pads every key of an item; its problem would have no variables",
                fix="leave at least one key unpadded per item (or drop the item)",
                tensor="key_padding_mask",
            )
    if attn_mask is None and is_causal:
        allowed = torch.ones(lq, lk, dtype=torch.bool, device=device).tril()[None, None]
    elif attn_mask is not None:
        _check_dtype(attn_mask, "attn_mask")
        shape = tuple(attn_mask.shape)
        if attn_mask.ndim == 2 and shape == (lq, lk):
            m = attn_mask[None, None]
        elif attn_mask.ndim == 3 and shape == (batch * heads, lq, lk):
            m = attn_mask.reshape(batch, heads, lq, lk)
        elif attn_mask.ndim == 4 and shape[2:] == (lq, lk) and shape[0] in (1, batch) and shape[1] in (1, heads):
            m = attn_mask
        else:
            raise InvalidInputError(
                f"attn_mask has shape {shape}; expected [{lq}, {lk}] (queries, keys), "
                f"[{batch * heads}, {lq}, {lk}] (batch*heads, queries, keys) or [B|1, H|1, {lq}, {lk}]",
                fix="pass a mask over (query, key) pairs, optionally per batch item and head",
                tensor="attn_mask",
            )
        if m.dtype == torch.bool:
            allowed = ~m
        else:
            allowed, ashift = _float_mask(m, "attn_mask")
            if ashift is not None:
                shift = ashift if shift is None else shift + ashift
    if extra_keys:
        if kept is not None:
            kept = torch.nn.functional.pad(kept, (0, extra_keys), value=True)
        if allowed is not None:
            allowed = torch.nn.functional.pad(allowed, (0, extra_keys), value=True)
        if shift is not None:
            shift = torch.nn.functional.pad(shift, (0, extra_keys), value=0.0)
    return Masks(kept=kept, allowed=allowed, shift=shift)

"""The one model every arm trains: a one-block pre-norm transformer classifier with mean pooling.

Token embedding (a linear map of pixel patches, or a sum of embedding tables for discrete
token fields) plus learned positions; one block ``h + attn(LN h)``, ``h + MLP(LN h)``; mean
over tokens; ``LN``; linear head. The attention layer is the only thing that differs between
arms: ``torch.nn.MultiheadAttention`` (softmax), ``QAMultiheadAttention`` (QAMA and its
ablations) or none at all (the bag-of-tokens baseline: the same model without token mixing,
i.e. a function of the mean of per-token features).
"""

from __future__ import annotations

import torch
from torch import nn


class FieldEmbedding(nn.Module):
    """Embedding of tokens made of several discrete fields: the sum of one table per field.

    ``x [B, N, F]`` int64 -> ``[B, N, dim]``.
    """

    def __init__(self, sizes: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(n, dim) for n in sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = sum(t(x[..., i]) for i, t in enumerate(self.tables))  # type: ignore[assignment]
        return out


class Classifier(nn.Module):
    """Embedding + positions, one pre-norm transformer block (``attention`` may be ``None``), mean pool, head."""

    def __init__(
        self, attention: nn.Module | None, *, embed: nn.Module, tokens: int, dim: int, mlp: int, classes: int
    ) -> None:
        super().__init__()
        self.embed = embed
        self.pos = nn.Parameter(0.02 * torch.randn(1, tokens, dim))
        self.ln1, self.ln2, self.ln_f = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = attention
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.pos
        if self.attn is not None:
            y = self.ln1(h)
            a, _ = self.attn(y, y, y, need_weights=False)
            h = h + a
        h = h + self.mlp(self.ln2(h))
        out: torch.Tensor = self.head(self.ln_f(h).mean(dim=1))
        return out

"""The QAMA operator as a PyTorch layer: :class:`QAMultiheadAttention`.

A drop-in for :class:`torch.nn.MultiheadAttention` (self-attention shapes) whose softmax
is replaced by the ground state of the QAMA Hamiltonian (DESIGN.md section 2), found by
any registered backend. Forward, per call:

1. project the inputs to ``q, k, v [B, H, N, d]``;
2. ``J = JS(softmax(q_i) || softmax(k_j))`` and ``h`` = value entropy, in torch
   (:mod:`qama_compile.nn.energy`), then batch normalisation per head (the paper's layer);
3. one :class:`~qama_compile.ir.QuadraticIR` for all ``B`` items from the detached ``J, h``
   (:func:`qama_compile.core.lowering.build_qama_ir`), solved in one backend call (the CIM
   emulator's batched ``sample_ir`` when ``backend="cim"``; otherwise one ``sample`` per
   item); the lowest-energy read of each item is kept: ``x [B, H*N*bits]``, a constant;
4. soft selection ``w`` from ``x``; attention ``A_tij = w_tj exp(-e_tij) / Z_ti`` with the
   pair energy ``e_tij = -alpha J_tij w_ti w_tj - beta h_tj w_tj``; output ``A v``, merged
   heads, output projection.

Backward is energy-based: ``x`` is a constant, so gradients reach ``q, k, v`` through ``J``
and ``h`` in the energy (and ``v`` also directly through ``A v``). See docs/operator.md.

Torch is an optional dependency: importing this module without it raises
:class:`~qama_compile.errors.MissingDependencyError` with the pip command.

>>> import torch
>>> from qama_compile.nn import QAMultiheadAttention
>>> layer = QAMultiheadAttention(8, 2, bits=1, backend="exact", seed=0)
>>> x = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0))
>>> out, masks = layer(x, x, x)
>>> out.shape, masks.shape, layer.solve_calls
(torch.Size([2, 3, 8]), torch.Size([2, 2, 3, 3]), 1)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..base.optional import optional_import
from ..core.hamiltonian import EPS
from ..core.lowering import build_qama_ir
from ..errors import InvalidInputError, UnknownNameError
from .energy import energy_attention, js_coupling, token_energies, token_weights, value_entropy

if TYPE_CHECKING:
    import dimod
    import torch
    from torch import nn
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")
    nn = torch.nn

from ..core.ir import QuadraticIR
from ..runtime.registry import get_backend
from ..runtime.sampling import sample_batch

__all__ = ["QAMultiheadAttention", "solve_ir_batch"]


def solve_ir_batch(
    ir: QuadraticIR,
    *,
    backend: str | dimod.Sampler = "cim",
    num_reads: int = 8,
    seed: int | None = 0,
    backend_options: dict[str, Any] | None = None,
    sampler: dimod.Sampler | None = None,
) -> tuple[NDArray[np.int8], NDArray[np.float64], dict[str, Any]]:
    """Best binary assignment per problem of a BINARY ``ir``: ``(x [B, V] int8, energy [B], info)``.

    Sampling goes through :func:`qama_compile.runtime.sampling.sample_batch`: a backend with
    a batched ``sample_ir`` (``cim``, ``exact``) solves the batch in one call
    (``info["path"] == "batched"``); otherwise each problem goes through the backend's
    ``dimod`` ``sample`` (``"per-item"``, problem ``b`` seeded ``seed + b``).
    Energies are always recomputed from the IR; the lowest-energy read wins.

    >>> import numpy as np
    >>> from qama_compile.core.lowering import build_qama_ir
    >>> J = np.full((2, 1, 2, 2), 0.5); h = np.ones((2, 1, 2))
    >>> ir = build_qama_ir(J, h, bits=1, alpha=1.0, beta=1.0, penalty=2.0)
    >>> x, e, info = solve_ir_batch(ir, backend="exact", num_reads=1)
    >>> x.tolist(), e.tolist(), info["path"]
    ([[1, 1], [1, 1]], [-4.0, -4.0], 'batched')
    """
    if ir.vartype != "BINARY":
        ir = ir.to_binary()
    name = backend if isinstance(backend, str) else type(backend).__name__
    smp = sampler
    if smp is None:
        smp = get_backend(backend, **dict(backend_options or {})) if isinstance(backend, str) else backend
    t0 = time.perf_counter()
    out = sample_batch(ir, smp, num_reads=int(num_reads), seed=seed, name=name)
    x, e = out.best()
    info: dict[str, Any] = {"path": "batched" if out.route == "batched" else "per-item"}
    if out.route == "batched":
        info["backend_info"] = dict(out.info[0])
    info.update(backend=name, num_reads=int(num_reads), seed=seed, wall_time_s=time.perf_counter() - t0)
    return x, e, info


class QAMultiheadAttention(nn.Module):
    """Quantum-annealing multi-head attention (QAMA, arXiv 2504.11083) as a torch layer.

    Args:
        embed_dim: model width ``E``; must be divisible by ``num_heads``.
        num_heads: heads ``H``; each item becomes ``H * N * bits`` binary variables.
        bits: binary variables per (head, token), 1..8 (soft selection ``w`` in [0, 1]).
        backend: a registered backend name (``"cim"``, ``"sa"``, ``"exact"``, ...) or a
            ``dimod.Sampler``.
        backend_options: options for the backend (constructor options on the per-item path,
            ``sample_ir`` keywords on the CIM batched path).
        num_reads: reads per problem; the lowest-energy read is used.
        alpha, beta, penalty: weights of the coupling, field and head-penalty terms.
        batch_first: inputs ``[B, N, E]`` (else ``[N, B, E]``).
        batch_norm: batch-normalise ``J`` and ``h`` per head before the solve (the paper's
            layer); ``False`` uses the raw values.
        bias: bias in the input and output projections.
        seed: base seed; call ``c`` of the module solves with seed ``seed + c * B`` (item ``b``
            of the per-item path: ``seed + c * B + b``), so runs are reproducible.
        eps: the value-entropy clamp (DESIGN.md).

    Attributes (after a forward): ``last_solution`` (x ``[B, V]``), ``last_weights``
    (``w [B, H, N]``), ``last_attention`` (``A [B, H, N, N]``), ``last_energies``
    (``H_ti [B, H, N]``), ``last_solver_energy`` (``E(x) [B]``), ``last_solve_time_s``,
    ``total_solve_time_s``, ``solve_calls``, ``last_solve_info``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        bits: int = 4,
        backend: str | dimod.Sampler = "cim",
        backend_options: dict[str, Any] | None = None,
        num_reads: int = 8,
        alpha: float = 1.0,
        beta: float = 1.0,
        penalty: float = 2.0,
        batch_first: bool = True,
        batch_norm: bool = True,
        bias: bool = True,
        seed: int = 0,
        eps: float = EPS,
    ) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads), ("num_reads", num_reads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}", fix=f"pass {name} >= 1")
        if embed_dim % num_heads:
            raise InvalidInputError(
                f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}",
                fix="choose embed_dim as a multiple of num_heads",
            )
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
            raise InvalidInputError(f"bits must be an integer in 1..8, got {bits!r}", fix="use bits between 1 and 8")
        for name, fvalue in (("alpha", alpha), ("beta", beta), ("penalty", penalty), ("eps", eps)):
            if not np.isfinite(fvalue):
                raise InvalidInputError(f"{name} must be finite, got {fvalue}", fix=f"pass a finite {name}")
        if eps <= 0:
            raise InvalidInputError(f"eps must be positive, got {eps}", fix="use a small positive eps like 1e-8")
        if isinstance(backend, str):
            from ..runtime.registry import available_backends

            known = available_backends()
            if backend not in known:
                raise UnknownNameError(
                    f"unknown backend {backend!r}; known backends: {', '.join(known)}",
                    fix="pick one of the known backends or pass a dimod.Sampler",
                    name=backend,
                    known=known,
                )
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.bits, self.num_reads = bits, num_reads
        self.alpha, self.beta, self.penalty, self.eps = float(alpha), float(beta), float(penalty), float(eps)
        self.backend = backend
        self.backend_options = dict(backend_options or {})
        self.batch_first, self.seed = batch_first, int(seed)
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.norm_j: nn.Module = nn.BatchNorm2d(num_heads) if batch_norm else nn.Identity()
        self.norm_h: nn.Module = nn.BatchNorm1d(num_heads) if batch_norm else nn.Identity()
        self._sampler: dimod.Sampler | None = None
        self.last_solve_time_s = 0.0
        self.total_solve_time_s = 0.0
        self.solve_calls = 0
        self.last_solve_info: dict[str, Any] = {}
        self.last_solution: torch.Tensor | None = None
        self.last_weights: torch.Tensor | None = None
        self.last_attention: torch.Tensor | None = None
        self.last_energies: torch.Tensor | None = None
        self.last_solver_energy: NDArray[np.float64] | None = None

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, bits={self.bits}, "
            f"backend={self.backend!r}, num_reads={self.num_reads}, alpha={self.alpha}, beta={self.beta}, "
            f"penalty={self.penalty}"
        )

    # ------------------------------------------------------------------ pieces
    def couplings_and_fields(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(J [B, H, N, N], h [B, H, N], v [B, H, N, d])`` after projection and normalisation."""
        q, k, v = (self._heads(proj(t)) for proj, t in ((self.q_proj, query), (self.k_proj, key), (self.v_proj, value)))
        couplings = self.norm_j(js_coupling(q, k))
        fields = self.norm_h(value_entropy(v, eps=self.eps))
        return couplings, fields, v

    def solve(self, couplings: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
        """Solve the QAMA problems of ``J, h`` on the backend (one call); returns ``x [B, V]`` (int8)."""
        ir = build_qama_ir(
            couplings.detach().cpu().double().numpy(),
            fields.detach().cpu().double().numpy(),
            bits=self.bits,
            alpha=self.alpha,
            beta=self.beta,
            penalty=self.penalty,
        )
        if self._sampler is None:
            backend = self.backend
            self._sampler = get_backend(backend, **self.backend_options) if isinstance(backend, str) else backend
        t0 = time.perf_counter()
        x, energy, info = solve_ir_batch(
            ir,
            backend=self.backend,
            num_reads=self.num_reads,
            seed=self.seed + self.solve_calls * ir.batch_size,
            backend_options=self.backend_options,
            sampler=self._sampler,
        )
        elapsed = time.perf_counter() - t0
        self.last_solve_time_s = elapsed
        self.total_solve_time_s += elapsed
        self.solve_calls += 1
        self.last_solve_info = info
        self.last_solver_energy = energy
        return torch.from_numpy(x).to(couplings.device)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = False,
        is_causal: bool = False,
        *,
        solution: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(output, masks)``: output like ``nn.MultiheadAttention``; masks ``M = w_i w_j``.

        ``key``/``value`` default to ``query``. ``masks`` is ``[B, H, N, N]`` (or averaged over
        heads with ``average_attn_weights=True``), ``None`` unless ``need_weights``.
        ``solution`` (``x [B, H*N*bits]``, binary) skips the solver and uses that ``x``:
        the fixed-``x`` path for gradient checks and for reusing a solve.
        Padding and attention masks are not supported (the QAMA problem couples all tokens).
        """
        if key_padding_mask is not None or attn_mask is not None or is_causal:
            raise InvalidInputError(
                "QAMultiheadAttention does not support key_padding_mask, attn_mask or is_causal",
                fix="pass sequences of equal length without masks",
            )
        key = query if key is None else key
        value = key if value is None else value
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if query.ndim != 3 or query.shape[-1] != self.embed_dim:
            raise InvalidInputError(
                f"query must be [batch, tokens, {self.embed_dim}] (batch_first={self.batch_first}), "
                f"got {tuple(query.shape)}",
                fix="reshape the input",
            )
        if key.shape != query.shape or value.shape[:2] != query.shape[:2]:
            raise InvalidInputError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must match query {tuple(query.shape)} "
                "in batch and tokens (the QAMA problem is square in tokens)",
                fix="pass equal-length sequences",
            )
        couplings, fields, v = self.couplings_and_fields(query, key, value)
        b, h, n = fields.shape
        if solution is None:
            x = self.solve(couplings, fields)
        else:
            x = solution.detach().to(device=couplings.device)
            if x.shape != (b, h * n * self.bits) or bool(((x != 0) & (x != 1)).any()):
                raise InvalidInputError(
                    f"solution must be binary [B, H*N*bits] = [{b}, {h * n * self.bits}], got {tuple(x.shape)}",
                    fix="pass x from layer.last_solution or a 0/1 tensor of that shape",
                )
        w = token_weights(x, heads=h, tokens=n, bits=self.bits).to(couplings.dtype)
        attn = energy_attention(couplings, fields, w, alpha=self.alpha, beta=self.beta)
        energies = token_energies(couplings, fields, w, alpha=self.alpha, beta=self.beta)
        out = (attn @ v).transpose(1, 2).reshape(b, n, self.embed_dim)
        out = self.out_proj(out)
        self.last_solution, self.last_weights = x, w.detach()
        self.last_attention, self.last_energies = attn.detach(), energies.detach()
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        masks = w.unsqueeze(-1) * w.unsqueeze(-2)
        return out, masks.mean(dim=1) if average_attn_weights else masks

"""The paper's operator, :class:`QAMA`: projected ``q, k, v [B, H, N, d]`` -> ``[B, H, N, d_v]``.

Computed as the authors' layer does (QAMA, arXiv 2504.11083; their public code,
``QAMA/QAMultiheadAttention.py``, ``QAMultiheadAttention.forward``; docs/operator.md has
every step with its test):

1. value entropy: ``p = clamp(v / (sum v + eps), eps, 1)``, ``hi = -p log2 p``, ``h = sum hi``;
2. ``J_tij = JS(softmax(q_ti) || softmax(k_tj))`` (the authors' ``eps``-regularised form);
3. batch norm (per head) of ``J``'s off-diagonal entries and of ``h``;
4. one solve of the whole batch on the chosen backend, through the compiler's own lowering
   (:mod:`qama_compile.nn.solve`), from the detached ``J`` and ``h``: binary ``x [B, H, N, bits]``;
5. ``w = sum_r 2^r x_r / (2^q - 1)`` (a constant) and the per-token energy
   ``H_ti = -alpha sum_j J_tij w_ti w_tj - beta h_ti w_ti``, differentiable in ``J`` and ``h``
   (the energy-based backward);
6. output ``BatchNorm(-(H_ti hi_tid / h_ti))`` per head.

The solver call is excluded from ``torch.compile`` tracing (``torch.compiler.disable``);
``torch.jit.trace`` raises :class:`~qama_compile.errors.TracingError`.

>>> import torch
>>> from qama_compile.nn import QAMA
>>> op = QAMA(2, bits=2, backend="exact", seed=0)
>>> q, k, v = torch.randn(3, 4, 2, 3, 8, generator=torch.Generator().manual_seed(0))
>>> out = op(q, k, v)
>>> out.shape, op.last_solution.shape, op.last_solution.dtype, op.solve_calls
(torch.Size([4, 2, 3, 8]), torch.Size([4, 2, 3, 2]), torch.int8, 1)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base.optional import optional_import
from ..errors import InvalidInputError, TracingError, UnknownNameError
from .functional import (
    EPS,
    VALUE_TRANSFORMS,
    ValueTransform,
    js_coupling,
    paper_combination,
    soft_weights,
    token_energies,
    value_entropy_terms,
)
from .masks import Masks, canonical_masks
from .solve import solve_selection

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    torch = optional_import("torch", purpose="qama_compile.nn (the QAMA operator in PyTorch)")
    nn = torch.nn

__all__ = ["QAMA", "check_finite", "refuse_tracing"]

_SEED_RANGE = 2**30  # per-call seeds stay far below dwave-samplers' 2**31 limit, even plus a batch offset


def refuse_tracing(what: str = "the QAMA operator") -> None:
    """Raise :class:`TracingError` under ``torch.jit.trace`` (a traced graph would freeze one solution)."""
    if torch.jit.is_tracing():
        raise TracingError(
            f"{what} cannot be captured by torch.jit.trace: every forward calls a solver on the data, "
            "and a traced graph would replay the first call's solution as a constant",
            fix="run the model eagerly or with torch.compile (the solver call runs outside the graph); "
            "to export a fixed-solution model, pass solution= explicitly in your own wrapper",
            tracer="torch.jit.trace",
        )


@torch.compiler.disable
def check_finite(**tensors: torch.Tensor) -> None:
    """Refuse NaN or infinite entries in the named tensors (an :class:`InvalidInputError` naming the tensor)."""
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            kind = "NaN" if bool(torch.isnan(t).any()) else "infinite values"
            raise InvalidInputError(
                f"{name} contains {kind}",
                fix=f"remove or impute non-finite values in {name} (or find the layer that produced them)",
                tensor=name,
            )


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}", fix=f"pass {name} >= 1")
    return int(value)


def _finite_float(name: str, value: Any) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a real number, got {value!r}", fix=f"pass a finite float {name}")
    if not math.isfinite(float(value)):
        raise InvalidInputError(f"{name} must be finite, got {value}", fix=f"pass a finite {name}")
    return float(value)


def _off_diagonal_index(n: int, device: torch.device) -> torch.Tensor:
    """Flat indices of the off-diagonal entries of an ``n x n`` matrix, row-major (no ``nonzero``)."""
    k = torch.arange(n * (n - 1), device=device)
    row, col = k // (n - 1), k % (n - 1)
    return row * n + col + (col >= row).long()


class QAMA(nn.Module):
    """The QAMA operator of the paper (see the module docstring and docs/operator.md).

    Args:
        num_heads: heads ``H`` (the batch-norm channels).
        bits: binary variables per (head, token), 1..8 (paper default 4).
        alpha, beta, penalty: weights of the coupling, field and head-penalty terms.
        eps: the authors' ``EPS`` (value clamp and JS regulariser), 1e-6.
        backend: a registered backend name (``"cim"``, ``"exact"``, ``"sa"``, ...) or a sampler
            object (a ``dimod.Sampler`` or anything with ``sample_ir``).
        backend_options: keyword arguments of the backend's constructor (``get_backend``).
        sample_options: keyword arguments of every sampling call (e.g. ``{"num_steps": 300}``
            for ``cim``).
        num_reads: reads per problem; the lowest-energy read is used.
        seed: ``None``: each call draws its solver seed from torch's global generator (so
            ``torch.manual_seed`` makes runs repeat); an int: call ``c`` uses a seed derived
            from ``(seed, c)``.
        value_transform: ``"clamp"`` (the paper's), ``"softmax"`` or ``"abs"``; see
            :func:`qama_compile.nn.functional.value_distribution`.
        device, dtype: of the batch-norm parameters.

    After each forward: ``last_solution`` (int8 ``[B, H, T, bits]``), ``last_weights``
    (``w [B, H, T]``), ``last_energies`` (``H_ti``), ``last_solver_energy`` (numpy ``[B]``),
    ``last_solve_info``, ``last_solve_time_s``, ``total_solve_time_s``, ``solve_calls``.
    ``T = N`` for the paper's (shared) layout.
    """

    def __init__(
        self,
        num_heads: int,
        *,
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
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_heads = _positive_int("num_heads", num_heads)
        if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= bits <= 8:
            raise InvalidInputError(f"bits must be an integer in 1..8, got {bits!r}", fix="use bits between 1 and 8")
        self.bits = int(bits)
        self.alpha, self.beta = _finite_float("alpha", alpha), _finite_float("beta", beta)
        self.penalty, self.eps = _finite_float("penalty", penalty), _finite_float("eps", eps)
        if self.eps <= 0:
            raise InvalidInputError(f"eps must be positive, got {eps}", fix="use a small positive eps like 1e-6")
        self.num_reads = _positive_int("num_reads", num_reads)
        if seed is not None and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**31
        ):
            raise InvalidInputError(f"seed must be None or an integer in 0..2**31-1, got {seed!r}", fix="pass seed=0")
        self.seed = None if seed is None else int(seed)
        if value_transform not in VALUE_TRANSFORMS:
            raise InvalidInputError(
                f"unknown value_transform {value_transform!r}",
                fix=f"use one of {', '.join(VALUE_TRANSFORMS)} ('clamp' is the paper's)",
            )
        self.value_transform: ValueTransform = value_transform
        if isinstance(backend, str):
            from ..runtime.registry import available_backends

            known = available_backends()
            if backend not in known:
                raise UnknownNameError(
                    f"unknown backend {backend!r}; known backends: {', '.join(known)}",
                    fix="pick one of the known backends or pass a sampler object",
                    name=backend,
                    known=known,
                )
        elif not (callable(getattr(backend, "sample", None)) or callable(getattr(backend, "sample_ir", None))):
            raise InvalidInputError(
                f"backend must be a backend name or a sampler, got {type(backend).__name__}",
                fix="pass e.g. backend='cim' (see qama_compile.available_backends())",
            )
        self.backend = backend
        self.backend_options = dict(backend_options or {})
        self.sample_options = dict(sample_options or {})
        factory = {"device": device, "dtype": dtype}
        self.coupling_norm = nn.BatchNorm1d(num_heads, **factory)  # the authors' J_bn (off-diagonal of J)
        self.field_norm = nn.BatchNorm1d(num_heads, **factory)  # their h_bn
        self.output_norm = nn.BatchNorm2d(num_heads, **factory)  # their H_bn
        self._sampler: Any = None
        self.solve_calls = 0
        self.last_solve_time_s = 0.0
        self.total_solve_time_s = 0.0
        self.last_solve_info: dict[str, Any] = {}
        self.last_solution: torch.Tensor | None = None
        self.last_weights: torch.Tensor | None = None
        self.last_energies: torch.Tensor | None = None
        self.last_solver_energy: np.ndarray | None = None

    def extra_repr(self) -> str:
        name = self.backend if isinstance(self.backend, str) else type(self.backend).__name__
        return (
            f"num_heads={self.num_heads}, bits={self.bits}, alpha={self.alpha}, beta={self.beta}, "
            f"penalty={self.penalty}, eps={self.eps}, backend={name!r}, num_reads={self.num_reads}, "
            f"value_transform={self.value_transform!r}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_sampler"] = None  # rebuilt on first use; samplers need not be picklable
        return state

    @property
    def sampler(self) -> Any:
        """The backend's sampler, built on first use from ``backend`` and ``backend_options``."""
        if self._sampler is None:
            if isinstance(self.backend, str):
                from ..runtime.registry import get_backend

                self._sampler = get_backend(self.backend, **self.backend_options)
            else:
                self._sampler = self.backend
        return self._sampler

    def check_dtype(self, **tensors: torch.Tensor) -> None:
        """Inputs must be floating point of the parameters' dtype (batch norm does not mix dtypes)."""
        want = self.coupling_norm.weight.dtype
        for name, t in tensors.items():
            if t.dtype != want:
                raise InvalidInputError(
                    f"{name} has dtype {t.dtype} but the layer's parameters are {want}",
                    fix=f"pass {want} inputs or convert the layer (e.g. layer.to({t.dtype}))",
                    tensor=name,
                )

    # ------------------------------------------------------------------ batch norms
    def _normalise(self, norm: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
        per_channel = x.numel() // max(x.shape[1], 1)
        if per_channel == 0:
            return x
        if norm.training and per_channel < 2:
            raise InvalidInputError(
                f"batch norm of {what} in training needs more than one value per head, got {per_channel}",
                fix="train with more than one item or token per batch, or call .eval()",
            )
        out: torch.Tensor = norm(x)
        return out

    def _normalise_entries(
        self, norm: nn.Module, x: torch.Tensor, keep: torch.Tensor, what: str, *, fill: bool = False
    ) -> torch.Tensor:
        """Normalise ``x [B, C, *S, *T]`` per channel over the entries where ``keep [B, *S]``.

        The other entries keep their value (``fill=False``) or become 0.
        """
        axis = keep.ndim
        xt = x.movedim(1, axis)  # [B, *S, C, *T]
        sel = xt[keep]  # [M, C, *T]
        base = torch.zeros_like(xt) if fill else xt
        if sel.shape[0] == 0:
            return base.movedim(axis, 1)
        view = sel.reshape(sel.shape[0], sel.shape[1], -1, 1) if isinstance(norm, nn.BatchNorm2d) else sel
        normed = self._normalise(norm, view, what).reshape(sel.shape)
        mask = keep.reshape(*keep.shape, *([1] * (xt.ndim - axis))).expand_as(xt)
        return base.masked_scatter(mask, normed).movedim(axis, 1)

    def normalise_couplings(self, couplings: torch.Tensor, kept: torch.Tensor | None, *, shared: bool) -> torch.Tensor:
        """Batch norm (``coupling_norm``) of ``J [B, H, Lq, Lk]`` over the pairs of distinct kept tokens.

        Shared layout: the off-diagonal only (the diagonal ``J_ii`` stays raw), as the authors'
        code does; bipartite layout: every query-key pair.
        """
        b, h, lq, lk = couplings.shape
        if shared:
            if kept is None:
                if lq < 2:
                    return couplings
                flat = couplings.reshape(b, h, lq * lk)
                idx = _off_diagonal_index(lq, couplings.device)
                normed = self._normalise(self.coupling_norm, flat.index_select(-1, idx), "J")
                return flat.index_copy(-1, idx, normed).reshape(b, h, lq, lk)
            off = ~torch.eye(lq, dtype=torch.bool, device=couplings.device)
            keep = off[None] & kept[:, :, None] & kept[:, None, :]
        else:
            if kept is None:
                return self._normalise(self.coupling_norm, couplings.reshape(b, h, lq * lk), "J").reshape(b, h, lq, lk)
            keep = kept[:, None, :].expand(b, lq, lk)
        return self._normalise_entries(self.coupling_norm, couplings, keep, "J")

    def normalise_fields(self, fields: torch.Tensor, kept: torch.Tensor | None) -> torch.Tensor:
        """Batch norm (``field_norm``) of ``h [B, H, Lk]`` over the kept keys; padded keys get 0."""
        if kept is None:
            return self._normalise(self.field_norm, fields, "h")
        return self._normalise_entries(self.field_norm, fields, kept, "h", fill=True)

    # ------------------------------------------------------------------ the steps
    def couplings_and_fields(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, masks: Masks | None = None, *, shared: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(J [B, H, Lq, Lk], h [B, H, Lk], hi [B, H, Lk, d_v])``: normalised, masked couplings and fields.

        ``J`` and ``h`` are what the solver sees (forbidden pairs and padded keys are 0 in ``J``);
        ``hi`` are the raw entropy terms of the values.
        """
        masks = masks or Masks()
        couplings = js_coupling(q, k, eps=self.eps)
        entropy_terms, fields = value_entropy_terms(v, eps=self.eps, transform=self.value_transform)
        couplings = self.normalise_couplings(couplings, masks.kept, shared=shared)
        fields = self.normalise_fields(fields, masks.kept)
        if masks.shift is not None:
            couplings = couplings + masks.shift
        allowed = masks.pair_allowed(shared=shared)
        if allowed is not None:
            couplings = torch.where(allowed, couplings, torch.zeros_like(couplings))
        return couplings, fields, entropy_terms

    def _call_seed(self) -> int:
        if self.seed is None:
            return int(torch.randint(0, _SEED_RANGE, ()).item())
        state = np.random.SeedSequence([self.seed, self.solve_calls]).generate_state(1)[0]
        return int(state) % _SEED_RANGE

    @torch.compiler.disable
    def solve(
        self, couplings: torch.Tensor, fields: torch.Tensor, *, kept: torch.Tensor | None = None, shared: bool = True
    ) -> torch.Tensor:
        """One backend solve of the batch from the detached ``J``, ``h``: ``x [B, H, T, bits]`` int8.

        Runs outside any ``torch.compile`` graph. Subclasses may override it (e.g. an ablation
        that selects everything); it must return 0/1 int8 of that shape.
        """
        refuse_tracing()
        seed = self._call_seed()
        sel = solve_selection(
            couplings.detach().to("cpu", torch.float64).numpy(),
            fields.detach().to("cpu", torch.float64).numpy(),
            kept=None if kept is None else kept.detach().cpu().numpy(),
            shared=shared,
            bits=self.bits,
            alpha=self.alpha,
            beta=self.beta,
            penalty=self.penalty,
            sampler=self.sampler,
            name=self.backend if isinstance(self.backend, str) else type(self.backend).__name__,
            num_reads=self.num_reads,
            seed=seed,
            sample_options=self.sample_options,
        )
        self.solve_calls += 1
        self.last_solve_time_s = float(sel.info["wall_time_s"])
        self.total_solve_time_s += self.last_solve_time_s
        self.last_solve_info = sel.info
        self.last_solver_energy = sel.energy
        return torch.from_numpy(sel.x).to(couplings.device)

    @torch.compiler.disable
    def select(
        self,
        couplings: torch.Tensor,
        fields: torch.Tensor,
        *,
        kept: torch.Tensor | None = None,
        shared: bool = True,
        solution: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The solver's ``x`` (:meth:`solve`), or a given ``solution`` after checking it; kept in ``last_solution``."""
        b, h, lq, lk = couplings.shape
        shape = (b, h, lk if shared else lq + lk, self.bits)
        if solution is None:
            x = self.solve(couplings, fields, kept=kept, shared=shared)
        else:
            x = solution.detach().to(device=couplings.device)
            if tuple(x.shape) != shape or bool(((x != 0) & (x != 1)).any()):
                raise InvalidInputError(
                    f"solution must be 0/1 of shape [B, H, T, bits] = {list(shape)}, got {list(x.shape)}",
                    fix="pass layer.last_solution from a call on inputs of the same shape",
                )
            if kept is not None:
                pad = ~kept if shared else torch.cat([torch.zeros_like(kept[:, :lq]), ~kept], dim=1)
                if bool((x.bool().any(dim=-1) & pad[:, None, :]).any()):
                    raise InvalidInputError(
                        "solution selects a padded key", fix="set the bits of padded keys to 0", tensor="solution"
                    )
            x = x.to(torch.int8)
        if tuple(x.shape) != shape:
            raise InvalidInputError(
                f"solve() returned shape {list(x.shape)}, expected {list(shape)}", fix="return [B, H, T, bits] bits"
            )
        self.last_solution = x
        return x

    def combine(
        self, energies: torch.Tensor, entropy_terms: torch.Tensor, fields: torch.Tensor, kept: torch.Tensor | None
    ) -> torch.Tensor:
        """The authors' output ``BatchNorm(-(H_ti hi_tid / h_ti))`` per head; padded tokens' rows are 0."""
        out = paper_combination(energies, entropy_terms, fields)
        if kept is None:
            return self._normalise(self.output_norm, out, "the output")
        return self._normalise_entries(self.output_norm, out, kept, "the output", fill=True)

    @torch.compiler.disable
    def record(self, weights: torch.Tensor, energies: torch.Tensor) -> None:
        """Keep detached ``w`` and ``H`` of the last call (``last_weights``, ``last_energies``)."""
        self.last_weights, self.last_energies = weights.detach(), energies.detach()

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        solution: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``q, k [B, H, N, d]``, ``v [B, H, N, d_v]`` -> ``[B, H, N, d_v]`` (the paper's output).

        ``key_padding_mask`` ``[B, N]`` and ``attn_mask`` are read as in
        :mod:`qama_compile.nn.masks`. ``solution`` (0/1 ``[B, H, N, bits]``) replaces the
        solver (the fixed-``x`` path used by the equivalence and gradient tests).
        """
        refuse_tracing()
        for name, t in (("q", q), ("k", k), ("v", v)):
            if t.ndim != 4:
                raise InvalidInputError(
                    f"{name} must be [batch, heads, tokens, dim], got shape {list(t.shape)}",
                    fix="split the projections into heads first: x.view(B, N, H, d).transpose(1, 2)",
                    tensor=name,
                )
        b, h, n, _ = q.shape
        if h != self.num_heads or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
            raise InvalidInputError(
                f"q {list(q.shape)}, k {list(k.shape)} and v {list(v.shape)} must share [B, H={self.num_heads}, N] "
                "and q, k the head dim (the paper's operator pairs query i with key i and value row i)",
                fix="pass tensors of one sequence length and this operator's number of heads; for cross-attention "
                "of other lengths use QAMultiheadAttention(output='masked-softmax')",
            )
        self.check_dtype(q=q, k=k, v=v)
        check_finite(q=q, k=k, v=v)
        masks = canonical_masks(
            key_padding_mask=key_padding_mask, attn_mask=attn_mask, batch=b, heads=h, lq=n, lk=n, device=q.device
        )
        couplings, fields, entropy_terms = self.couplings_and_fields(q, k, v, masks, shared=True)
        x = self.select(couplings, fields, kept=masks.kept, shared=True, solution=solution)
        w = soft_weights(x, dtype=couplings.dtype)
        energies = token_energies(couplings, fields, w, alpha=self.alpha, beta=self.beta)
        self.record(w, energies)
        return self.combine(energies, entropy_terms, fields, masks.kept)

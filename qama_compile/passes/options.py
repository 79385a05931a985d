"""``CompileOptions``: every option of a compilation, typed and validated in one place.

Passes read their options from ``context.options`` (a :class:`CompileOptions`) unless the
pass was constructed with its own value. Invalid values raise
:class:`~qama_compile.errors.InvalidInputError` naming the option and the fix.

>>> CompileOptions(seed=3, rounding="stochastic").seed
3
>>> CompileOptions(timeout=0)
Traceback (most recent call last):
...
qama_compile.errors.InvalidInputError: timeout must be a positive number of seconds, got 0; fix: pass e.g. timeout=60
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..core.decode import UNEMBED_METHODS, UnembedMethod
from ..errors import InvalidInputError

__all__ = [
    "CHAIN_STRENGTH_RULES",
    "DEFAULT_MAX_ZEROED_FRACTION",
    "ChainStrengthRule",
    "CompileOptions",
    "EmbeddingMethod",
    "FieldAncillas",
    "Rounding",
]

EmbeddingMethod = Literal["auto", "clique", "heuristic"]
Rounding = Literal["nearest", "stochastic"]
FieldAncillas = int | Literal["auto"]
ChainStrengthRule = Literal["torque", "scaled"]
#: Named chain-strength rules (``dwave.embedding.chain_strength``) and their default prefactors.
CHAIN_STRENGTH_RULES: dict[str, float] = {"torque": 1.414, "scaled": 1.0}

#: Default share of a problem's non-zero couplers that quantization may round to zero
#: before :func:`qama_compile.compile` refuses (see ``docs/passes.md``, "Precision").
DEFAULT_MAX_ZEROED_FRACTION = 0.05


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


@dataclass(frozen=True, kw_only=True)
class CompileOptions:
    """Options shared by the passes of one compilation.

    Attributes:
        seed: seeds every stochastic step (find_embedding, stochastic rounding, weighted
            random unembedding).
        embedding: ``"auto"`` (a clique embedding when the problem fits the largest clique,
            else ``minorminer.find_embedding``), ``"clique"`` or ``"heuristic"``.
        timeout: seconds for ``find_embedding``.
        chain_strength: one positive number, one per problem, ``"torque"`` (uniform torque
            compensation, also ``None``) or ``"scaled"`` (the problem's largest
            ``|h|``/``|J|`` times the prefactor), per problem.
        chain_strength_prefactor: the named rule's prefactor (``None``: 1.414 for
            ``"torque"``, 1.0 for ``"scaled"``).
        unembed: chain-break resolution: ``"majority"``, ``"discard"`` or ``"weighted_random"``.
        rounding: rounding to the target's DAC grid: ``"nearest"`` or ``"stochastic"``.
        bits: override the target's coupling bit width (2..32).
        max_exact: check the quantized ground state exactly up to this many variables.
        prune_threshold: couplings below this magnitude are pruned by the reduce pass.
        max_zeroed_fraction: the share (0..1) of a problem's non-zero couplers that
            rounding to the target's DAC may set to zero; more is a
            :class:`~qama_compile.errors.PrecisionLossError` unless ``allow_precision_loss``.
        allow_precision_loss: compile anyway when quantization zeroes more couplers than
            allowed or changes the ground state (the loss is kept in the
            ``QuantizationReport``).
        field_ancillas: on CIMs without native fields, how many ancilla spins share the
            fields (each carries ``h_i / k``; every ground state is kept, see
            ``docs/passes.md``). ``"auto"``: just enough that no field coupler is larger than
            the largest coupling, within the spins left over; an integer >= 1 fixes it.
    """

    seed: int | None = None
    embedding: EmbeddingMethod = "auto"
    timeout: float = 60.0
    chain_strength: float | tuple[float, ...] | ChainStrengthRule | None = None
    chain_strength_prefactor: float | None = None
    unembed: UnembedMethod = "majority"
    rounding: Rounding = "nearest"
    bits: int | None = None
    max_exact: int = 20
    prune_threshold: float | None = None
    max_zeroed_fraction: float = DEFAULT_MAX_ZEROED_FRACTION
    allow_precision_loss: bool = False
    field_ancillas: FieldAncillas = "auto"

    def __post_init__(self) -> None:
        if self.seed is not None and (not _is_int(self.seed) or self.seed < 0):
            raise InvalidInputError(f"seed must be a non-negative integer, got {self.seed!r}", fix="pass e.g. seed=0")
        if self.embedding not in ("auto", "clique", "heuristic"):
            raise InvalidInputError(
                f"embedding must be 'auto', 'clique' or 'heuristic', got {self.embedding!r}",
                fix="pick one of the three",
            )
        if not _is_real(self.timeout) or not self.timeout > 0 or not math.isfinite(self.timeout):
            raise InvalidInputError(
                f"timeout must be a positive number of seconds, got {self.timeout!r}", fix="pass e.g. timeout=60"
            )
        if isinstance(self.chain_strength, str):
            if self.chain_strength not in CHAIN_STRENGTH_RULES:
                raise InvalidInputError(
                    f"chain_strength must be a positive number, 'torque' or 'scaled', got {self.chain_strength!r}",
                    fix="pass e.g. chain_strength='torque' (the default), 'scaled' or 2.0",
                )
        elif self.chain_strength is not None:
            try:
                cs = np.asarray(self.chain_strength, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                cs = np.array([np.nan])
            if cs.size == 0 or not np.all(np.isfinite(cs)) or np.any(cs <= 0):
                raise InvalidInputError(
                    f"chain_strength must be positive and finite (one number, or one per problem), "
                    f"got {self.chain_strength!r}",
                    fix="pass e.g. chain_strength=2.0, or None for uniform torque compensation",
                )
            object.__setattr__(self, "chain_strength", float(cs[0]) if cs.size == 1 else tuple(float(c) for c in cs))
        if self.chain_strength_prefactor is not None and (
            not _is_real(self.chain_strength_prefactor) or not self.chain_strength_prefactor > 0
        ):
            raise InvalidInputError(
                f"chain_strength_prefactor must be positive, got {self.chain_strength_prefactor!r}",
                fix="pass e.g. 1.414 (D-Wave's default)",
            )
        if self.unembed not in UNEMBED_METHODS:
            raise InvalidInputError(
                f"unembed must be one of {', '.join(UNEMBED_METHODS)}, got {self.unembed!r}", fix="pick one of them"
            )
        if self.rounding not in ("nearest", "stochastic"):
            raise InvalidInputError(
                f"rounding must be 'nearest' or 'stochastic', got {self.rounding!r}", fix="pick one of the two"
            )
        if self.bits is not None and (not _is_int(self.bits) or not 2 <= self.bits <= 32):
            raise InvalidInputError(
                f"bits (the coupling bit width) must be an integer in 2..32, got {self.bits!r}",
                fix="pass e.g. bits=8, or None for the target's own width",
            )
        if not _is_int(self.max_exact) or self.max_exact < 0:
            raise InvalidInputError(f"max_exact must be an integer >= 0, got {self.max_exact!r}", fix="pass e.g. 20")
        if self.prune_threshold is not None and (
            not _is_real(self.prune_threshold) or not math.isfinite(self.prune_threshold) or self.prune_threshold < 0
        ):
            raise InvalidInputError(
                f"prune_threshold must be a finite number >= 0, got {self.prune_threshold!r}",
                fix="pass e.g. prune_threshold=1e-3",
            )
        if (
            not _is_real(self.max_zeroed_fraction)
            or not math.isfinite(self.max_zeroed_fraction)
            or not 0 <= self.max_zeroed_fraction <= 1
        ):
            raise InvalidInputError(
                f"max_zeroed_fraction must be a number in 0..1, got {self.max_zeroed_fraction!r}",
                fix=f"pass e.g. max_zeroed_fraction={DEFAULT_MAX_ZEROED_FRACTION} (0: no coupler may round to zero)",
            )
        if not isinstance(self.allow_precision_loss, (bool, np.bool_)):
            raise InvalidInputError(
                f"allow_precision_loss must be True or False, got {self.allow_precision_loss!r}",
                fix="pass allow_precision_loss=True to compile despite lost couplers",
            )
        if self.field_ancillas != "auto" and (not _is_int(self.field_ancillas) or self.field_ancillas < 1):
            raise InvalidInputError(
                f"field_ancillas must be 'auto' or an integer >= 1, got {self.field_ancillas!r}",
                fix="pass field_ancillas='auto' (default) or e.g. field_ancillas=1",
            )

    @property
    def chain_strength_rule(self) -> ChainStrengthRule | None:
        """``"torque"`` or ``"scaled"`` when a rule sets the chain strength, ``None`` for user values.

        >>> CompileOptions().chain_strength_rule, CompileOptions(chain_strength=2.0).chain_strength_rule
        ('torque', None)
        """
        if self.chain_strength is None:
            return "torque"
        return self.chain_strength if isinstance(self.chain_strength, str) else None  # type: ignore[return-value]

    def prefactor(self) -> float:
        """The prefactor of :attr:`chain_strength_rule` (given, or the rule's default)."""
        if self.chain_strength_prefactor is not None:
            return float(self.chain_strength_prefactor)
        return CHAIN_STRENGTH_RULES[self.chain_strength_rule or "torque"]

    def chain_strengths(self, batch_size: int) -> tuple[float, ...] | None:
        """The user's chain strength per problem (``None``: a rule, see :attr:`chain_strength_rule`)."""
        if self.chain_strength is None or isinstance(self.chain_strength, str):
            return None
        cs = np.asarray(self.chain_strength, dtype=np.float64).reshape(-1)
        if cs.size not in (1, batch_size):
            raise InvalidInputError(
                f"chain_strength has {cs.size} values for a batch of {batch_size} problems",
                fix="pass one number, or one per problem",
            )
        return tuple(float(c) for c in np.broadcast_to(cs, (batch_size,)))

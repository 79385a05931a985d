"""The arms: which attention layer a model gets, and how its solver is configured.

Every QAMA arm uses :class:`qama_compile.nn.QAMultiheadAttention` with the paper's output
(``output="paper"``), the same bits, heads and seeds; they differ only in the ``backend``
that produces the selection, always wrapped in :class:`qama_compile.nn.SelectionProbe` so the
selection density and (at test time) the energy gap to the exact ground state are recorded:

=============  =================================================================
softmax        ``torch.nn.MultiheadAttention`` (the reference)
bag            no attention layer: the same model without mixing between tokens
qama-cim       QAMA, CIM emulator (``cim``)
qama-sa        QAMA, simulated annealing (``sa``, dwave-samplers, one call per problem)
qama-exact     QAMA, the exact ground state (``exact``, enumeration)
all-selected   QAMA with every token selected (no solver; ``AllSelected``)
random         QAMA with a random selection at the density ``qama-cim`` had in training
               on the same seed (``RandomSelection``)
=============  =================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from qama_compile.nn import AllSelected, QAMultiheadAttention, RandomSelection, SelectionProbe

ARMS = ("softmax", "bag", "qama-cim", "qama-sa", "qama-exact", "all-selected", "random")
QAMA_ARMS = ("qama-cim", "qama-sa", "qama-exact", "all-selected", "random")

#: Arms sharing one learning rate (chosen on validation by the group's ``tuned`` arm).
LR_GROUPS = {"softmax": "softmax", "bag": "bag", **dict.fromkeys(QAMA_ARMS, "qama")}
TUNED_ARM = {"softmax": "softmax", "bag": "bag", "qama": "qama-cim"}

DESCRIPTIONS = {
    "softmax": "torch.nn.MultiheadAttention (softmax attention)",
    "bag": "no attention layer (bag of tokens: per-token features, mean-pooled)",
    "qama-cim": "QAMA, paper output, CIM emulator",
    "qama-sa": "QAMA, paper output, simulated annealing (dwave-samplers)",
    "qama-exact": "QAMA, paper output, exact ground state (enumeration)",
    "all-selected": "QAMA, paper output, every token selected (no solver)",
    "random": "QAMA, paper output, random selection at qama-cim's training density (same seed)",
}


@dataclass(frozen=True)
class SolverConfig:
    """Operator and solver settings shared by the QAMA arms (fixed a priori, see docs/experiments.md)."""

    bits: int = 1
    cim_reads: int = 4
    cim_steps: int = 100
    sa_reads: int = 4
    sa_sweeps: int = 100


def attention_layer(
    arm: str, *, dim: int, heads: int, seed: int, solver: SolverConfig, density: float | None = None
) -> nn.Module | None:
    """The attention layer of ``arm`` (``None`` for the bag of tokens)."""
    if arm == "softmax":
        return nn.MultiheadAttention(dim, heads, batch_first=True)
    if arm == "bag":
        return None
    reads = 1
    options: dict[str, Any] | None = None
    if arm == "qama-cim":
        backend = SelectionProbe("cim", backend_options={"num_threads": 1})
        reads, options = solver.cim_reads, {"num_steps": solver.cim_steps}
    elif arm == "qama-sa":
        backend = SelectionProbe("sa")
        reads, options = solver.sa_reads, {"num_sweeps": solver.sa_sweeps}
    elif arm == "qama-exact":
        backend = SelectionProbe("exact")
    elif arm == "all-selected":
        backend = SelectionProbe(AllSelected())
    elif arm == "random":
        if density is None:
            raise ValueError("the random arm needs the density to match")
        backend = SelectionProbe(RandomSelection(density))
    else:
        raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
    return QAMultiheadAttention(
        dim,
        heads,
        batch_first=True,
        output="paper",
        bits=solver.bits,
        backend=backend,
        num_reads=reads,
        sample_options=options,
        seed=(7919 * seed + 17) % 2**30,  # the same solver seeds in every QAMA arm of a seed
    )

"""The QAMA operator in PyTorch (install the ``torch`` extra); see docs/operator.md.

* :class:`QAMA` (:mod:`.operator`): the paper's operator on projected ``q, k, v [B, H, N, d]``;
* :class:`QAMultiheadAttention` (:mod:`.attention`): a drop-in for ``torch.nn.MultiheadAttention``;
* :mod:`.functional`: the formulas in plain torch; :mod:`.masks`: padding and attention masks;
  :mod:`.solve`: the solver step (numpy, outside any ``torch.compile`` graph);
* :mod:`.ablation`: solver ablations passed as ``backend`` (:class:`AllSelected`,
  :class:`RandomSelection`) and :class:`SelectionProbe` (selection density, energy gap to the
  exact ground state).
"""

from __future__ import annotations

from . import functional
from .ablation import AllSelected, RandomSelection, SelectionProbe
from .attention import OUTPUT_MODES, QAMultiheadAttention
from .operator import QAMA

__all__ = [
    "OUTPUT_MODES",
    "QAMA",
    "AllSelected",
    "QAMultiheadAttention",
    "RandomSelection",
    "SelectionProbe",
    "functional",
]

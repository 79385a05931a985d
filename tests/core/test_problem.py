from __future__ import annotations

import numpy as np
import pytest

from qama_compile import AttentionProblem, lower_attention
from qama_compile.errors import InvalidInputError


def test_weights_decode_bits(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=2)  # H=2, N=2, q=2
    x = np.array([[1, 0, 0, 1, 1, 1, 0, 0]])  # (t,i,r) order
    w = problem.weights(x)[0, 0]
    assert np.allclose(w, [[1 / 3, 2 / 3], [1.0, 0.0]])
    masks = AttentionProblem.masks(w)
    assert masks.shape == (2, 2, 2)
    assert masks[0, 0, 1] == pytest.approx(2 / 9)


def test_weights_reject_non_binary(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=1)
    with pytest.raises(InvalidInputError, match="binary"):
        problem.weights(np.array([[-1, 1, 1, 1]]))
    with pytest.raises(InvalidInputError, match="samples must be"):
        problem.weights(np.zeros((1, 5)))


def test_select_keeps_everything(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 3, 2, 2, 3)), bits=1, alpha=0.5)
    sub = problem.select([2])
    assert sub.shape == (1, 2, 2, 1) and sub.alpha == 0.5
    assert np.array_equal(sub.couplings[0], problem.couplings[2])

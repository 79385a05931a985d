"""Plots: real PNGs with the right content, atomic writes, clear errors, no global pyplot state."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import image as mpimg

from qama_compile import InvalidInputError
from qama_compile.datasets import load_example
from qama_compile.tools.plotting import plot_energy_distributions, plot_masks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_masks_writes_a_png_of_both_panels(tmp_path: Path) -> None:
    ex = load_example(heads=[0, 1], tokens=range(1, 4))
    weights = np.array([[1.0, 0.0, 0.0], [0.0, 1 / 3, 1.0]])
    backend_before = matplotlib.get_backend()
    (tmp_path / "sub").mkdir()  # outputs never create directories (docs/errors.md)
    out = plot_masks(weights, ex.attention, ex.tokens, tmp_path / "sub" / "masks.png", title=ex.describe())
    assert out == tmp_path / "sub" / "masks.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(out)
    height, width = img.shape[:2]
    assert width > height * 0.8 and height > 300  # two columns, two head rows
    assert img[..., :3].std() > 0.1  # not blank
    assert matplotlib.get_backend() == backend_before  # no pyplot / global backend change
    assert sorted(p.name for p in out.parent.iterdir()) == ["masks.png"]  # no temp files left


def test_plot_masks_validates_inputs_and_writes_nothing_on_error(tmp_path: Path) -> None:
    w = np.ones((2, 3))
    att = np.full((2, 3, 3), 1 / 3)
    target = tmp_path / "never.png"
    cases = [
        (np.ones(3), att, ["a", "b", "c"], "weights must have 2 dimensions"),
        (w, att[:, :2, :2], ["a", "b", "c"], "attention must be [H, N, N] = (2, 3, 3)"),
        (w, att, ["a", "b"], "2 token labels for 3 tokens"),
        (np.where(np.eye(2, 3) > 0, np.nan, 1.0), att, ["a", "b", "c"], "weights contains NaN"),
    ]
    for weights, attention, tokens, message in cases:
        with pytest.raises(InvalidInputError) as info:
            plot_masks(weights, attention, tokens, target)
        assert message in str(info.value)
    with pytest.raises(InvalidInputError, match="1 head labels for 2 heads"):
        plot_masks(w, att, ["a", "b", "c"], target, head_labels=["only one"])
    assert not target.exists()


def test_plot_energy_distributions(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    out = plot_energy_distributions(
        {"sa": rng.normal(-10, 1, size=200), "cim": np.full(30, -11.0)},
        tmp_path / "e.png",
        ground_energy=-11.5,
    )
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert mpimg.imread(out)[..., :3].std() > 0.05


def test_plot_energy_distributions_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no energies to plot"):
        plot_energy_distributions({}, tmp_path / "e.png")
    with pytest.raises(InvalidInputError, match=r"no energies for \['sa'\]"):
        plot_energy_distributions({"sa": []}, tmp_path / "e.png")
    with pytest.raises(InvalidInputError, match="contains NaN"):
        plot_energy_distributions({"sa": [1.0, np.nan]}, tmp_path / "e.png")
    with pytest.raises(InvalidInputError, match="bins must be >= 1"):
        plot_energy_distributions({"sa": [1.0]}, tmp_path / "e.png", bins=0)
    assert not (tmp_path / "e.png").exists()

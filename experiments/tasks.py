"""The two tasks, each split per seed into train / validation / test (the same split for every arm).

* ``digits`` (vision): scikit-learn's bundled handwritten digits (1,797 real 8x8 images, 10
  classes) cut into 8 patches of 2 x 4 pixels (tokens of 8 pixels); one fixed stratified test
  split of 20 % (360 images), the other 80 % split 60/20 (of the whole) into train and
  validation by the seed.
* ``recall`` (language): associative recall, the standard synthetic probe of in-context
  retrieval in language models (Ba et al. 2016, "Using fast weights to attend to the recent
  past"; Fu et al. 2023, H3; Arora et al. 2023, Zoology): a sequence of key-value pairs
  ``(k_1, v_1) ... (k_m, v_m)`` with distinct keys, then a query key ``k_q`` equal to one of
  them; the label is the value paired with it. Each token has two fields (key, value); the
  query's value field is a separate "?" symbol. The answer sits in one token chosen by
  content, so a model must select that token; a bag of tokens (no mixing between tokens) sees
  which pairs occur but not which one the query points at. Generated from the seed with
  numpy, nothing downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .models import FieldEmbedding

TASKS = ("digits", "recall")
#: ``random_state`` of the digits' one test split (the same for every seed, tuning seeds included).
DIGITS_TEST_SPLIT = 0


@dataclass(frozen=True)
class Split:
    """Train / validation / test tensors of one seed."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


@dataclass(frozen=True)
class TaskSpec:
    """What a task needs from the protocol: its data per seed and its input embedding."""

    name: str
    tokens: int
    classes: int
    description: str
    options: dict[str, Any] = field(default_factory=dict)

    def split(self, seed: int) -> Split:
        if self.name == "digits":
            return digits_split(seed, **self.options)
        return recall_split(seed, **self.options)

    def embedding(self, dim: int) -> nn.Module:
        if self.name == "digits":
            ph, pw = self.options["patch"]
            return nn.Linear(ph * pw, dim)
        return FieldEmbedding((self.options["keys"], self.options["values"] + 1), dim)


# --------------------------------------------------------------------------- digits
def digit_patches(images: np.ndarray, patch: tuple[int, int]) -> np.ndarray:
    """``[n, 8, 8]`` images -> ``[n, tokens, ph * pw]`` patch tokens, row-major over the patch grid.

    >>> digit_patches(np.arange(64.0).reshape(1, 8, 8), (2, 4)).shape
    (1, 8, 8)
    >>> digit_patches(np.arange(64.0).reshape(1, 8, 8), (2, 4))[0, 1].tolist()
    [4.0, 5.0, 6.0, 7.0, 12.0, 13.0, 14.0, 15.0]
    """
    ph, pw = patch
    n, hgt, wid = images.shape
    gh, gw = hgt // ph, wid // pw
    return images.reshape(n, gh, ph, gw, pw).transpose(0, 1, 3, 2, 4).reshape(n, gh * gw, ph * pw)


def digits_split(seed: int, *, patch: tuple[int, int] = (2, 4), limit: int | None = None) -> Split:
    """The digits: a fixed stratified test split (20 %, the same for every seed, never used for a
    choice), the rest split 75 / 25 into train and validation by ``seed``; pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = digit_patches(data.images.astype(np.float32) / 16.0, patch)
    y = data.target.astype(np.int64)
    if limit is not None:  # quick mode: a fixed stratified subsample
        x, _, y, _ = train_test_split(x, y, train_size=limit, stratify=y, random_state=DIGITS_TEST_SPLIT)
    x_pool, x_test, y_pool, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=DIGITS_TEST_SPLIT)
    x_tr, x_val, y_tr, y_val = train_test_split(x_pool, y_pool, test_size=0.25, stratify=y_pool, random_state=seed)
    t = torch.from_numpy
    return Split(t(x_tr), t(y_tr), t(x_val), t(y_val), t(x_test), t(y_test))


# --------------------------------------------------------------------------- associative recall
def recall_sequences(
    n: int, *, pairs: int, keys: int, values: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` associative-recall sequences: tokens ``[n, pairs + 1, 2]`` (key, value) and labels ``[n]``.

    Keys within a sequence are distinct; values are drawn with replacement; the last token is
    the query ``(k_q, values)`` (value field ``values`` = "?"), ``k_q`` one of the sequence's keys.

    >>> x, y = recall_sequences(2, pairs=3, keys=5, values=4, rng=np.random.default_rng(0))
    >>> x.shape, y.shape, bool((x[:, -1, 1] == 4).all())
    ((2, 4, 2), (2,), True)
    >>> all(y[i] == x[i, :-1, 1][x[i, :-1, 0] == x[i, -1, 0]][0] for i in range(2))
    True
    """
    if pairs > keys:
        raise ValueError(f"{pairs} distinct keys per sequence need at least {pairs} keys, got {keys}")
    k = np.argsort(rng.random((n, keys)), axis=1)[:, :pairs]  # distinct keys per sequence
    v = rng.integers(0, values, size=(n, pairs))
    pick = rng.integers(0, pairs, size=n)
    rows = np.arange(n)
    query = np.stack([k[rows, pick], np.full(n, values)], axis=1)[:, None, :]
    x = np.concatenate([np.stack([k, v], axis=2), query], axis=1).astype(np.int64)
    return x, v[rows, pick].astype(np.int64)


def recall_split(
    seed: int, *, pairs: int = 7, keys: int = 16, values: int = 8, train: int = 3000, val: int = 1000, test: int = 1000
) -> Split:
    """Train / validation / test associative-recall sets generated from ``seed`` (disjoint draws)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EC411]))
    parts = [recall_sequences(n, pairs=pairs, keys=keys, values=values, rng=rng) for n in (train, val, test)]
    t = torch.from_numpy
    (a, b), (c, d), (e, f) = parts
    return Split(t(a), t(b), t(c), t(d), t(e), t(f))


def task_spec(name: str, *, quick: bool = False) -> TaskSpec:
    """The task as the experiments run it (``quick``: small data for the pipeline check)."""
    if name == "digits":
        opts: dict[str, Any] = {"patch": (2, 4)}
        if quick:
            opts["limit"] = 400
        return TaskSpec(
            "digits",
            tokens=8,
            classes=10,
            description="scikit-learn digits (1,797 real 8x8 images), 8 patch tokens of 2x4 pixels; fixed "
            "stratified test split of 20 %, train/validation 60/20 split per seed",
            options=opts,
        )
    if name == "recall":
        opts = {"pairs": 7, "keys": 16, "values": 8, "train": 3000, "val": 1000, "test": 1000}
        if quick:
            opts.update(train=256, val=128, test=128)
        return TaskSpec(
            "recall",
            tokens=opts["pairs"] + 1,
            classes=opts["values"],
            description=f"associative recall: {opts['pairs']} (key, value) pairs of {opts['keys']} keys and "
            f"{opts['values']} values, then a query key; label = its value (chance {1 / opts['values']:.3f}); "
            f"{opts['train']}/{opts['val']}/{opts['test']} sequences generated per seed",
            options=opts,
        )
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")

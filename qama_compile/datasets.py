"""Real attention tensors shipped with the package: MiniLM-L6 Q, K, V and softmax attention.

``qama_compile/data/minilm_qkv.npz`` holds, for a handful of English sentences, the query,
key and value projections of every layer (6) and head (12, head dim 32) of
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), and the model's own softmax attention.
``scripts/capture_minilm.py`` regenerates it; ``docs/data.md`` describes it.

>>> ex = load_example(sentence=0, layer=0, heads=[0, 1], tokens=6)
>>> ex.q.shape, ex.attention.shape, ex.tokens
((2, 6, 32), (2, 6, 6), ('[CLS]', 'the', 'cat', 'slept', 'on', 'the'))
>>> ex.sentence
'The cat slept on the warm windowsill.'
>>> [e["num_tokens"] for e in list_examples()]
[11, 11, 12, 10, 10]
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base.memory import LOAD_EXPANSION, LOAD_FLOOR, memory_limit
from .base.safeload import read_npz
from .errors import FileFormatError, InvalidInputError

FORMAT_VERSION = 1
DATA_FILE = "minilm_qkv.npz"
_SCALARS = (
    "format_version",
    "model_name",
    "model_source",
    "model_sha256",
    "model_license",
    "sentences",
    "num_tokens",
    "layers",
    "heads",
    "head_dim",
)

Selection = int | Sequence[int] | range | None


@dataclass(frozen=True, eq=False)
class ExampleTensors:
    """One real attention problem: Q, K, V ``[H, N, d]`` (float64) of the chosen heads and
    tokens, and the model's softmax attention ``[H, N, N]`` restricted to those tokens.

    ``attention`` rows are the model's probabilities over the *whole* sentence, so a row
    sums to 1 only when all tokens are kept.
    """

    q: NDArray[np.float64]
    k: NDArray[np.float64]
    v: NDArray[np.float64]
    attention: NDArray[np.float64]
    tokens: tuple[str, ...]
    sentence: str
    sentence_index: int
    layer: int
    heads: tuple[int, ...]
    token_indices: tuple[int, ...]
    model_name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, N, d)``."""
        h, n, d = self.q.shape
        return (h, n, d)

    def describe(self) -> str:
        """A one-line description naming the model, sentence, layer, heads and tokens.

        >>> text = load_example(sentence=1, heads=[3], tokens=[1, 2]).describe()
        >>> text.startswith("all-MiniLM-L6-v2, sentence 1 'Why do bees dance when they find flowers?'")
        True
        >>> text.split("?', ")[1]
        "layer 0, heads [3], tokens [1, 2] ('why', 'do')"
        """
        short = self.model_name.rsplit("/", 1)[-1]
        return (
            f"{short}, sentence {self.sentence_index} {self.sentence!r}, layer {self.layer}, "
            f"heads {list(self.heads)}, tokens {list(self.token_indices)} {self.tokens!r}"
        )


def data_path() -> Path:
    """Path of the shipped ``.npz`` (inside the installed package)."""
    ref = resources.files("qama_compile") / "data" / DATA_FILE
    return Path(str(ref))


def _read(path: str | os.PathLike[str] | None) -> dict[str, NDArray[Any]]:
    """The validated arrays of a dataset file (cached for the shipped file)."""
    if path is None:
        return _read_cached(str(data_path()))
    return _load_and_validate(Path(path))


@functools.lru_cache(maxsize=4)
def _read_cached(path: str) -> dict[str, NDArray[Any]]:
    return _load_and_validate(Path(path))


def _load_and_validate(path: Path) -> dict[str, NDArray[Any]]:
    fix = "regenerate it with scripts/capture_minilm.py or reinstall qama-compile"

    def bad(message: str, fix: str = fix, **fields: Any) -> FileFormatError:
        return FileFormatError(
            f"dataset {path}: {message}", fix=fix, path=str(path), format="qama-minilm-npz", **fields
        )

    if not path.is_file():
        raise bad("file not found")
    size = path.stat().st_size
    # every array checked before it is read (no pickles, declared sizes against the bytes present)
    arrays = read_npz(
        path,
        limit=min(LOAD_FLOOR + LOAD_EXPANSION * size, memory_limit()),
        fmt="qama-minilm-npz",
        fix=fix,
        not_zip_fix=fix,
    )
    missing = [name for name in _SCALARS if name not in arrays]
    if missing:
        raise bad(f"missing arrays {missing}")

    def count(name: str) -> int:
        value = arrays[name]
        if value.shape != () or value.dtype.kind not in "iu" or not 0 <= int(value) <= 1 << 20:
            raise bad(f"array {name!r} must be a small non-negative integer, got {value.dtype} shape {value.shape}")
        return int(value)

    version = count("format_version")
    if version != FORMAT_VERSION:
        raise bad(
            f"format version {version} is not supported (this qama-compile reads version {FORMAT_VERSION})",
            fix="upgrade qama-compile or regenerate the file with this version's scripts/capture_minilm.py",
            version=version,
        )
    layers, heads, dim = (count(n) for n in ("layers", "heads", "head_dim"))
    for name in ("model_name", "model_source", "model_sha256", "model_license"):
        if arrays[name].shape != () or arrays[name].dtype.kind != "U":
            raise bad(f"array {name!r} must be a text scalar")
    counts = arrays["num_tokens"]
    if (
        arrays["sentences"].ndim != 1
        or arrays["sentences"].dtype.kind != "U"
        or counts.shape != arrays["sentences"].shape
        or counts.dtype.kind not in "iu"
        or (counts.size and (int(counts.min()) < 1 or int(counts.max()) > 1 << 16))
    ):
        raise bad("'sentences' (text) and 'num_tokens' (positive integers) must be 1-D of equal length")
    for s, n in enumerate(counts.tolist()):
        expect = {
            f"q_{s}": (layers, heads, n, dim),
            f"k_{s}": (layers, heads, n, dim),
            f"v_{s}": (layers, heads, n, dim),
            f"attention_{s}": (layers, heads, n, n),
            f"tokens_{s}": (n,),
        }
        for name, shape in expect.items():
            if name not in arrays:
                raise bad(f"missing array {name!r}")
            if arrays[name].shape != shape:
                raise bad(f"array {name!r} has shape {arrays[name].shape}, expected {shape}")
            if name == f"tokens_{s}":
                if arrays[name].dtype.kind != "U":
                    raise bad(f"array {name!r} must hold text")
            elif arrays[name].dtype.kind not in "iuf" or not np.all(np.isfinite(arrays[name])):
                raise bad(f"array {name!r} contains NaN or infinity (or is not numeric)")
    for value in arrays.values():
        value.setflags(write=False)
    return arrays


def _pick(choice: Selection, size: int, what: str, keyword: str) -> NDArray[np.int64]:
    """Indices from ``None`` (all), an int ``n`` (the first n) or a sequence of indices."""
    if choice is None:
        return np.arange(size)
    if isinstance(choice, bool):
        raise InvalidInputError(
            f"{keyword} must be an int or a sequence of indices, got {choice!r}",
            fix=f"pass e.g. {keyword}=2 or {keyword}=[0, 1]",
        )
    if isinstance(choice, (int, np.integer)):
        if not 1 <= choice <= size:
            raise InvalidInputError(
                f"{keyword}={choice} asks for the first {choice} {what}, but there are {size}",
                fix=f"pass 1 <= {keyword} <= {size}, or a list of indices",
                value=int(choice),
                limit=size,
            )
        return np.arange(int(choice))
    try:
        idx = np.asarray(list(choice))
    except TypeError as exc:
        raise InvalidInputError(
            f"{keyword} must be an int or a sequence of indices, got {choice!r}", fix=f"pass e.g. {keyword}=[0, 1]"
        ) from exc
    if idx.size == 0 or idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise InvalidInputError(
            f"{keyword} must be a non-empty sequence of integer indices, got {choice!r}",
            fix=f"pass e.g. {keyword}=[0, 1]",
        )
    out_of_range = idx[(idx < 0) | (idx >= size)]
    if out_of_range.size:
        raise InvalidInputError(
            f"{keyword} index {int(out_of_range[0])} is out of range: there are {size} {what} (0..{size - 1})",
            fix=f"pick {what} in 0..{size - 1}",
            value=int(out_of_range[0]),
            limit=size,
        )
    if np.unique(idx).size != idx.size:
        raise InvalidInputError(f"{keyword} has repeated indices: {idx.tolist()}", fix="list each index once")
    return idx.astype(np.int64)


def load_example(
    *,
    sentence: int = 0,
    layer: int = 0,
    heads: Selection = None,
    tokens: Selection = None,
    path: str | os.PathLike[str] | None = None,
) -> ExampleTensors:
    """Real MiniLM-L6 Q, K, V and softmax attention for one sentence and layer.

    Args:
        sentence: sentence index (see :func:`list_examples`).
        layer: transformer layer, 0..5.
        heads: ``None`` (all 12), an int ``n`` (heads ``0..n-1``) or a list of head indices.
        tokens: ``None`` (all), an int ``n`` (the first ``n`` tokens, ``[CLS]`` included) or
            a list of token indices (e.g. ``range(1, 7)`` to skip ``[CLS]``).
        path: another file in the same format (default: the shipped one).

    >>> ex = load_example(sentence=2, layer=5, heads=3, tokens=range(1, 5))
    >>> ex.shape, ex.tokens, ex.heads
    ((3, 4, 32), ('quantum', 'anne', '##ale', '##rs'), (0, 1, 2))
    """
    z = _read(path)
    texts = z["sentences"]
    n_sent, n_layers, n_heads = texts.size, int(z["layers"]), int(z["heads"])
    for keyword, value, size, what in (
        ("sentence", sentence, n_sent, "sentences"),
        ("layer", layer, n_layers, "layers"),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InvalidInputError(
                f"{keyword} must be an integer index, got {value!r}",
                fix=f"pass {keyword} in 0..{size - 1}",
                value=value,
                limit=size,
            )
        if not 0 <= value < size:
            raise InvalidInputError(
                f"{keyword}={value!r} is out of range: the dataset has {size} {what} (0..{size - 1})",
                fix=f"pass {keyword} in 0..{size - 1} (see qama_compile.datasets.list_examples())",
                value=value,
                limit=size,
            )
    s, li = int(sentence), int(layer)
    h_idx = _pick(heads, n_heads, "heads", "heads")
    t_idx = _pick(tokens, int(z["num_tokens"][s]), f"tokens in sentence {s}", "tokens")

    def take(name: str) -> NDArray[np.float64]:
        out = np.array(z[f"{name}_{s}"][li][h_idx][:, t_idx], dtype=np.float64)
        out.setflags(write=False)
        return out

    att = np.array(z[f"attention_{s}"][li][h_idx][:, t_idx][:, :, t_idx], dtype=np.float64)
    att.setflags(write=False)
    return ExampleTensors(
        q=take("q"),
        k=take("k"),
        v=take("v"),
        attention=att,
        tokens=tuple(str(t) for t in z[f"tokens_{s}"][t_idx]),
        sentence=str(texts[s]),
        sentence_index=s,
        layer=li,
        heads=tuple(int(h) for h in h_idx),
        token_indices=tuple(int(t) for t in t_idx),
        model_name=str(z["model_name"]),
    )


def list_examples(*, path: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What is shipped: one dict per sentence (index, text, tokens, layers, heads, head_dim).

    >>> info = list_examples()[2]
    >>> info["text"], info["num_tokens"], info["layers"], info["heads"], info["head_dim"]
    ('Quantum annealers search for low energy states.', 12, 6, 12, 32)
    """
    z = _read(path)
    common = {
        "layers": int(z["layers"]),
        "heads": int(z["heads"]),
        "head_dim": int(z["head_dim"]),
        "model": str(z["model_name"]),
        "license": str(z["model_license"]),
    }
    return [
        {
            "sentence": s,
            "text": str(text),
            "num_tokens": int(z["num_tokens"][s]),
            "tokens": [str(t) for t in z[f"tokens_{s}"]],
            **common,
        }
        for s, text in enumerate(z["sentences"])
    ]


def dataset_info(*, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Provenance of the data: model name, source, licence, weight hash, format version.

    >>> dataset_info()["license"]
    'Apache-2.0'
    """
    z = _read(path)
    return {
        "model": str(z["model_name"]),
        "source": str(z["model_source"]),
        "license": str(z["model_license"]),
        "model_sha256": str(z["model_sha256"]),
        "format_version": int(z["format_version"]),
        "sentences": int(z["sentences"].size),
    }

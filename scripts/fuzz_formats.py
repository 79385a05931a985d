"""Fuzz every file reader: malformed files must end in a FileFormatError, never a crash, hang or blow-up.

Each case is a file derived deterministically from ``(seed, target, case number)``: a valid
seed file (several per format: batches, SPIN, plain dimod / Matrix Market variants,
attention problems, q/k/v inputs) put through byte-level mutations (truncation, bit flips,
insertions, deletions, repeats) and structure-aware ones (JSON nodes replaced by huge,
negative, non-finite, deeply nested or oddly typed values; ``.npy`` headers declaring other
shapes and dtypes; zip members compressed, corrupted, renamed or re-sized; text headers with
declared sizes out of proportion; LP brackets, long and unusual names).

Targets: ``bqm-json``, ``npz``, ``coo``, ``mtx``, ``lp`` and the physical ``ising-npz``,
``ising-txt``, ``pauli-json``, ``qasm3`` (``qama_compile.formats.load``; physical seeds are files
written by ``export_compiled``, with their compiled record, and by ``export_ir``),
``cli-input`` (``qama inspect FILE`` in-process: q/k/v and problem npz inputs) and
``dataset`` (``qama_compile.datasets.load_example(path=...)``).

A case passes when the reader returns a problem, or raises ``FileFormatError`` whose message
names the file (``cli-input``: exit status 0 or 2 with a one-line error, no traceback), within
``--case-timeout`` seconds, with a peak of traced allocations (tracemalloc) within
``formats.validate.loader_limit(size)`` (``cli-input``: plus 64 MiB to lower what it read).
Cases run in worker subprocesses: a worker that dies (a segfault, an abort) or exceeds the
timeout is a finding, and the parent carries on.
Findings are written to ``--out`` (default ``fuzz-findings/``) as ``<target>-<kind>-<case>.<suffix>``
with a JSON report beside them; add the small ones to ``tests/formats/corpus/``.

Run::

    python scripts/fuzz_formats.py --cases 30000                 # 30,000 cases per target
    python scripts/fuzz_formats.py --seconds 60 --seed 7         # a time budget instead
    python scripts/fuzz_formats.py --replay tests/formats/corpus # re-check saved files

Exit status 0 when nothing was found, 1 otherwise. ``tests/formats/test_fuzz.py`` runs this
script with a fixed seed and a budget of seconds on every test run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Generated files are cut to this size: the bar is "no hang over a few seconds for a file under 1 MB".
MAX_CASE_BYTES = 1 << 20
#: Extra bytes the ``cli-input`` target may use beyond the loader limit: ``qama inspect`` lowers
#: the tensors it read (small here) and lowering allocates its JS workspace (16 MiB) up front.
CLI_LOWERING_ALLOWANCE = 64 << 20
TARGETS = (
    "bqm-json",
    "npz",
    "coo",
    "mtx",
    "lp",
    "kaiwu",
    "ising-npz",
    "ising-txt",
    "pauli-json",
    "qasm3",
    "cli-input",
    "dataset",
)
SUFFIX = {
    "bqm-json": ".json",
    "npz": ".npz",
    "coo": ".coo",
    "mtx": ".mtx",
    "lp": ".lp",
    "kaiwu": ".csv",
    "ising-npz": ".npz",
    "ising-txt": ".txt",
    "pauli-json": ".json",
    "qasm3": ".qasm",
    "cli-input": ".npz",
    "dataset": ".npz",
}
NUMBERS = [
    "-1",
    "0",
    "1",
    "2",
    "3",
    "-2147483649",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 400,
    "1" + "0" * 5000,
    "1e308",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "-0.0",
    "1e-320",
    "0x10",
    "1_000",
    "\u0661\u0662",
    "\u00b2",
    "1000000000",
    "100000000",
    "20000",
    "65536",
    "true",
    "null",
    '"1"',
    "[]",
    "{}",
    "[1]",
]
TEXT = [
    '"',
    "[",
    "]",
    "{",
    "}",
    "[" * 64,
    "[ " * 2000,
    "{" * 3000,
    "\\",
    "\x00",
    "\udcff",
    "\u00e9",
    "\u2028",
    "%",
    "#",
    "\\ format: qama-compile/lp",
    "\n",
    "\r\n",
    "\n" * 500,
    ":",
    ",",
    " ",
    " " * 3000,
    "*",
    "^",
    "/2",
    "]/2",
    "x_\u00b2_1_0",
    "x_99999999999999999999_0_0",
    "x" * 300,
    "End",
    "Binaries",
    "Subject To",
    "Minimize",
    "obj:",
]


# =========================================================================== seed files
def _seeds(target: str) -> list[tuple[str, bytes]]:
    """Valid files of ``target`` (several shapes and variants), as ``(suffix, bytes)``."""
    import dimod
    import numpy as np
    import scipy.io
    import scipy.sparse

    from qama_compile import lower_attention
    from qama_compile.core.ir import QuadraticIR
    from qama_compile.formats import save

    rng = np.random.default_rng(0)
    attention = lower_attention(*rng.normal(size=(3, 2, 2, 3, 4)), bits=2)  # B=2, 12 variables
    single = attention.select([0])
    spin = QuadraticIR.from_coo(
        linear=[[0.5, -1.0, 0.25]], rows=[0, 1], cols=[1, 2], data=[[1.5, -0.5]], offset=[0.75], vartype="SPIN"
    )
    out: list[tuple[str, bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        def saved(obj: Any, name: str, **kw: Any) -> bytes:
            save(obj, d / name, **kw)
            return (d / name).read_bytes()

        def exported(obj: Any, name: str, **kw: Any) -> bytes:
            from qama_compile.formats.physical import export_compiled, export_ir

            (export_compiled if hasattr(obj, "decoder") else export_ir)(obj, d / name, **kw)
            return (d / name).read_bytes()

        physical = target in ("bqm-json", "lp", "ising-npz", "ising-txt", "pauli-json", "qasm3")
        if physical:
            from qama_compile.compiler import compile as compile_problem

            small = lower_attention(*rng.normal(size=(3, 2, 1, 2, 3)), bits=1)  # B=2, 2 variables
            annealer = compile_problem(small, target="chimera-c16", seed=0)
            cim = compile_problem(small, target="cim-550", seed=0, allow_precision_loss=True)
            one = compile_problem(small.select([0]), target="chimera-c16", seed=0)

        if target == "npz":
            out += [(".npz", saved(attention, "a.npz")), (".npz", saved(attention.ir, "b.npz"))]
            out += [(".npz", saved(spin, "c.npz"))]
        elif target == "bqm-json":
            out += [(".json", saved(single, "a.json")), (".json", saved(spin, "b.json"))]
            bqm = dimod.BinaryQuadraticModel({0: 1.0, 1: -1.0, "a": 0.5}, {(0, 1): 0.5, (1, "a"): 2.0}, 0.25, "SPIN")
            out.append((".json", json.dumps(bqm.to_serializable()).encode()))
            out += [(".json", exported(annealer, "p.json")), (".json", exported(spin, "q.json"))]
        elif target in ("ising-npz", "ising-txt", "pauli-json", "qasm3"):
            suffix = SUFFIX[target]
            fmt = {"format": target}
            out += [(suffix, exported(annealer, "p" + suffix, **fmt)), (suffix, exported(cim, "c" + suffix, **fmt))]
            out += [(suffix, exported(spin, "s" + suffix, **fmt))]
        elif target == "coo":
            out += [(".coo", saved(single, "a.coo")), (".coo", saved(spin, "b.coo"))]
        elif target == "mtx":
            out += [(".mtx", saved(single, "a.mtx")), (".mtx", saved(spin, "b.mtx"))]
            q = rng.normal(size=(4, 4))
            for sym, dense in (("symmetric", False), ("general", True), ("symmetric", True)):
                m = q + q.T if sym == "symmetric" else q
                buf = io.BytesIO()
                scipy.io.mmwrite(buf, m if dense else scipy.sparse.coo_matrix(m), symmetry=sym)
                out.append((".mtx", buf.getvalue()))
        elif target == "lp":
            out += [(".lp", saved(single, "a.lp")), (".lp", saved(spin, "b.lp"))]
            text = (d / "a.lp").read_text().replace("Minimize", "Maximize")
            out.append((".lp", text.encode()))
            out.append((".lp", exported(one, "p.lp")))
        elif target == "kaiwu":
            out += [(".csv", saved(single, "a.csv")), (".csv", saved(spin, "b.csv"))]
        elif target == "cli-input":
            buf = io.BytesIO()
            np.savez(buf, q=rng.normal(size=(2, 3, 4)), k=rng.normal(size=(2, 3, 4)), v=rng.normal(size=(2, 3, 4)))
            out.append((".npz", buf.getvalue()))
            buf = io.BytesIO()
            np.savez_compressed(buf, q=rng.normal(size=(3, 4)), k=rng.normal(size=(3, 4)), v=rng.normal(size=(3, 4)))
            out.append((".npz", buf.getvalue()))
            out.append((".npz", saved(attention, "p.npz")))
        elif target == "dataset":
            out.append((".npz", _small_dataset()))
    return out


def _small_dataset() -> bytes:
    """A dataset file in the shipped layout, cut to one sentence, one layer, two heads."""
    import numpy as np

    from qama_compile.datasets import data_path

    with np.load(data_path(), allow_pickle=False) as z:
        a = {name: z[name] for name in z.files}
    keep = {k: v for k, v in a.items() if not k.split("_")[-1].isdigit() or k.endswith("_0")}
    keep["sentences"] = a["sentences"][:1]
    keep["num_tokens"] = a["num_tokens"][:1]
    keep["layers"], keep["heads"] = np.array(1), np.array(2)
    for name in ("q_0", "k_0", "v_0", "attention_0"):
        keep[name] = keep[name][:1, :2]
    buf = io.BytesIO()
    np.savez(buf, **keep)
    return buf.getvalue()


# =========================================================================== mutations
def _byte_mutation(data: bytes, r: random.Random) -> bytes:
    if not data:
        return bytes(r.getrandbits(8) for _ in range(r.randint(1, 16)))
    at = r.randrange(len(data) + 1)
    kind = r.choice(("truncate", "flip", "insert", "delete", "repeat", "token", "copy"))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        n = r.randint(1, 4)
        return data[:at] + bytes(r.getrandbits(8) for _ in range(n)) + data[at + n :]
    if kind == "insert":
        return data[:at] + bytes(r.getrandbits(8) for _ in range(r.randint(1, 8))) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + r.randint(1, 64) :]
    if kind == "repeat":
        piece = data[at : at + r.randint(1, 32)]
        return data[:at] + piece * r.randint(2, 200) + data[at:]
    if kind == "copy":
        src = r.randrange(len(data))
        piece = data[src : src + r.randint(1, 256)]
        return data[:at] + piece + data[at + len(piece) :]
    token = r.choice(NUMBERS + TEXT).encode("utf-8", "surrogatepass")
    return data[:at] + token + data[at:]


def _json_value(r: random.Random, depth: int = 0) -> Any:
    kind = r.randrange(10)
    if kind == 0:
        return r.choice([-1, 0, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400])
    if kind == 1:
        return r.choice([float("nan"), float("inf"), -float("inf"), 1.5, -0.0, 1e308, 5e-324])
    if kind == 2:
        return r.choice(["", "x", "BINARY", "SPIN", "qama-compile/bqm-json", "1", "\x00", "\udcff", "a" * 300])
    if kind == 3:
        return r.choice([True, False, None])
    if kind == 4:
        nested: Any = []
        for _ in range(r.choice([2, 30, 900, 5000])):
            nested = [nested]
        return nested
    if kind == 5 and depth < 3:
        return [_json_value(r, depth + 1) for _ in range(r.randint(0, 4))]
    if kind == 6 and depth < 3:
        return {str(r.randint(0, 9)): _json_value(r, depth + 1) for _ in range(r.randint(0, 3))}
    if kind == 7:
        return [r.choice([-1, 0, 1, 2, 3, 10**6, 2**40]) for _ in range(r.randint(0, 12))]
    if kind == 8:
        return [[r.randint(-2, 3) for _ in range(r.randint(0, 4))] for _ in range(r.randint(0, 6))]
    return r.choice([[], {}, [1.0] * 3, [[0, 0, 0]], "BinaryQuadraticModel", {"bqm_schema": "3.0.0"}])


def _json_mutation(data: bytes, r: random.Random) -> bytes:
    obj = json.loads(data)
    nodes: list[tuple[Any, Any]] = []  # (container, key)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k in list(node):
                nodes.append((node, k))
                walk(node[k])
        elif isinstance(node, list):
            for i in range(min(len(node), 8)):
                nodes.append((node, i))
                walk(node[i])

    walk(obj)
    for _ in range(r.randint(1, 3)):
        if not nodes:
            break
        container, key = r.choice(nodes)
        action = r.randrange(8)
        if action >= 6 and isinstance(container, list):  # an index or size out of range
            container[key] = r.choice([-1, -2, -(2**31), 2**31, 2**32 + 1, 2**40, 10**12, 99, 4, 5])
        elif action == 0 and isinstance(container, dict):
            container.pop(key, None)
        elif action == 1 and isinstance(container, list) and container:
            del container[r.randrange(len(container)) :]  # a truncated list
        elif action == 2 and isinstance(container, list):
            container.extend(container[:3] * r.randint(1, 3))
        else:
            with contextlib.suppress(KeyError, IndexError):
                container[key] = _json_value(r)
    try:
        text = json.dumps(obj)
    except (ValueError, RecursionError):
        return data
    return text.encode("utf-8", "surrogatepass")


def _npy(arr: Any, *, header: str | None = None) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    raw = buf.getvalue()
    if header is None:
        return raw
    (hlen,) = struct.unpack("<H", raw[8:10])
    body = raw[10 + hlen :]
    h = header.encode("latin1", "replace")
    h += b" " * ((-(10 + len(h) + 1)) % 64) + b"\n"
    return raw[:8] + struct.pack("<H", len(h)) + h + body


def _random_array(r: random.Random) -> Any:
    import numpy as np

    shape = tuple(r.choice([0, 1, 2, 3, 5]) for _ in range(r.randint(0, 4)))
    dtype = r.choice(["<f8", "<i8", "<i4", "<u8", "|b1", "<U5", "<f4", "<c16", ">f8", "|O", "<M8[s]", "|V4"])
    if dtype == "|O":
        return np.array([{"x": 1}], dtype=object)
    arr = np.zeros(shape, dtype=dtype)
    if arr.dtype.kind == "f" and arr.size:
        arr.flat[r.randrange(arr.size)] = r.choice([np.nan, np.inf, 1e300, -1.0, 2.0])
    if arr.dtype.kind in "iu" and arr.size:
        arr.flat[r.randrange(arr.size)] = r.choice([2**62, 1, 0, 7, 2**31])
    return arr


def _npz_mutation(data: bytes, r: random.Random) -> bytes:
    """Structure-aware: rewrite members (arrays, headers, names, compression) of a valid archive."""
    import numpy as np

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    names = list(members)
    for _ in range(r.randint(1, 3)):
        name = r.choice(names) if names else "x.npy"
        action = r.randrange(9)
        if action == 0:
            members[name] = _npy(_random_array(r))
        elif action == 1:  # a header that declares another shape over the same data
            arr = np.load(io.BytesIO(members[name]), allow_pickle=False) if name in members else np.zeros(2)
            if arr.nbytes > 1 << 20 or arr.size > 1 << 20:  # an earlier mutation declared a huge array: stay small
                continue
            shape = r.choice(
                ["(1, 1000000000000)", "(0, 20000)", "(-1,)", "(2**62,)", "()", "(3, 4, 5, 6, 7)", "(True,)", "[3]"]
            )
            descr = r.choice([arr.dtype.str, "<f8", "|O", "<U0", "<V8", "<i8", "x"])
            with contextlib.suppress(ValueError, TypeError):
                members[name] = _npy(arr, header=f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
        elif action == 2:
            members.pop(name, None)
        elif action == 3:
            members[r.choice(["../evil.npy", "dir/", "a.txt", name.upper()])] = members.get(name, b"")
        elif action == 4 and name in members:  # semantic fields of our format
            key = r.choice(["blocks_shape", "version", "format", "kind", "vartype", "params", "meta", "label_fields"])
            value = r.choice(
                [
                    np.array([0, 20000]),
                    np.array([2**62, 2]),
                    np.array([-1, 5]),
                    np.array([1, 13]),
                    np.array(np.inf),
                    np.array("qama-compile/coo"),
                    np.array("attention-problem"),
                    np.array('{"bits": 10000000000000000000000, "alpha": 1, "beta": 1, "penalty": 2}'),
                    np.array('{"bits": 2, "alpha": 1e400, "beta": 1, "penalty": 2, "normalize": "none"}'),
                    np.array("[" * 5000 + "]" * 5000),
                    np.array(["head", "head"]),
                    np.array(5),
                ]
            )
            members[key + ".npy"] = _npy(value)
        elif action == 5 and name in members:
            raw = members[name]
            members[name] = raw[: r.randrange(len(raw) + 1)]
        elif action == 6 and name in members:
            members[name] = _byte_mutation(members[name], r)
        else:
            pass
    method = r.choice(
        [zipfile.ZIP_STORED, zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    out = buf.getvalue()
    if r.random() < 0.3:  # lie about a member's sizes in the central directory
        pos = out.rfind(b"PK\x01\x02")
        if pos >= 0:
            field = r.choice([20, 24])  # compressed / uncompressed size
            out = out[: pos + field] + struct.pack("<I", r.choice([0, 1, 2**31, 2**32 - 1])) + out[pos + field + 4 :]
    if r.random() < 0.3:
        out = _byte_mutation(out, r)
    return out


def _text_mutation(data: bytes, r: random.Random, target: str) -> bytes:
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    for _ in range(r.randint(1, 3)):
        action = r.randrange(7)
        i = r.randrange(len(lines))
        words = lines[i].split(" ")
        if action <= 2 and words:  # replace a word (often a declared size or a number)
            words[r.randrange(len(words))] = r.choice(NUMBERS + TEXT)
            lines[i] = " ".join(words)
        elif action == 3:
            del lines[i : i + r.randint(1, 5)]
        elif action == 4:
            lines.insert(i, r.choice(lines) * r.randint(1, 3))
        elif action == 5:  # no longer than a case may be: a long header line x 2000, twice, is gigabytes
            lines[i] = lines[i] * min(r.choice([2, 100, 2000]), MAX_CASE_BYTES // max(1, len(lines[i])) + 1)
        else:
            lines.insert(i, r.choice(TEXT))
        if not lines:
            lines = [""]
    if target == "lp" and r.random() < 0.2:
        lines.insert(r.randrange(len(lines)), "obj: " + "[ " * r.choice([10, 5000, 50000]))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def make_case(target: str, seed: int, case: int, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """The file of case ``case`` (deterministic in ``seed``, ``target``, ``case``)."""
    r = random.Random(f"{seed}:{target}:{case}")
    suffix, data = seeds[r.randrange(len(seeds))]
    structured = r.random() < 0.6
    try:
        if structured and target in ("bqm-json", "pauli-json"):
            data = _json_mutation(data, r)
        elif structured and target in ("npz", "ising-npz", "cli-input", "dataset"):
            data = _npz_mutation(data, r)
        elif structured and target in ("coo", "mtx", "lp", "ising-txt", "qasm3"):
            data = _text_mutation(data, r, target)
    except Exception:  # a mutation that cannot apply leaves the seed as it is
        pass
    for _ in range(r.choice([0, 1, 1, 2, 4])):
        data = _byte_mutation(data, r)
    return suffix, data[:MAX_CASE_BYTES]


# =========================================================================== running one case
def _check_case(target: str, path: Path) -> dict[str, Any]:
    """Load ``path`` once; the outcome as a dict (``ok`` or a finding kind)."""
    import tracemalloc

    from qama_compile.errors import FileFormatError, QamaError

    try:
        from qama_compile.formats.validate import loader_limit
    except ImportError:  # an older qama-compile (to measure what the fuzzer finds there)

        def loader_limit(file_size: int) -> int:
            return (4 << 20) + 64 * file_size

    size = path.stat().st_size
    # the CLI also lowers what it loaded; lowering has its own check (core.lowering.estimate_lowering_bytes)
    limit = loader_limit(size) + (CLI_LOWERING_ALLOWANCE if target == "cli-input" else 0)
    result: dict[str, Any] = {"outcome": "ok", "size": size, "limit": limit}
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        if target == "cli-input":
            from qama_compile.cli.main import main

            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["inspect", str(path)])
            text = err.getvalue()
            if code not in (0, 2) or "Traceback" in text or (code == 2 and text.count("\n") != 1):
                result.update(outcome="bad-exit", detail=f"exit {code}: {text[-500:]}")
            else:
                result["result"] = f"exit {code}"
        elif target == "dataset":
            from qama_compile.datasets import load_example

            load_example(path=path)
            result["result"] = "loaded"
        else:
            from qama_compile.formats import load

            obj = load(path, format=target)
            result["result"] = type(obj).__name__
    except FileFormatError as exc:
        if str(path) not in str(exc) or not exc.fix:
            result.update(outcome="bad-message", detail=str(exc)[:500])
        else:
            result["result"] = "FileFormatError"
    except QamaError as exc:  # e.g. a valid dataset asked for a sentence it lacks
        result.update(
            outcome="ok" if target in ("dataset",) else "other-error", result=type(exc).__name__, detail=str(exc)[:300]
        )
    except MemoryError:
        result.update(outcome="memory-error")
    except BaseException as exc:
        result.update(outcome="exception", detail=f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    result.update(seconds=round(elapsed, 4), peak=peak)
    if result["outcome"] == "ok" and peak > limit:
        result.update(outcome="memory", detail=f"peak {peak} bytes > loader limit {limit} for {size} bytes")
    return result


def _worker(args: argparse.Namespace) -> None:
    """Run cases read from stdin (``target case`` or ``replay path``); one JSON line per case."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    seeds: dict[str, list[tuple[str, bytes]]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="qama-fuzz-"))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        kind, _, rest = line.strip().partition(" ")
        if kind == "case":
            target, case = rest.split()
            if target not in seeds:
                seeds[target] = _seeds(target)
            suffix, data = make_case(target, args.seed, int(case), seeds[target])
            path = workdir / f"case{suffix}"
            path.write_bytes(data)
        else:
            target, _, src = rest.partition(" ")
            path = workdir / f"case{Path(src).suffix}"
            path.write_bytes(Path(src).read_bytes())
        out = _check_case(target, path)
        print(json.dumps({"done": rest, **out}), flush=True)


# =========================================================================== the parent
class Worker:
    def __init__(self, seed: int) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--seed", str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        self.current: str | None = None
        self.started = 0.0
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # {"ready": true} once imports are done

    def submit(self, item: str) -> None:
        assert self.proc.stdin is not None
        self.current, self.started = item, time.monotonic()
        self.proc.stdin.write(item + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()


def run(
    items: list[tuple[str, str]],
    *,
    seed: int,
    workers: int,
    case_timeout: float,
    deadline: float | None,
    on_finding: Callable[[str, str, dict[str, Any]], None],
) -> dict[str, Any]:
    """Run ``items`` (``(target, "case N" | "replay PATH")``) on worker processes; returns counts."""
    queue = list(reversed(items))
    pool = [Worker(seed) for _ in range(max(1, workers))]
    counts: dict[str, dict[str, int]] = {}
    slowest: dict[str, float] = {}
    fullest: dict[str, float] = {}  # the largest peak / limit of any case
    busy: dict[Worker, tuple[str, str]] = {}

    def record(target: str, outcome: str) -> None:
        counts.setdefault(target, {}).setdefault(outcome, 0)
        counts[target][outcome] += 1

    try:
        while queue or busy:
            for w in pool:
                if w not in busy and queue and (deadline is None or time.monotonic() < deadline):
                    target, what = queue.pop()
                    kind, _, arg = what.partition(" ")
                    w.submit(f"{kind} {target} {arg}")
                    busy[w] = (target, what)
            if not busy:
                break
            streams = {w.proc.stdout: w for w in busy if w.proc.stdout is not None}
            ready, _, _ = select.select(list(streams), [], [], 0.2)
            now = time.monotonic()
            for stream in ready:
                w = streams[stream]
                line = stream.readline()
                target, what = busy[w]
                if not line:  # the worker died: a crash of this case
                    code = w.proc.wait()
                    info = {"outcome": "crash", "detail": f"worker exited with {code}"}
                    if code < 0:
                        info["detail"] += f" ({signal.Signals(-code).name})"
                    record(target, "crash")
                    on_finding(target, what, info)
                    pool[pool.index(w)] = Worker(seed)
                    del busy[w]
                    continue
                msg = json.loads(line)
                if "done" in msg:
                    del busy[w]
                    outcome = msg["outcome"]
                    if outcome == "ok" and msg["seconds"] > case_timeout:
                        outcome = "slow"
                        msg.update(outcome="slow", detail=f"{msg['seconds']} s")
                    slowest[target] = max(slowest.get(target, 0.0), msg["seconds"])
                    fullest[target] = max(fullest.get(target, 0.0), msg["peak"] / max(msg["limit"], 1))
                    record(target, outcome if outcome != "ok" else str(msg.get("result", "ok")))
                    if outcome != "ok":
                        on_finding(target, what, msg)
            for w in list(busy):
                if now - w.started > case_timeout * 2 + 5:  # a hang: kill and replace the worker
                    target, what = busy.pop(w)
                    w.kill()
                    record(target, "hang")
                    on_finding(target, what, {"outcome": "hang", "detail": f"> {case_timeout * 2 + 5:.0f} s"})
                    pool[pool.index(w)] = Worker(seed)
    finally:
        for w in pool:
            w.kill()
    return {"counts": counts, "slowest_s": slowest, "peak_over_limit": fullest, "not_run": len(queue)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    parser.add_argument("--cases", type=int, default=1000, help="cases per target (default 1000)")
    parser.add_argument("--start", type=int, default=0, help="first case number (to re-run one: --start N --cases 1)")
    parser.add_argument("--seconds", type=float, default=None, help="stop starting cases after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--case-timeout", type=float, default=5.0, help="seconds one case may take (default 5)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), help="where findings are written")
    parser.add_argument("--replay", type=Path, default=None, help="check the files in this directory instead")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}")
    if args.replay is not None:
        items = []
        for f in sorted(args.replay.iterdir()):
            target = f.name.split("-", 1)[0] if f.name.split("-", 1)[0] in TARGETS else None
            target = next((t for t in TARGETS if f.name.startswith(t + "-")), target)
            if target is not None and target in targets and f.is_file():
                items.append((target, f"replay {f}"))
    else:  # interleaved, so a time budget covers every target
        items = [(t, f"case {i}") for i in range(args.start, args.start + args.cases) for t in targets]
    findings: list[dict[str, Any]] = []

    def on_finding(target: str, what: str, info: dict[str, Any]) -> None:
        kind, _, arg = what.partition(" ")
        if kind == "case":
            suffix, data = make_case(target, args.seed, int(arg), _seeds_cached(target))
        else:
            data, suffix = Path(arg).read_bytes(), Path(arg).suffix
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = f"{target}-{info['outcome']}-{digest}{suffix}"
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / name).write_bytes(data)
        entry = {"target": target, "case": what, "file": name, "bytes": len(data), **info}
        findings.append(entry)
        print(f"FINDING {target} {what}: {info['outcome']} {info.get('detail', '')[:200]}", file=sys.stderr)

    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    t0 = time.monotonic()
    summary = run(
        items,
        seed=args.seed,
        workers=args.workers,
        case_timeout=args.case_timeout,
        deadline=deadline,
        on_finding=on_finding,
    )
    summary.update(
        seed=args.seed,
        targets=targets,
        cases_requested=args.cases if args.replay is None else len(items),
        wall_s=round(time.monotonic() - t0, 1),
        findings=findings,
    )
    for target in targets:
        c = summary["counts"].get(target, {})
        print(
            f"{target:10s} {sum(c.values()):7d} cases  slowest {summary['slowest_s'].get(target, 0):.3f} s  "
            f"peak/limit {summary['peak_over_limit'].get(target, 0):.2f}  {c}"
        )
    print(f"{len(findings)} finding(s) in {summary['wall_s']} s" + (f"; written to {args.out}/" if findings else ""))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if findings else 0


_SEEDS: dict[str, list[tuple[str, bytes]]] = {}


def _seeds_cached(target: str) -> list[tuple[str, bytes]]:
    if target not in _SEEDS:
        _SEEDS[target] = _seeds(target)
    return _SEEDS[target]


if __name__ == "__main__":
    sys.exit(main())

"""Lowering benchmark (issues 2, 17): ``lower_attention`` against a vectorised numpy lowering,
a dict-built BQM and a raw write of the same bytes.

Workload: B=32 QAMA problems (H=8 heads, N=128 tokens, d=64, bits=4: 4096 binary variables and
1,062,912 couplers each) from seeded standard-normal Q, K, V.

Methods, each in its own fresh Python process (imports and inputs first, then the timed call):

* ``lower-float32`` / ``lower-float64``: :func:`qama_compile.lower_attention` with that
  ``precision`` (default threads: every CPU the process may use).
* ``numpy``: :func:`numpy_lowering` below, what a competent numpy user writes for the same
  output, in the open: softmaxes, JS via ``H(m) - (H(p) + H(r)) / 2`` with one einsum per head,
  the value-entropy fields, the default standardisation (:func:`standardise`: batch norm's
  ``(x - mean) / sqrt(var + 1e-5)`` per problem and head), and each head's dense upper-triangular QUBO block
  (``triu(M + M^T, 1)`` of ``M = -alpha kron(J, c c^T)``) written into one preallocated
  ``[B, H, n, n]`` array; the head penalty as COO. It does not compute the model's softmax
  attention, which ``lower_attention`` also returns.
* ``raw``: allocate one float64 array of exactly the bytes ``lower_attention`` returns and fill
  it (one thread per core): the floor for producing that much output.
* ``dict``: numpy J and h per problem, Python loops filling ``linear`` / ``quadratic`` dicts,
  ``dimod.BinaryQuadraticModel`` (the issue-2 peer); seconds per problem, so it runs on a few
  problems in one process and is scaled to B.

"fresh" is the first call in the process (page faults of new memory included); "warm" is the
median of the next ``--warm`` calls in the same process (each allocates its output again, as
the API does; ``raw`` also reports refilling an already-touched buffer). Every configuration
runs in ``--processes`` fresh processes (default 5), on 1 core and on 2 cores (the process's CPU
affinity, set before numpy loads), interleaved so that load drifts hit all methods alike.
Reported: medians over the processes, their min-max, and ratios paired by repetition.

Peak memory: in each fresh process, the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) after imports and inputs, just before the call; the peak resident
set during the call minus the resident set just before it is compared with the bytes of every
array the call returns (for ``lower_attention``: IR blocks, linear, offset, penalty COO,
labels, couplings, fields, attention).

The JS stage (``js_coupling`` on all heads, median of 3 warm calls) is compared with two
compute floors for the same ``B*H*N*N*d`` elements, on the same threads, over blocks of the
kernel's cache-sized workspace: the bare log (the issue's "268 M log2 evaluations", with the
kernel's own numpy log: ``log10`` in float32, ``log`` in float64, the fastest bases here), and
the three element-wise primitives the stage cannot avoid (contiguous add, log, multiply-sum).
Wall and CPU seconds (user + system, all threads) are both reported: CPU seconds do not count
the time other jobs on a shared machine hold the cores.

Energies of problem 0 on 64 random assignments are compared across lower-float64,
lower-float32, the numpy lowering and the dict BQM.

Run: ``.venv-bench/bin/python benchmarks/bench_lower.py`` (about 6 minutes on 2 idle cores;
``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dimod
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, ROOT, fmt_time, machine_info, table, update_docs, write_json

import qama_compile
from qama_compile.core.hamiltonian import FLOAT32_JS_TOLERANCE, JSKernel, js_coupling

SPEED_BAR = 2.0  # issue 17: at least 2x the numpy lowering, fresh processes, median of 5
MEMORY_BAR = 1.10  # peak RSS increment at most 10 % above the output's bytes
JS_BAR = 2.0  # JS stage within 2x of its compute limit
TIMED = ("lower-float32", "lower-float64", "numpy", "raw")
ALPHA, BETA, PENALTY = 1.0, 1.0, 2.0


# --------------------------------------------------------------------------- the numpy user
def standardise(j: NDArray[np.float64], h: NDArray[np.float64], eps: float = 1e-5) -> None:
    """lower_attention's default normalisation, in place: per problem and head, J's off-diagonal
    and h become ``(x - mean) / sqrt(var + eps)`` (population variance), J's diagonal kept."""
    n = j.shape[-1]
    off = ~np.eye(n, dtype=bool)
    vals = j[..., off]  # [..., N(N-1)]
    j[..., off] = (vals - vals.mean(axis=-1, keepdims=True)) / np.sqrt(vals.var(axis=-1, keepdims=True) + eps)
    h -= h.mean(axis=-1, keepdims=True)
    h /= np.sqrt((h * h).mean(axis=-1, keepdims=True) + eps)


def numpy_lowering(
    q: NDArray[np.float64],
    k: NDArray[np.float64],
    v: NDArray[np.float64],
    *,
    bits: int,
    alpha: float = ALPHA,
    beta: float = BETA,
    penalty: float = PENALTY,
    eps: float = 1e-8,
) -> dict[str, NDArray[Any]]:
    """The QAMA QUBO of ``q, k, v [B, H, N, d]`` with plain vectorised numpy (float64).

    Same variable order and outputs as ``lower_attention`` (minus the model's attention):
    variable ``(t, i, r)`` is ``(t * N + i) * bits + r`` within a problem.
    """
    b, h, n_tok, _ = q.shape
    n = n_tok * bits
    c = 2.0 ** np.arange(bits) / (2.0**bits - 1.0)
    cc = np.outer(c, c)
    tiny = np.finfo(np.float64).tiny

    def softmax(x: NDArray[np.float64]) -> NDArray[np.float64]:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        out: NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
        return out

    def entropy(p: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = -np.einsum("...k,...k->...", p, np.log2(np.maximum(p, tiny)))
        return out

    p, r = softmax(q), softmax(k)
    hp, hr = entropy(p), entropy(r)
    pv = np.clip(v / (v.sum(axis=-1, keepdims=True) + eps), eps, 1.0)
    fields = -np.einsum("...k,...k->...", pv, np.log2(pv))
    couplings = np.empty((b, h, n_tok, n_tok))
    blocks = np.empty((b, h, n, n))
    linear = np.empty((b, h, n))
    for i in range(b):
        for t in range(h):
            m = 0.5 * (p[i, t, :, None, :] + r[i, t, None, :, :])  # [N, N, d] mixtures
            h_m = -np.einsum("ijk,ijk->ij", m, np.log2(np.maximum(m, tiny)))  # one einsum per head
            couplings[i, t] = np.clip(h_m - 0.5 * (hp[i, t, :, None] + hr[i, t, None, :]), 0.0, 1.0)
    standardise(couplings, fields)
    for i in range(b):
        for t in range(h):
            j = couplings[i, t]
            quad = -alpha * np.kron(j, cc)  # M[(i,r),(j,s)] = -alpha J_ij c_r c_s
            blocks[i, t] = np.triu(quad + quad.T, k=1)
            linear[i, t] = -beta * np.kron(fields[i, t], c) + np.diag(quad)  # x^2 = x
    pairs = h * (h - 1) // 2
    t1, t2 = np.triu_indices(h, k=1)
    rows = (t1[:, None] * n + np.arange(n)).reshape(-1)
    cols = (t2[:, None] * n + np.arange(n)).reshape(-1)
    data = np.full(rows.size, penalty / pairs) if pairs else np.zeros(0)
    return {
        "blocks": blocks,
        "linear": linear.reshape(b, h * n),
        "couplings": couplings,
        "fields": fields,
        "rows": rows,
        "cols": cols,
        "data": data,
    }


def numpy_energies(out: dict[str, NDArray[Any]], index: int, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Energies of samples ``x [S, V]`` for problem ``index`` of :func:`numpy_lowering`'s output."""
    blocks = out["blocks"][index]
    g, n = blocks.shape[0], blocks.shape[1]
    xb = x.reshape(x.shape[0], g, n)
    energy = x @ out["linear"][index] + np.einsum("sgi,gij,sgj->s", xb, blocks, xb)
    energy += (x[:, out["rows"]] * x[:, out["cols"]]) @ out["data"]
    result: NDArray[np.float64] = energy
    return result


# --------------------------------------------------------------------------- the issue-2 peer
def user_couplings_and_fields(
    q: NDArray[np.float64], k: NDArray[np.float64], v: NDArray[np.float64], eps: float = 1e-8
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """J [H, N, N] (Jensen-Shannon, base 2, as KL to the mixture) and h [H, N] for one problem."""
    heads, n, _ = q.shape
    j_out = np.empty((heads, n, n))
    for t in range(heads):
        e_q = np.exp(q[t] - q[t].max(axis=-1, keepdims=True))
        e_k = np.exp(k[t] - k[t].max(axis=-1, keepdims=True))
        p = (e_q / e_q.sum(axis=-1, keepdims=True))[:, None, :]
        r = (e_k / e_k.sum(axis=-1, keepdims=True))[None, :, :]
        m = 0.5 * (p + r)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
            kl_r = np.where(r > 0, r * np.log2(r / m), 0.0).sum(axis=-1)
        j_out[t] = np.clip(0.5 * (kl_p + kl_r), 0.0, 1.0)
    pv = np.clip(v / (v.sum(axis=-1, keepdims=True) + eps), eps, 1.0)
    h_out = -(pv * np.log2(pv)).sum(axis=-1)
    standardise(j_out, h_out)
    return j_out, h_out


def user_dict_bqm(
    j: NDArray[np.float64], h: NDArray[np.float64], *, bits: int, alpha: float, beta: float, penalty: float
) -> dimod.BinaryQuadraticModel:
    """Fill linear/quadratic dicts in Python loops (pairs u < v only), then build the BQM."""
    heads, n, _ = j.shape
    c = [2.0**r / (2.0**bits - 1.0) for r in range(bits)]
    cc = [[cr * cs for cs in c] for cr in c]
    linear: dict[int, float] = {}
    quadratic: dict[tuple[int, int], float] = {}
    for t in range(heads):
        jt = j[t].tolist()
        ht = h[t].tolist()
        base = t * n * bits
        for i in range(n):
            row_i = jt[i]
            for r in range(bits):
                u = base + i * bits + r
                linear[u] = -beta * ht[i] * c[r] - alpha * row_i[i] * cc[r][r]
                for jj in range(i, n):
                    coupling = -alpha * (row_i[jj] + jt[jj][i])
                    vbase = base + jj * bits
                    for s in range(bits):
                        v = vbase + s
                        if v > u:
                            quadratic[(u, v)] = coupling * cc[r][s]
    pairs = heads * (heads - 1) // 2
    if pairs:
        lam = penalty / pairs
        block = n * bits
        for t in range(heads):
            for t2 in range(t + 1, heads):
                for m in range(block):
                    quadratic[(t * block + m, t2 * block + m)] = lam
    return dimod.BinaryQuadraticModel(linear, quadratic, 0.0, "BINARY")


# --------------------------------------------------------------------------- measurement helpers
def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _cpu() -> float:
    """CPU seconds (user + system, every thread) this process has used; other jobs' time is not counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS; False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def output_bytes(b: int, h: int, n_tok: int, bits: int) -> int:
    """Bytes of every array ``lower_attention`` returns for this shape."""
    n = n_tok * bits
    e = h * (h - 1) // 2 * n
    ir = 8 * (b * h * n * n + b * h * n + b + b * e) + 16 * e + 24 * h * n
    return ir + 8 * (2 * b * h * n_tok * n_tok + b * h * n_tok)


def _fill(buffer: NDArray[np.float64], threads: int) -> None:
    parts = np.array_split(buffer, threads)
    if threads == 1:
        parts[0].fill(1.0)
        return
    workers = [threading.Thread(target=part.fill, args=(1.0,)) for part in parts]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _inputs(args: argparse.Namespace) -> tuple[NDArray[np.float64], ...]:
    rng = np.random.default_rng(args.seed)
    shape = (args.batch, args.heads, args.tokens, args.dim)
    return tuple(rng.normal(size=shape) for _ in range(3))


def _method(name: str, args: argparse.Namespace, cores: int) -> Callable[[], tuple[Any, int]]:
    """A call returning ``(output, output bytes)`` for method ``name``."""
    q, k, v = _inputs(args)
    if name.startswith("lower-"):
        precision = name.split("-", 1)[1]

        def lower() -> tuple[Any, int]:
            p = qama_compile.lower_attention(q, k, v, bits=args.bits, precision=precision)  # type: ignore[arg-type]
            size = p.ir.nbytes() + p.couplings.nbytes + p.fields.nbytes + p.attention.nbytes
            return p, size

        return lower
    if name == "numpy":

        def numpy_user() -> tuple[Any, int]:
            out = numpy_lowering(q, k, v, bits=args.bits)
            return out, sum(a.nbytes for a in out.values())

        return numpy_user
    if name == "raw":
        size = output_bytes(args.batch, args.heads, args.tokens, args.bits)

        def raw() -> tuple[Any, int]:
            buffer = np.empty(size // 8)
            _fill(buffer, cores)
            return buffer, buffer.nbytes

        return raw
    raise ValueError(name)


# --------------------------------------------------------------------------- child processes
def child_timed(name: str, args: argparse.Namespace, cores: int) -> dict[str, Any]:
    call = _method(name, args, cores)
    gc.collect()
    exact_peak = _reset_peak()
    rss_before = _status_kib("VmRSS") * 1024
    peak_before = _status_kib("VmHWM") * 1024
    c0, t0 = _cpu(), time.perf_counter()
    out, size = call()
    fresh, fresh_cpu = time.perf_counter() - t0, _cpu() - c0
    peak = _status_kib("VmHWM") * 1024
    result: dict[str, Any] = {
        "method": name,
        "cores": cores,
        "cpus": sorted(os.sched_getaffinity(0)),
        "fresh_s": fresh,
        "fresh_cpu_s": fresh_cpu,
        "output_bytes": size,
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": peak,
        "peak_increment_bytes": peak - (rss_before if exact_peak else peak_before),
        "peak_reset": exact_peak,
    }
    if name.startswith("lower-"):
        result["blocks_bytes"] = out.ir.blocks.nbytes
    warm_buffer = out if name == "raw" else None
    del out
    gc.collect()
    warm, warm_cpu = [], []
    for _ in range(args.warm):
        c0, t0 = _cpu(), time.perf_counter()
        again, _ = call()
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(_cpu() - c0)
        del again
        gc.collect()
    result["warm_s"] = warm
    result["warm_cpu_s"] = warm_cpu
    if warm_buffer is not None:  # refill the first, already-touched buffer: no page faults
        reuse = []
        for _ in range(max(1, args.warm)):
            t0 = time.perf_counter()
            _fill(warm_buffer, cores)
            reuse.append(time.perf_counter() - t0)
        result["reuse_s"] = reuse
    return result


def _floor(
    dtype: np.dtype[Any], elements: int, block: int, threads: int, primitives: bool, log: Callable[..., Any]
) -> tuple[float, float]:
    """Wall and CPU time for ``elements`` logs (and, with ``primitives``, add + multiply-sum) on ``threads`` threads.

    ``log`` is the kernel's own numpy log for ``dtype`` (the fastest base; any base is the same work).
    """
    per_thread = elements // threads
    d = 64 if block % 64 == 0 else 1
    barrier = threading.Barrier(threads + 1)
    done: list[float] = []

    def work() -> None:
        rng = np.random.default_rng(0)
        a = (rng.random(block) + 0.01).astype(dtype)
        b2 = (rng.random(block) + 0.01).astype(dtype)
        s = np.empty(block, dtype=dtype)
        logs = np.empty(block, dtype=dtype)
        acc = np.empty(block // d, dtype=dtype)
        barrier.wait()
        for _ in range(max(1, per_thread // block)):
            if primitives:
                np.add(a, b2, out=s)
                log(s, out=logs)
                np.vecdot(s.reshape(-1, d), logs.reshape(-1, d), out=acc)
            else:
                log(a, out=logs)
        done.append(time.perf_counter())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    c0, t0 = _cpu(), time.perf_counter()
    for w in workers:
        w.join()
    return max(done) - t0, _cpu() - c0


def child_stages(args: argparse.Namespace, cores: int) -> dict[str, Any]:
    q, k, v = _inputs(args)
    elements = args.batch * args.heads * args.tokens * args.tokens * args.dim
    out: dict[str, Any] = {"method": "stages", "cores": cores, "elements": elements}
    for precision in ("float32", "float64"):
        dtype = np.dtype(precision)
        kernel = JSKernel(args.tokens, args.tokens, args.dim, dtype)
        block = kernel.group * kernel.rows * kernel.cols * args.dim
        runs: dict[str, list[float]] = {}
        for rep in range(args.warm + 1):
            c0, t0 = _cpu(), time.perf_counter()
            js_coupling(q, k, precision=precision)  # type: ignore[arg-type]
            c1, t1 = _cpu(), time.perf_counter()
            p = qama_compile.lower_attention(q, k, v, bits=args.bits, precision=precision)  # type: ignore[arg-type]
            t2 = time.perf_counter()
            del p
            gc.collect()
            if rep:  # the first round warms up
                log_wall, log_cpu = _floor(dtype, elements, block, cores, primitives=False, log=kernel._log)
                prim_wall, prim_cpu = _floor(dtype, elements, block, cores, primitives=True, log=kernel._log)
                for key, value in (
                    ("js_stage_s", t1 - t0),
                    ("js_stage_cpu_s", c1 - c0),
                    ("lower_warm_s", t2 - t1),
                    ("log2_floor_s", log_wall),
                    ("log2_floor_cpu_s", log_cpu),
                    ("primitives_floor_s", prim_wall),
                    ("primitives_floor_cpu_s", prim_cpu),
                ):
                    runs.setdefault(key, []).append(value)
        out[precision] = {"block_elements": block, "log": kernel._log.__name__, **runs}
    return out


def child_dict(args: argparse.Namespace, cores: int) -> dict[str, Any]:
    q, k, v = _inputs(args)
    per_problem = []
    for index in range(args.dict_problems):
        gc.collect()
        t0 = time.perf_counter()
        j_u, h_u = user_couplings_and_fields(q[index], k[index], v[index])
        t1 = time.perf_counter()
        user_dict_bqm(j_u, h_u, bits=args.bits, alpha=ALPHA, beta=BETA, penalty=PENALTY)
        t2 = time.perf_counter()
        per_problem.append({"j_h_s": t1 - t0, "dicts_and_bqm_s": t2 - t1, "total_s": t2 - t0})
    t0 = time.perf_counter()
    qama_compile.lower_attention(q[:1], k[:1], v[:1], bits=args.bits).to_bqm(0)
    return {"method": "dict", "cores": cores, "per_problem": per_problem, "to_bqm_one_s": time.perf_counter() - t0}


def child_check(args: argparse.Namespace, cores: int) -> dict[str, Any]:
    """Energies of problem 0 on 64 random assignments from every representation."""
    q, k, v = (a[:1] for a in _inputs(args))
    rng = np.random.default_rng(args.seed + 1)
    exact = qama_compile.lower_attention(q, k, v, bits=args.bits, precision="float64")
    fast = qama_compile.lower_attention(q, k, v, bits=args.bits, precision="float32")
    x = rng.integers(0, 2, size=(64, exact.ir.num_variables)).astype(np.float64)
    e_exact = exact.energies(x)[0]
    e_fast = fast.energies(x)[0]
    e_numpy = numpy_energies(numpy_lowering(q, k, v, bits=args.bits), 0, x)
    j_u, h_u = user_couplings_and_fields(q[0], k[0], v[0])
    bqm = user_dict_bqm(j_u, h_u, bits=args.bits, alpha=ALPHA, beta=BETA, penalty=PENALTY)
    e_dict = bqm.energies((x.astype(np.int8), list(range(exact.ir.num_variables))))
    e_formula = exact.reference_energy(x)[0]
    w = x.reshape(64, args.heads, args.tokens, args.bits) @ (2.0 ** np.arange(args.bits) / (2.0**args.bits - 1))
    bound = ALPHA * FLOAT32_JS_TOLERANCE * (w.sum(axis=-1) ** 2).sum(axis=-1)  # documented float32 bound
    scale = float(np.abs(e_numpy).max())
    return {
        "method": "check",
        "cores": cores,
        "max_rel_diff": {
            "lower_float64_vs_numpy": float(np.abs(e_exact - e_numpy).max()) / scale,
            "lower_float64_vs_dict": float(np.abs(e_exact - e_dict).max()) / scale,
            "lower_float64_vs_formula": float(np.abs(e_exact - e_formula).max()) / scale,
            "lower_float32_vs_numpy": float(np.abs(e_fast - e_numpy).max()) / scale,
            "numpy_vs_dict": float(np.abs(e_numpy - e_dict).max()) / scale,
        },
        "float32_within_bound": bool(np.all(np.abs(e_fast - e_exact) <= bound + 1e-9 * scale)),
        "float32_error_over_bound": float((np.abs(e_fast - e_exact) / bound).max()),
    }


CHILDREN: dict[str, Callable[[argparse.Namespace, int], dict[str, Any]]] = {
    "stages": child_stages,
    "dict": child_dict,
    "check": child_check,
}


def run_child(args: argparse.Namespace, method: str, cores: int) -> dict[str, Any]:
    """Run one measurement in a fresh process pinned to the first ``cores`` CPUs."""
    cpus = sorted(os.sched_getaffinity(0))[:cores]
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", method, "--cores", str(cores)]
    for key in ("batch", "heads", "tokens", "dim", "bits", "seed", "warm", "dict_problems"):
        argv += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),  # before the child loads numpy and BLAS
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {method} on {cores} core(s) failed:\n{proc.stderr}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


# --------------------------------------------------------------------------- report
def _med(xs: list[float]) -> float:
    return float(np.median(xs))


def _span(xs: list[float], fmt: Callable[[float], str] = fmt_time) -> str:
    return f"{fmt(min(xs))}-{fmt(max(xs))}"


def _ratio(num: list[float], den: list[float]) -> dict[str, float]:
    paired = [a / b for a, b in zip(num, den, strict=True)]
    return {"median_ratio": _med(num) / _med(den), "paired_min": min(paired), "paired_max": max(paired)}


def _rx(r: dict[str, float]) -> str:
    return f"{r['median_ratio']:.1f}x ({r['paired_min']:.1f}-{r['paired_max']:.1f}x)"


def summarise(runs: dict[tuple[str, int], list[dict[str, Any]]], cores_list: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cores in cores_list:
        fresh = {m: [r["fresh_s"] for r in runs[(m, cores)]] for m in TIMED}
        warm = {
            m: [_med(r["warm_s"]) for r in runs[(m, cores)]] if runs[(m, cores)][0]["warm_s"] else [] for m in TIMED
        }
        fresh_cpu = {m: [r["fresh_cpu_s"] for r in runs[(m, cores)]] for m in TIMED}
        entry: dict[str, Any] = {"fresh_s": fresh, "warm_s": warm, "fresh_cpu_s": fresh_cpu}
        for precision in ("float32", "float64"):
            lower = f"lower-{precision}"
            entry[f"numpy_over_{lower}_fresh"] = _ratio(fresh["numpy"], fresh[lower])
            entry[f"{lower}_over_raw_fresh"] = _ratio(fresh[lower], fresh["raw"])
            entry[f"numpy_over_{lower}_fresh_cpu"] = _ratio(fresh_cpu["numpy"], fresh_cpu[lower])
            if warm[lower]:
                entry[f"numpy_over_{lower}_warm"] = _ratio(warm["numpy"], warm[lower])
                entry[f"{lower}_over_raw_warm"] = _ratio(warm[lower], warm["raw"])
            mem = [r["peak_increment_bytes"] / r["output_bytes"] for r in runs[(lower, cores)]]
            entry[f"{lower}_peak_over_output"] = {"median": _med(mem), "max": max(mem)}
        mem_np = [r["peak_increment_bytes"] / r["output_bytes"] for r in runs[("numpy", cores)]]
        entry["numpy_peak_over_output"] = {"median": _med(mem_np), "max": max(mem_np)}
        entry["raw_reuse_s"] = [_med(r["reuse_s"]) for r in runs[("raw", cores)]]
        out[str(cores)] = entry
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--processes", type=int, default=None, help="fresh processes per configuration (default 5)")
    ap.add_argument("--warm", type=int, default=None, help="warm calls per process (default 3)")
    ap.add_argument("--dict-problems", type=int, default=None, help="problems built with dicts (default 4)")
    ap.add_argument("--cores", type=str, default="1,2", help="core counts to run on (default 1,2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke run: B=8, N=64, 2 processes, 1 warm call")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    ap.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.tokens = min(args.batch, 8), min(args.tokens, 64)
    args.processes = args.processes or (2 if args.quick else 5)
    args.warm = args.warm if args.warm is not None else (1 if args.quick else 3)
    args.dict_problems = min(args.batch, args.dict_problems or (1 if args.quick else 4))

    if args.child is not None:
        cores = int(args.cores)
        fn = CHILDREN.get(args.child)
        result = fn(args, cores) if fn is not None else child_timed(args.child, args, cores)
        print("RESULT " + json.dumps(result), flush=True)
        return result

    if args.out is None:
        args.out = RESULTS_DIR / ("lower_quick.json" if args.quick else "lower.json")
    available = len(os.sched_getaffinity(0))
    cores_list = [c for c in (int(x) for x in args.cores.split(",")) if 1 <= c <= available]
    b, hh, n, d, q = args.batch, args.heads, args.tokens, args.dim, args.bits
    print(
        f"lowering benchmark: B={b}, H={hh}, N={n}, d={d}, bits={q}, seed={args.seed}; "
        f"{args.processes} fresh processes per configuration, {args.warm} warm calls each; cores {cores_list}",
        flush=True,
    )
    machine = machine_info()
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {(m, c): [] for m in TIMED for c in cores_list}
    for rep in range(args.processes):
        for cores in cores_list:
            for method in TIMED:
                r = run_child(args, method, cores)
                runs[(method, cores)].append(r)
                print(
                    f"  [{rep + 1}/{args.processes}] {method:14s} {cores} core(s): fresh {fmt_time(r['fresh_s'])}, "
                    f"warm {', '.join(fmt_time(t) for t in r['warm_s'])}; "
                    f"peak +{r['peak_increment_bytes'] / 2**20:.0f} MiB "
                    f"for {r['output_bytes'] / 2**20:.0f} MiB of output",
                    flush=True,
                )
    stages = {c: run_child(args, "stages", c) for c in cores_list}
    dict_run = run_child(args, "dict", max(cores_list))
    check = run_child(args, "check", max(cores_list))
    summary = summarise(runs, cores_list)
    loadavg_end = list(os.getloadavg())

    # ---- tables
    out_bytes = runs[("lower-float32", cores_list[0])][0]["output_bytes"]
    blocks_bytes = runs[("lower-float32", cores_list[0])][0]["blocks_bytes"]
    labels = {
        "lower-float32": 'lower_attention(precision="float32")',
        "lower-float64": 'lower_attention(precision="float64")',
        "numpy": "numpy lowering (in the benchmark, in the open)",
        "raw": "raw write of the same bytes",
    }
    rows = []
    for cores in cores_list:
        s = summary[str(cores)]
        for m in TIMED:
            ratio_f = _ratio(s["fresh_s"]["numpy"], s["fresh_s"][m])
            ratio_w = _ratio(s["warm_s"]["numpy"], s["warm_s"][m]) if s["warm_s"][m] else None
            ratio_c = _ratio(s["fresh_cpu_s"]["numpy"], s["fresh_cpu_s"][m])
            mem = [r["peak_increment_bytes"] / r["output_bytes"] for r in runs[(m, cores)]]
            rows.append(
                [
                    f"{labels[m]}, {cores} core{'s' if cores > 1 else ''}",
                    f"{fmt_time(_med(s['fresh_s'][m]))} ({_span(s['fresh_s'][m])})",
                    _rx(ratio_f),
                    f"{fmt_time(_med(s['warm_s'][m]))} ({_span(s['warm_s'][m])})" if s["warm_s"][m] else "-",
                    _rx(ratio_w) if ratio_w else "-",
                    _rx(ratio_c),
                    f"{_med(mem):.3f} (max {max(mem):.3f})",
                ]
            )
    main_table = table(
        [
            "method",
            f"fresh, median of {args.processes} (min-max)",
            "numpy / this, fresh",
            "warm, median (min-max)",
            "numpy / this, warm",
            "numpy / this, CPU seconds (fresh)",
            "peak RSS increment / output bytes",
        ],
        rows,
    )
    stage_rows = []
    for cores in cores_list:
        st = stages[cores]
        for precision in ("float32", "float64"):
            x = st[precision]
            js, lf, pf = _med(x["js_stage_s"]), _med(x["log2_floor_s"]), _med(x["primitives_floor_s"])
            jc, lc, pc = _med(x["js_stage_cpu_s"]), _med(x["log2_floor_cpu_s"]), _med(x["primitives_floor_cpu_s"])
            stage_rows.append(
                [
                    f"{precision}, {cores} core{'s' if cores > 1 else ''}",
                    f"{fmt_time(js)} ({fmt_time(jc)} CPU)",
                    f"{fmt_time(lf)} ({fmt_time(lc)} CPU)",
                    f"{js / lf:.2f}x ({jc / lc:.2f}x)",
                    f"{fmt_time(pf)} ({fmt_time(pc)} CPU)",
                    f"{js / pf:.2f}x ({jc / pc:.2f}x)",
                    f"{js / _med(x['lower_warm_s']):.0%}",
                ]
            )
    stage_table = table(
        [
            "JS stage (js_coupling, all heads, warm)",
            "time (CPU seconds)",
            f"log floor ({stages[cores_list[0]]['elements'] / 1e6:.0f} M logs)",
            "stage / log floor (CPU)",
            "add + log + multiply-sum floor",
            "stage / that floor (CPU)",
            "share of lower_attention",
        ],
        stage_rows,
    )
    per_problem = dict_run["per_problem"]
    t_dict = float(np.mean([p["total_s"] for p in per_problem])) * b
    top = summary[str(max(cores_list))]
    t_lower32 = _med(top["fresh_s"]["lower-float32"])
    dict_ratio = t_dict / t_lower32

    fresh_ratio = {c: summary[str(c)]["numpy_over_lower-float32_fresh"] for c in cores_list}
    fresh_ratio64 = {c: summary[str(c)]["numpy_over_lower-float64_fresh"] for c in cores_list}
    warm_ratio = {c: summary[str(c)].get("numpy_over_lower-float32_warm") for c in cores_list}
    mem32 = max(summary[str(c)]["lower-float32_peak_over_output"]["max"] for c in cores_list)
    mem64 = max(summary[str(c)]["lower-float64_peak_over_output"]["max"] for c in cores_list)
    js_ratio32 = {
        c: _med(stages[c]["float32"]["js_stage_s"]) / _med(stages[c]["float32"]["log2_floor_s"]) for c in cores_list
    }
    js_cpu32 = {
        c: _med(stages[c]["float32"]["js_stage_cpu_s"]) / _med(stages[c]["float32"]["log2_floor_cpu_s"])
        for c in cores_list
    }
    js_prim32 = {
        c: _med(stages[c]["float32"]["js_stage_s"]) / _med(stages[c]["float32"]["primitives_floor_s"])
        for c in cores_list
    }
    cpu_ratio = {c: summary[str(c)]["numpy_over_lower-float32_fresh_cpu"] for c in cores_list}
    speed_met = all(r["median_ratio"] >= SPEED_BAR for r in fresh_ratio.values()) and all(
        w is None or w["median_ratio"] >= SPEED_BAR for w in warm_ratio.values()
    )
    memory_met = max(mem32, mem64) <= MEMORY_BAR
    diff = check["max_rel_diff"]
    energies_ok = (
        max(v for key, v in check["max_rel_diff"].items() if not key.startswith("lower_float32")) < 1e-9
        and check["float32_within_bound"]
    )
    loaded = machine["loadavg_at_start"][0] > 0.5 or loadavg_end[0] > 0.5
    findings = [
        f"- speed: lower_attention (float32, the default) is **{_rx(fresh_ratio[max(cores_list)])}** faster than the "
        f"numpy lowering in fresh processes on {max(cores_list)} cores"
        + "".join(f", {_rx(fresh_ratio[c])} on {c} core" for c in cores_list if c != max(cores_list))
        + (
            f"; warm {', '.join(_rx(w) + f' on {c} core(s)' for c, w in warm_ratio.items() if w)}"
            if any(warm_ratio.values())
            else ""
        )
        + f"; float64: {', '.join(_rx(r) + f' on {c} core(s)' for c, r in fresh_ratio64.items())} fresh "
        f"(bar >= {SPEED_BAR:.0f}x for the default, fresh and warm: {'met' if speed_met else 'NOT met'}). "
        "In brackets: the range of the ratios paired by repetition. In CPU seconds (which do not count the time other "
        "jobs hold the cores), the numpy lowering needs "
        f"{', '.join(_rx(r) + f' on {c} core(s)' for c, r in cpu_ratio.items())} what the float32 lowering needs.",
        f"- peak memory: the peak RSS increment during the call is at most {mem32:.3f}x (float32) and {mem64:.3f}x "
        f"(float64) the {out_bytes / 1e6:.0f} MB the call returns ({blocks_bytes / 1e6:.0f} MB of it the IR blocks); "
        f"bar <= {MEMORY_BAR:.2f}x: {'met' if memory_met else 'NOT met'}.",
        f"- against the raw write of the same bytes, fresh: float32 "
        f"{_rx(top['lower-float32_over_raw_fresh'])}, float64 {_rx(top['lower-float64_over_raw_fresh'])} its time; "
        f"refilling an already-touched buffer takes {fmt_time(_med(top['raw_reuse_s']))}.",
        f"- JS stage, float32: {', '.join(f'{js_ratio32[c]:.2f}x' + f' on {c} core(s)' for c in cores_list)} the bare "
        f"log floor in wall time ({', '.join(f'{js_cpu32[c]:.2f}x' for c in cores_list)} in CPU seconds; bar <= "
        f"{JS_BAR:.0f}x: {'met' if all(r <= JS_BAR for r in js_ratio32.values()) else 'NOT met'}), "
        f"{', '.join(f'{js_prim32[c]:.2f}x' for c in cores_list)} the add + log + multiply-sum floor.",
        f"- against the dict-built BQM (scaled from {args.dict_problems} of {b} problems): {dict_ratio:.0f}x "
        f"(float32, {max(cores_list)} cores, fresh median).",
        f"- energies of problem 0 on 64 random assignments (max difference / max |E|): lower float64 vs numpy "
        f"{diff['lower_float64_vs_numpy']:.1e}, vs dict BQM {diff['lower_float64_vs_dict']:.1e}, "
        f"vs the docs/hamiltonian.md formula {diff['lower_float64_vs_formula']:.1e}; float32 vs numpy "
        f"{diff['lower_float32_vs_numpy']:.1e}, at most {check['float32_error_over_bound']:.2f} of its "
        f"documented bound -> {'agree' if energies_ok else 'DISAGREE'}.",
    ]
    print()
    print(main_table)
    print()
    print(stage_table)
    print()
    print("\n".join(findings))

    payload = {
        "benchmark": "lower",
        "machine": machine,
        "loadavg_at_end": loadavg_end,
        "loaded_machine": loaded,
        "config": {
            "batch": b,
            "heads": hh,
            "tokens": n,
            "dim": d,
            "bits": q,
            "seed": args.seed,
            "processes": args.processes,
            "warm": args.warm,
            "dict_problems": args.dict_problems,
            "cores": cores_list,
            "quick": args.quick,
        },
        "output_bytes": out_bytes,
        "blocks_bytes": blocks_bytes,
        "runs": {f"{m}@{c}": runs[(m, c)] for m, c in runs},
        "summary": summary,
        "stages": {str(c): stages[c] for c in cores_list},
        "dict": dict_run | {"all_s_scaled": t_dict, "ratio_over_lower_float32": dict_ratio},
        "check": check,
        "bars": {
            "speed": SPEED_BAR,
            "speed_met": speed_met,
            "memory": MEMORY_BAR,
            "memory_met": memory_met,
            "js_stage": JS_BAR,
            "js_stage_over_log2_floor_float32": js_ratio32,
            "js_stage_over_log2_floor_float32_cpu": js_cpu32,
            "js_stage_over_primitives_floor_float32": js_prim32,
        },
        "energies_agree": energies_ok,
    }
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    if not args.quick and not args.no_docs:
        mi = machine
        load_note = f"load average {mi['loadavg_at_start'][0]:.1f} at start and {loadavg_end[0]:.1f} at the end" + (
            " (**loaded machine**: other jobs were running; ratios are more robust than times)" if loaded else ""
        )
        lines = [
            f"Generated by `{mi['command']}` on {mi['utc']}; {mi['cpu'].get('Model name', '?')}, "
            f"{mi['cpu'].get('CPU(s)', '?')} CPUs, {load_note}; Python {mi['versions']['python']}, "
            f"numpy {mi['versions']['numpy']}, dimod {mi['versions'].get('dimod', '?')}.",
            "",
            f"B={b}, H={hh}, N={n}, d={d}, bits={q}, seed {args.seed}; output {out_bytes / 1e6:.0f} MB "
            f"(IR blocks {blocks_bytes / 1e6:.0f} MB).",
            "",
            main_table,
            "",
            stage_table,
            "",
            *findings,
        ]
        update_docs(ROOT / "docs" / "benchmarks.md", "bench_lower", "\n".join(lines))
        print("updated docs/benchmarks.md")
    if not energies_ok:
        raise SystemExit("energies disagree between the representations")
    return payload


if __name__ == "__main__":
    main()

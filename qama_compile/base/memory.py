"""One memory model for every stage, measured, and the refusal that uses it.

Every entry point that allocates in proportion to its input asks this module first: the
estimate for its stage is compared with :func:`memory_limit` (half the physical memory, or
``QAMA_MEMORY_LIMIT``) and a :class:`~qama_compile.errors.ProblemTooLargeError` carrying the
estimate, the limit and the fix is raised *before* anything is allocated.

The coefficients are measured, not assumed: ``benchmarks/bench_memory.py`` runs every stage
in a fresh process across sizes, records the growth of its peak RSS (``VmHWM``) and compares
it with these estimates (docs/memory.md has its output). Stages:

* :func:`lowering_bytes` - ``lower_attention`` (the inputs' float64 copies, J, h, softmax,
  the dense blocks and their temporaries);
* :func:`problem_bytes` - what a lowered problem keeps resident;
* :func:`writer_bytes` - each file format's writer, per problem written;
* :func:`sampling_bytes` - each backend per read (samples, the backend's own state, the
  energy recomputation), plus its per-problem state;
* :func:`compile_bytes` - compiling for a hardware target;
* :func:`inputs_bytes` - ``--random`` tensors.

This module sits in ``base`` and takes plain integers, so every layer can use it.

>>> need = lowering_bytes(batch=1, heads=2, tokens=8, dim=16, bits=4)
>>> 0 < need < 64 << 20
True
>>> check_memory(10**15, what="a test stage", fix="use less", limit=1 << 30)
Traceback (most recent call last):
...
qama_compile.errors.ProblemTooLargeError: a test stage needs about 909 TiB, over the limit of 1 GiB; fix: use less
"""

from __future__ import annotations

import math
import os

from ..errors import InvalidInputError, ProblemTooLargeError

__all__ = [
    "DASK_WORKER_BYTES",
    "DEFAULT_READS",
    "LOAD_EXPANSION",
    "LOAD_FLOOR",
    "check_memory",
    "compile_bytes",
    "describe_bytes",
    "inputs_bytes",
    "lowering_bytes",
    "memory_limit",
    "physical_memory",
    "problem_bytes",
    "qama_counts",
    "sampling_bytes",
    "summary_bytes",
    "writer_bytes",
]

#: A file reader may allocate at most this many times the file's size (plus LOAD_FLOOR).
#: Measured worst case over the fuzz corpus and large legitimate files: see docs/memory.md.
LOAD_EXPANSION = 64
#: Fixed allowance of every reader (interpreter objects, small arrays), bytes.
LOAD_FLOOR = 4 << 20

_ENV = "QAMA_MEMORY_LIMIT"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def physical_memory() -> int:
    """Bytes of physical memory (``os.sysconf``; 8 GiB where unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def memory_limit() -> int:
    """The budget every check compares with: ``QAMA_MEMORY_LIMIT`` (e.g. ``4G``) or half the physical memory.

    >>> os.environ["QAMA_MEMORY_LIMIT"] = "2G"
    >>> memory_limit()
    2147483648
    >>> del os.environ["QAMA_MEMORY_LIMIT"]
    """
    text = os.environ.get(_ENV, "").strip().lower().removesuffix("b").removesuffix("i")
    if not text:
        return physical_memory() // 2
    number, unit = (text[:-1], text[-1]) if text[-1] in _UNITS else (text, "")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 1:
        raise InvalidInputError(
            f"{_ENV}={os.environ[_ENV]!r} is not a size in bytes", fix=f"set e.g. {_ENV}=8G, or unset it"
        )
    return int(value)


def describe_bytes(n: int) -> str:
    """``n`` bytes for people: ``'1.5 GiB'``, ``'12 MiB'``, ``'800 B'``.

    >>> describe_bytes(3 << 29), describe_bytes(12 << 20), describe_bytes(800)
    ('1.5 GiB', '12 MiB', '800 B')
    """
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(need: int, *, what: str, fix: str, limit: int | None = None) -> None:
    """Raise :class:`ProblemTooLargeError` when ``need`` bytes exceed ``limit`` (default :func:`memory_limit`)."""
    cap = memory_limit() if limit is None else int(limit)
    if need > cap:
        source = "" if limit is not None or _ENV in os.environ else " (half the physical memory)"
        if _ENV in os.environ and limit is None:
            source = f" ({_ENV})"
        raise ProblemTooLargeError(
            f"{what} needs about {describe_bytes(need)}, over the limit of {describe_bytes(cap)}{source}",
            fix=fix,
            size=int(need),
            limit=cap,
            unit="bytes",
        )


# --------------------------------------------------------------------------- sizes
def qama_counts(*, heads: int, tokens: int, bits: int) -> dict[str, int]:
    """Per-problem counts of a lowered QAMA problem: variables, block size, dense and penalty couplers.

    >>> qama_counts(heads=2, tokens=3, bits=2)
    {'variables': 12, 'block': 6, 'block_couplers': 30, 'penalty_couplers': 6}
    """
    h, n_tok, q = int(heads), int(tokens), int(bits)
    n = n_tok * q
    return {
        "variables": h * n,
        "block": n,
        "block_couplers": h * n * (n - 1) // 2,
        "penalty_couplers": h * (h - 1) // 2 * n,
    }


def inputs_bytes(*, batch: int, heads: int, tokens: int, dim: int) -> int:
    """q, k and v as float64 (``--random`` draws them in one array)."""
    return 3 * 8 * int(batch) * int(heads) * int(tokens) * int(dim)


def problem_bytes(*, batch: int, heads: int, tokens: int, bits: int) -> int:
    """Resident size of a lowered :class:`~qama_compile.core.problem.AttentionProblem`.

    Dense blocks ``B*H*n^2`` floats, linear terms, the shared head-penalty COO, labels, and
    J / attention / h kept for decoding and comparison.
    """
    b, h, n_tok = int(batch), int(heads), int(tokens)
    c = qama_counts(heads=h, tokens=n_tok, bits=bits)
    v, n, e = c["variables"], c["block"], c["penalty_couplers"]
    return 8 * (b * h * n * n + b * v + b * e + 2 * e + 3 * v + 2 * b * h * n_tok * n_tok + b * h * n_tok + b)


def lowering_bytes(*, batch: int, heads: int, tokens: int, dim: int, bits: int) -> int:
    """Peak growth of ``lower_attention`` over its (already allocated) inputs.

    Terms, measured by ``benchmarks/bench_memory.py --stages lower``: the float64 copies of
    q, k, v; the result (:func:`problem_bytes`); one more ``[B, H, N, q, N, q]`` temporary
    while the blocks are assembled; J's symmetrised upper triangle, the softmax scores and
    the JS workspace (two reusable buffers per worker thread).
    """
    b, h, n_tok, d = int(batch), int(heads), int(tokens), int(dim)
    n = n_tok * int(bits)
    pairs = 8 * b * h * n_tok * n_tok
    tensors = 8 * b * h * n_tok * d
    js_work = 2 * 8 * max(1 << 17, n_tok * d) * 8
    blocks = 8 * b * h * n * n
    return 3 * tensors + problem_bytes(batch=b, heads=h, tokens=n_tok, bits=bits) + blocks + 3 * pairs + js_work


#: Writer transient per structural coupler written (bytes), by format. Measured at
#: H=8, N=64, q=4 (268,288 couplers) by ``benchmarks/bench_memory.py --stages write``.
WRITER_BYTES_PER_COUPLER: dict[str, int] = {
    "npz": 24,
    "bqm-json": 300,
    "coo": 120,
    "mtx": 120,
    "lp": 1100,
}
#: Writer transient per variable (labels text, linear terms), bytes.
WRITER_BYTES_PER_VARIABLE: dict[str, int] = {
    "npz": 16,
    "bqm-json": 300,
    "coo": 200,
    "mtx": 200,
    "lp": 1100,
}


def writer_bytes(fmt: str, *, variables: int, couplers: int, batch: int = 1) -> int:
    """Transient bytes of writing one file of format ``fmt`` (``couplers`` per problem written).

    Single-problem formats write the problems of a batch one after the other, so only one
    problem's transient is live; ``npz`` writes the whole batch in one go (``batch``).
    """
    per_coupler = WRITER_BYTES_PER_COUPLER.get(fmt, max(WRITER_BYTES_PER_COUPLER.values()))
    per_variable = WRITER_BYTES_PER_VARIABLE.get(fmt, max(WRITER_BYTES_PER_VARIABLE.values()))
    problems = int(batch) if fmt == "npz" else 1
    return problems * (per_coupler * int(couplers) + per_variable * int(variables))


#: Bytes per variable per read while sampling, by backend: the backend's own state plus the
#: sample set and the energy recomputation of every read. Measured by
#: ``benchmarks/bench_memory.py --stages sample``.
SAMPLING_BYTES_PER_VARIABLE_READ: dict[str, int] = {
    "exact": 40,
    "sa": 56,
    "tabu": 56,
    "steepest": 56,
    "cim": 80,
    "qaoa": 56,
    "dwave": 56,
}
#: Per-coupler bytes of a backend's per-problem state (a dimod BQM, a dense J for cim).
SAMPLING_BYTES_PER_COUPLER: dict[str, int] = {
    "exact": 64,
    "sa": 64,
    "tabu": 64,
    "steepest": 64,
    "cim": 64,
    "qaoa": 64,
    "dwave": 64,
}


#: Reads a backend takes when none are asked for (``num_reads=None``).
DEFAULT_READS: dict[str, int] = {"cim": 100, "qaoa": 1024}


def sampling_bytes(backend: str, *, variables: int, couplers: int, reads: int | None, batch: int = 1) -> int:
    """Transient bytes of sampling ``reads`` reads of one problem at a time on ``backend``.

    Unknown backends get the largest known per-read cost. ``batch`` matters for backends
    that sample the whole batch at once (``cim``).
    """
    reads = DEFAULT_READS.get(backend, 1) if reads is None else reads
    per_read = SAMPLING_BYTES_PER_VARIABLE_READ.get(backend, max(SAMPLING_BYTES_PER_VARIABLE_READ.values()))
    per_coupler = SAMPLING_BYTES_PER_COUPLER.get(backend, max(SAMPLING_BYTES_PER_COUPLER.values()))
    problems = int(batch) if backend == "cim" else 1
    v = int(variables)
    state = 8 * v * v if backend == "cim" else per_coupler * int(couplers)
    return problems * (per_read * v * max(int(reads), 1) + state)


#: Resident bytes of one Dask worker process with qama-compile and a backend imported (measured:
#: ``benchmarks/bench_memory.py --stages dask``).
DASK_WORKER_BYTES = 400 << 20

#: ``problem_summary`` (``qama inspect``) works on an Ising copy of the IR: bytes per resident problem byte.
SUMMARY_PER_PROBLEM_BYTE = 2


def summary_bytes(*, batch: int, heads: int, tokens: int, bits: int) -> int:
    """Transient bytes of ``problem_summary`` (the Ising copy and its coefficient ranges)."""
    return SUMMARY_PER_PROBLEM_BYTE * problem_bytes(batch=batch, heads=heads, tokens=tokens, bits=bits)


def compile_bytes(*, variables: int, couplers: int, qubits: int, batch: int = 1) -> int:
    """Transient bytes of compiling ``batch`` problems for a target of ``qubits`` qubits.

    The embedded (physical) problem is at most one coupler per logical coupler plus the
    chains; the target graph costs about 200 bytes per qubit (networkx).
    """
    return int(batch) * 96 * (int(couplers) + 4 * int(variables)) + 200 * int(qubits) + 64 * int(couplers)

"""One memory model for every stage, measured, and the refusal that uses it.

Every entry point that allocates in proportion to its input asks this module first: the
estimate for its stage is compared with :func:`memory_limit` (half the physical memory, or
``QAMA_MEMORY_LIMIT``) and a :class:`~qama_compile.errors.ProblemTooLargeError` carrying the
estimate, the limit and the fix is raised *before* anything is allocated.

The coefficients are measured, not assumed: ``benchmarks/bench_memory.py`` runs every stage
in a fresh process across sizes, records the growth of its peak RSS (``VmHWM``) and compares
it with these estimates (docs/memory.md has its output). Stages:

* lowering: ``qama_compile.core.lowering.estimate_lowering_bytes`` (it depends on the
  lowering's own kernels, so it lives there and uses :func:`check_memory`);
* :func:`problem_bytes` - what a lowered problem keeps resident;
* :func:`writer_bytes` - each file format's writer, per problem written;
* :func:`sampling_bytes` - each backend per read (samples, the backend's own state, the
  energy recomputation), plus its per-problem state;
* :func:`compile_bytes` - compiling for a hardware target;
* :func:`inputs_bytes` - ``--random`` tensors.

This module sits in ``base`` and takes plain integers, so every layer can use it.

>>> 0 < problem_bytes(batch=1, heads=2, tokens=8, bits=4) < 1 << 20
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
    "memory_limit",
    "physical_memory",
    "problem_bytes",
    "qama_counts",
    "sampling_bytes",
    "summary_bytes",
    "target_graph_edges",
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


def _threads() -> int:
    """Worker threads of the lowering's JS kernel (``min(cores, 8)``)."""
    return max(1, min(os.cpu_count() or 1, 8))


#: Streaming writers (``coo``, ``bqm-json``) format a bounded chunk of entries at a time:
#: bytes per entry of the chunk (at least ``WRITER_CHUNK_ENTRIES`` entries, or one block row),
#: plus a little per coupler (heap growth over many chunks).
WRITER_CHUNK_ENTRIES = 1 << 14
WRITER_BYTES_PER_CHUNK_ENTRY: dict[str, int] = {"coo": 750, "bqm-json": 100, "kaiwu": 450}
WRITER_STREAM_BYTES_PER_COUPLER: dict[str, int] = {"coo": 2, "bqm-json": 4, "kaiwu": 100}
#: Writers that build the whole problem in memory: bytes per structural coupler (measured at
#: H=4..16, N=64..128, q=4 by ``benchmarks/bench_memory.py --stages write``).
WRITER_BYTES_PER_COUPLER: dict[str, int] = {"npz": 17, "mtx": 112, "lp": 540}
#: Bytes per variable (labels, linear terms) of every writer, and the fixed bytes of a write.
WRITER_BYTES_PER_VARIABLE = 48
WRITER_FIXED = 2 << 20


def writer_bytes(fmt: str, *, variables: int, couplers: int, batch: int = 1, block: int = 0) -> int:
    """Transient bytes of writing one file of format ``fmt`` (``couplers`` per problem written).

    ``npz`` writes the ``batch`` problems in one go; the single-problem formats write the
    problems of a batch one after the other, so one problem's transient is live. ``block``
    is the dense block size ``N q`` (a streaming writer's chunk holds at least one block row).
    """
    v, c = int(variables), int(couplers)
    if fmt in WRITER_BYTES_PER_CHUNK_ENTRY:
        chunk = WRITER_BYTES_PER_CHUNK_ENTRY[fmt] * max(WRITER_CHUNK_ENTRIES, int(block))
        return WRITER_FIXED + chunk + WRITER_STREAM_BYTES_PER_COUPLER[fmt] * c + WRITER_BYTES_PER_VARIABLE * v
    per_coupler = WRITER_BYTES_PER_COUPLER.get(fmt, max(WRITER_BYTES_PER_COUPLER.values()))
    problems = int(batch) if fmt == "npz" else 1
    return WRITER_FIXED + problems * (per_coupler * c + WRITER_BYTES_PER_VARIABLE * v)


#: Reads a backend takes when none are asked for (``num_reads=None``).
DEFAULT_READS: dict[str, int] = {"cim": 100, "qaoa": 1024}
#: Bytes per variable per read while sampling one problem, by backend: the backend's own
#: state plus the sample set and the energy recomputation of every read (measured by
#: ``benchmarks/bench_memory.py --stages sample``; unknown backends get the largest).
SAMPLING_BYTES_PER_VARIABLE_READ: dict[str, int] = {
    "exact": 28,
    "sa": 28,
    "tabu": 32,
    "steepest": 28,
    "cim": 28,
    "qaoa": 80,
    "dwave": 28,
}
#: Bytes per sparse coupler per read: the energy check gathers ``x_i`` and ``x_j`` of every read.
SAMPLING_BYTES_PER_SPARSE_READ = 24
#: Bytes per coupler of the per-problem state of a dimod-route backend (the BQM and its COO).
SAMPLING_BYTES_PER_COUPLER = 100
#: Bytes per read kept for every problem of the batch (samples, energies, counts).
SAMPLING_BYTES_KEPT_PER_READ = 24


#: QAOA's own qubit limit (``qama_backends.qaoa.DEFAULT_MAX_QUBITS``): it refuses larger problems itself.
QAOA_MAX_QUBITS = 24


def _backend_state(backend: str, v: int, couplers: int) -> int:
    """Per-problem state of a backend that does not grow with the reads."""
    if backend == "cim":  # dense J in float32 and one float64 copy
        return 12 * v * v + SAMPLING_BYTES_PER_COUPLER * couplers
    if backend == "exact":  # enumeration tables: all 2^V states up to 16 variables, else 2^16 x chunk
        if v <= 16:
            return 16 * (1 << v) * max(v, 1)
        chunk = min(1 << (v - 16), 64)
        return int(3.5 * 8 * (1 << 16) * chunk) + 8 * (1 << 16) * 16
    if backend == "qaoa":  # the statevector and two working copies; above 24 qubits QAOA refuses by itself
        return 3 * 16 * (1 << v) if v <= QAOA_MAX_QUBITS else 0
    return SAMPLING_BYTES_PER_COUPLER * couplers


def sampling_bytes(
    backend: str, *, variables: int, couplers: int, reads: int | None, batch: int = 1, sparse: int = 0
) -> int:
    """Transient bytes of sampling a batch on ``backend``, one problem at a time.

    ``reads`` per problem (``None``: the backend's default), ``sparse`` the IR's sparse
    couplers (the head penalty of a QAMA problem), whose energy check costs per read.
    """
    r = DEFAULT_READS.get(backend, 1) if reads is None else max(int(reads), 1)
    v = int(variables)
    per_read = SAMPLING_BYTES_PER_VARIABLE_READ.get(backend, max(SAMPLING_BYTES_PER_VARIABLE_READ.values()))
    one = r * (per_read * v + SAMPLING_BYTES_PER_SPARSE_READ * int(sparse)) + _backend_state(backend, v, int(couplers))
    return one + max(int(batch) - 1, 0) * r * (v + SAMPLING_BYTES_KEPT_PER_READ)


#: Resident bytes of one ``--workers`` process: ~120 MiB with qama-compile and dwave-samplers
#: imported, ~200 MiB more once the cim backend imports torch (``benchmarks/bench_memory.py --stages dask``).
DASK_WORKER_BYTES = 320 << 20

#: ``problem_summary`` (``qama inspect``) works on an Ising copy of the IR: bytes per resident problem byte.
SUMMARY_PER_PROBLEM_BYTE = 3


def summary_bytes(*, batch: int, heads: int, tokens: int, bits: int) -> int:
    """Transient bytes of ``problem_summary`` (the Ising copy and its coefficient ranges)."""
    return SUMMARY_PER_PROBLEM_BYTE * problem_bytes(batch=batch, heads=heads, tokens=tokens, bits=bits)


#: Compiling: bytes per logical coupler (Ising copy, scaling, quantisation, the physical IR),
#: and per edge of a target's qubit graph (networkx), measured.
COMPILE_BYTES_PER_COUPLER = 96
COMPILE_BYTES_PER_GRAPH_EDGE = 240


def compile_bytes(*, variables: int, couplers: int, graph_edges: int = 0, batch: int = 1) -> int:
    """Transient bytes of compiling ``batch`` problems for a target whose qubit graph has ``graph_edges``
    edges (0 for all-to-all CIM and simulator targets)."""
    per_problem = COMPILE_BYTES_PER_COUPLER * (int(couplers) + 4 * int(variables))
    return int(batch) * per_problem + COMPILE_BYTES_PER_GRAPH_EDGE * int(graph_edges)


def target_graph_edges(kind: str, qubits: int) -> int:
    """Edges of a target's qubit graph as far as memory is concerned: annealers and gate devices
    have sparse graphs (Pegasus ~7.2 edges per qubit, Zephyr ~9.6); CIMs and simulators none."""
    return 10 * int(qubits) if kind in ("annealer", "gate") else 0

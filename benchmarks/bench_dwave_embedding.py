"""Embedding time of the ``dwave`` backend per problem (issue 14): cached clique embeddings vs a
fresh minorminer search per problem.

A Pegasus P16 ``MockDWaveSampler`` with 20 broken qubits (seeded) stands in for an
Advantage QPU; its substitute sampler is steepest descent with one read, so the run time
is the backend's own work. ``--problems`` QAMA problems of 64 variables each (2 heads x 8
tokens x 4 bits, dense per head) go one by one through ``DWaveBackend.sample``, which
embeds them with a busclique clique embedding of the solver's working graph (cached in
memory per graph, and on disk by minorminer). Measured per problem:

* ``embedding_time_s`` (what ``info`` reports: finding the embedding and building the
  ``FixedEmbeddingComposite``);
* the backend's overhead = its wall time minus the child sampler's own time (embedding,
  ``embed_bqm``, unembedding, bookkeeping).

In the same run the peer is what the backend did before: dwave-system's
``EmbeddingComposite`` (``minorminer.find_embedding`` from scratch for every problem) on
the same solver, for ``--peer-problems`` problems (it takes seconds each).

Run: ``/work/main/.venv/bin/python benchmarks/bench_dwave_embedding.py`` (``--quick`` for a
smoke run). Nothing here asserts on a timing.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, fmt_time, machine_info, table, write_json


def _timed_child(child: Any) -> list[float]:
    """Wrap ``child.sample`` to record its own wall time per call."""
    times: list[float] = []
    inner = child.sample

    def sample(bqm: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = inner(bqm, **kwargs)
        out.resolve()
        times.append(time.perf_counter() - t0)
        return out

    child.sample = sample
    return times


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(arr)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "p90": float(np.percentile(arr, 90)),
        "n": int(arr.size),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=20, help="64-variable problems for the dwave backend")
    parser.add_argument("--peer-problems", type=int, default=3, help="problems for EmbeddingComposite (slow)")
    parser.add_argument("--broken", type=int, default=20, help="broken qubits of the P16 mock")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 problems, 1 peer problem")
    parser.add_argument("--out", default=str(RESULTS_DIR / "dwave_embedding.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.problems, args.peer_problems = 5, 1

    from dwave.system import EmbeddingComposite
    from dwave.system.testing import MockDWaveSampler
    from qama_backends.dwave_qpu import DWaveBackend

    from qama_compile import lower_attention
    from qama_compile.core.convert import ir_to_bqm

    rng = np.random.default_rng(args.seed)
    full = MockDWaveSampler(topology_type="pegasus", topology_shape=[16])
    broken = sorted(rng.choice(full.nodelist, args.broken, replace=False).tolist())
    problems = lower_attention(*rng.normal(size=(3, max(args.problems, args.peer_problems), 2, 8, 16)), bits=4)
    bqms = [ir_to_bqm(problems.ir, b, vartype="SPIN") for b in range(problems.batch_size)]
    n = bqms[0].num_variables
    print(
        f"{problems.batch_size} QAMA problems of {n} variables, {bqms[0].num_interactions} couplers each; "
        f"Pegasus P16 mock with {len(broken)} broken qubits"
    )

    mock = MockDWaveSampler(topology_type="pegasus", topology_shape=[16], broken_nodes=broken)
    child_times = _timed_child(mock)
    t0 = time.perf_counter()
    backend = DWaveBackend(sampler=mock)
    backend.working_graph()  # the working graph and its fingerprint, read once per backend
    target_s = time.perf_counter() - t0
    ours: list[dict[str, float]] = []
    for b in range(args.problems):
        t0 = time.perf_counter()
        ss = backend.sample(bqms[b], num_reads=1)
        wall = time.perf_counter() - t0
        ours.append(
            {
                "embedding_time_s": float(ss.info["embedding_time_s"]),
                "overhead_s": wall - child_times[-1],
                "child_s": child_times[-1],
                "qubits": int(ss.info["embedding_qubits"]),
                "method": ss.info["embedding_method"],
            }
        )
    first, rest = ours[0], ours[1:]

    peer_mock = MockDWaveSampler(topology_type="pegasus", topology_shape=[16], broken_nodes=broken)
    peer_child = _timed_child(peer_mock)
    composite = EmbeddingComposite(peer_mock)
    peers: list[dict[str, float]] = []
    for b in range(args.peer_problems):
        t0 = time.perf_counter()
        ss = composite.sample(bqms[b], num_reads=1, return_embedding=True, embedding_parameters={"random_seed": b})
        ss.resolve()
        wall = time.perf_counter() - t0
        emb = ss.info["embedding_context"]["embedding"]
        peers.append({"overhead_s": wall - peer_child[-1], "qubits": int(sum(len(c) for c in emb.values()))})

    rest_emb = _stats([r["embedding_time_s"] for r in rest]) if rest else None
    rest_over = _stats([r["overhead_s"] for r in rest]) if rest else None
    peer_over = _stats([p["overhead_s"] for p in peers]) if peers else None
    rows = [
        ["working graph (once per backend)", fmt_time(target_s), "", ""],
        [
            "dwave backend, first problem",
            fmt_time(first["embedding_time_s"]),
            fmt_time(first["overhead_s"]),
            first["qubits"],
        ],
    ]
    if rest_emb and rest_over:
        rows.append(
            [
                f"dwave backend, problems 2..{args.problems} (median [min, max])",
                f"{fmt_time(rest_emb['median'])} [{fmt_time(rest_emb['min'])}, {fmt_time(rest_emb['max'])}]",
                f"{fmt_time(rest_over['median'])} [{fmt_time(rest_over['min'])}, {fmt_time(rest_over['max'])}]",
                rest[0]["qubits"],
            ]
        )
    if peer_over:
        rows.append(
            [
                f"EmbeddingComposite, {len(peers)} problem(s) (median [min, max])",
                "-",
                f"{fmt_time(peer_over['median'])} [{fmt_time(peer_over['min'])}, {fmt_time(peer_over['max'])}]",
                f"{int(np.median([p['qubits'] for p in peers]))}",
            ]
        )
    print(table(["what", "embedding_time_s", "backend overhead (wall - child)", "qubits"], rows))
    if rest_over and peer_over:
        print(
            f"median overhead ratio, EmbeddingComposite / dwave backend after the first: "
            f"{peer_over['median'] / rest_over['median']:.0f}x"
        )
    payload = {
        "machine": machine_info(),
        "problems": {"count": args.problems, "variables": n, "couplers": bqms[0].num_interactions},
        "broken_qubits": broken,
        "working_graph_s": target_s,
        "dwave_backend": ours,
        "dwave_backend_after_first": {"embedding_time_s": rest_emb, "overhead_s": rest_over},
        "embedding_composite": peers,
        "embedding_composite_overhead_s": peer_over,
    }
    write_json(Path(args.out), payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

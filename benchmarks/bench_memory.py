"""Memory benchmark (issue 13): the memory model of ``qama_compile.base.memory`` against peak RSS.

Every measurement runs in a fresh process: the inputs of the stage are prepared, the stage is
run once on a tiny problem (so imports, caches and thread pools exist before measuring), the
kernel's peak-RSS counter is reset (``/proc/self/clear_refs``), the stage runs, and the growth
of the peak (``VmHWM`` minus ``VmRSS`` before) is compared with the estimate the toolkit uses to
refuse work before allocating it. Stages:

* ``lower`` - ``lower_attention`` (:func:`~qama_compile.core.lowering.estimate_lowering_bytes`);
* ``write`` - ``formats.save`` per format (:func:`~qama_compile.base.memory.writer_bytes`);
* ``sample`` - ``solve`` per backend (:func:`~qama_compile.base.memory.sampling_bytes`);
* ``compile`` - ``compiler.compile`` for a target (:func:`~qama_compile.base.memory.compile_bytes`);
* ``cli`` - whole ``qama compile / solve / inspect`` commands (the CLI's own refusal estimate,
  ``cli.common.command_bytes`` with the command's stage);
* ``load`` - ``formats.load`` of large valid files (peak against the file size: the loaders'
  ``LOAD_EXPANSION``);
* ``dask`` - the resident size of a ``--workers`` process (``DASK_WORKER_BYTES``).

The ratio is measured / estimate; the issue's bar is that compile, solve and write stay within
1.5x of the estimate (rows whose estimate is at least ``--min-mb``; below that, interpreter noise
dominates). Nothing is asserted: the table, ``benchmarks/results/memory.json`` and the generated
section of ``docs/memory.md`` say what was measured.

Run: ``python benchmarks/bench_memory.py`` (about 10 minutes; ``--quick`` for a smoke run,
``--stages cli,write`` to choose).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS_DIR, ROOT, machine_info, table, update_docs, write_json

MB = 1 << 20


# =========================================================================== the child: one measurement
def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _trim() -> None:
    """Return freed heap memory to the OS, so the warm-up's leftovers do not hide the stage's growth."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _problem(shape: list[int]) -> Any:
    import numpy as np

    from qama_compile import lower_attention

    b, h, n, d, q = shape
    return lower_attention(*np.random.default_rng(0).normal(size=(3, b, h, n, d)), bits=q)


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one stage as described by ``spec``; its estimate, base RSS and peak growth."""
    import numpy as np

    from qama_compile.base import memory

    stage = spec["stage"]
    tmp = Path(tempfile.mkdtemp(prefix="qama-mem-"))
    run: Any
    if stage == "lower":
        b, h, n, d, q = spec["shape"]
        tensors = np.random.default_rng(0).normal(size=(3, b, h, n, d))
        from qama_compile import lower_attention
        from qama_compile.core.lowering import estimate_lowering_bytes

        estimate = estimate_lowering_bytes(b, h, n, d, q)

        def run(tiny: bool = False) -> None:
            x = np.random.default_rng(1).normal(size=(3, 1, 1, 2, 2)) if tiny else tensors
            lower_attention(*x, bits=q)

    elif stage == "write":
        from qama_compile.formats import save
        from qama_compile.formats._base import count_couplings

        problem = _problem(spec["shape"])
        fmt = spec["format"]
        suffix = {"bqm-json": ".json", "npz": ".npz", "coo": ".coo", "mtx": ".mtx", "lp": ".lp"}[fmt]
        ir = problem.ir
        couplers = ir.num_couplers if fmt == "npz" else max(count_couplings(ir, i) for i in range(ir.batch_size))
        estimate = memory.writer_bytes(
            fmt, variables=ir.num_variables, couplers=couplers, batch=ir.batch_size, block=ir.block_size
        )
        tiny_problem = _problem([1, 1, 2, 2, 1])

        def run(tiny: bool = False) -> None:
            save(tiny_problem if tiny else problem, tmp / f"{'tiny' if tiny else 'out'}{suffix}")

    elif stage == "sample":
        from qama_compile import solve

        problem = _problem(spec["shape"])
        backend, reads = spec["backend"], spec["reads"]
        ir = problem.ir
        estimate = memory.sampling_bytes(
            backend,
            variables=ir.num_variables,
            couplers=ir.num_couplers,
            reads=reads,
            batch=ir.batch_size,
            sparse=ir.num_sparse_couplers,
        )
        tiny_problem = _problem(spec.get("warmup", [1, 2, 8, 4, 4]))  # V=64: the same code paths (torch for cim)
        options = spec.get("options", {})

        def run(tiny: bool = False) -> None:
            solve(
                tiny_problem if tiny else problem,
                backend=backend,
                num_reads=2 if tiny else reads,
                seed=0,
                backend_options=options,
            )

    elif stage == "compile":
        from qama_compile.compiler import compile as compile_problem
        from qama_compile.targets.target import get_target

        problem = _problem(spec["shape"])
        target = spec["target"]
        ir = problem.ir
        t = get_target(target)
        estimate = memory.compile_bytes(
            variables=ir.num_variables,
            couplers=ir.num_couplers,
            graph_edges=memory.target_graph_edges(str(t.kind), int(t.num_qubits or 0)),
            batch=ir.batch_size,
        )
        tiny_problem = _problem([1, 1, 2, 2, 1])

        def run(tiny: bool = False) -> None:
            compile_problem(tiny_problem if tiny else problem, target=target, seed=0)

    elif stage == "cli":
        import contextlib
        import importlib
        import io

        from qama_compile.cli.common import command_bytes
        from qama_compile.cli.main import build_parser, main

        argv = [a.replace("{tmp}", str(tmp)) for a in spec["argv"]]
        args = build_parser().parse_args(argv)
        module = importlib.import_module(f"qama_compile.cli.cmd_{argv[0]}")
        b, h, n, d = (int(x) for x in args.random.split(","))
        bits = 4 if args.bits is None else args.bits
        estimate = command_bytes(
            (b, h, n, d),
            bits,
            inputs=memory.inputs_bytes(batch=b, heads=h, tokens=n, dim=d),
            stage=module.stage_bytes(args),
        )
        tiny_argv = list(argv)
        tiny_argv[tiny_argv.index("--random") + 1] = "1,2,8,4"  # 64 variables: the same code paths (torch for cim)
        tiny_argv = [a.replace("out.", "tiny.") for a in tiny_argv]

        def run(tiny: bool = False) -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(tiny_argv if tiny else argv)
            if code != 0:
                raise RuntimeError(f"qama {' '.join(argv)} exited {code}")

    elif stage == "load":
        from qama_compile.formats import load, save

        fmt = spec["format"]
        suffix = {"bqm-json": ".json", "npz": ".npz", "coo": ".coo", "mtx": ".mtx", "lp": ".lp"}[fmt]
        path = tmp / f"big{suffix}"
        save(_problem(spec["shape"]), path)
        tiny_path = tmp / f"tiny{suffix}"
        save(_problem([1, 1, 2, 2, 1]), tiny_path)
        estimate = memory.LOAD_FLOOR + memory.LOAD_EXPANSION * path.stat().st_size
        spec["file_mb"] = round(path.stat().st_size / MB, 2)

        def run(tiny: bool = False) -> None:
            load(tiny_path if tiny else path)

    elif stage == "dask":  # resident size of one worker process after solving on it
        from qama_compile.runtime.many import make_client, solve_many

        problem = _problem(spec["shape"])
        with make_client(workers=2) as client:
            solve_many(problem, backend=spec["backend"], num_reads=8, seed=0, client=client, progress=False)
            peaks = client.run(_status, "VmHWM")
        worker = max(peaks.values())
        return {
            **spec,
            "estimate_mb": memory.DASK_WORKER_BYTES / MB,
            "base_mb": 0.0,
            "measured_mb": worker / MB,
            "s": 0,
        }
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    run(tiny=True)
    gc.collect()
    _trim()
    base = _status("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM")
    return {**spec, "estimate_mb": estimate / MB, "base_mb": base / MB, "measured_mb": (peak - base) / MB, "s": seconds}


# =========================================================================== the parent
def _specs(quick: bool) -> dict[str, list[dict[str, Any]]]:
    shrink = 2 if quick else 1

    def n(x: int) -> int:
        return max(4, x // shrink)

    lower = [
        [1, 4, n(128), 32, 4],
        [1, 8, n(128), 64, 4],
        [2, 8, n(128), 32, 4],
        [1, 16, n(128), 32, 4],
        [1, 4, n(256), 32, 4],
        [1, 2, 64, n(200_000), 1],
    ]
    write = [
        {"format": f, "shape": s}
        for f in ("npz", "coo", "mtx", "bqm-json")
        for s in ([1, 4, n(128), 32, 4], [1, 8, n(128), 32, 4], [1, 16, n(128), 32, 4])
    ]
    write += [{"format": "lp", "shape": s} for s in ([1, 4, n(64), 32, 4], [1, 8, n(64), 32, 4])]
    sample = [
        {"backend": "sa", "shape": [1, 4, 16, 16, 4], "reads": 4000 // shrink, "options": {"num_sweeps": 10}},
        {"backend": "sa", "shape": [1, 8, 32, 16, 4], "reads": 2000 // shrink, "options": {"num_sweeps": 10}},
        {"backend": "steepest", "shape": [1, 4, 16, 16, 4], "reads": 8000 // shrink},
        {"backend": "steepest", "shape": [1, 8, 32, 16, 4], "reads": 4000 // shrink},
        {"backend": "tabu", "shape": [1, 4, 16, 16, 4], "reads": 2000 // shrink, "options": {"timeout": 1}},
        {"backend": "cim", "shape": [1, 4, 16, 16, 4], "reads": 4000 // shrink, "options": {}},
        {"backend": "cim", "shape": [1, 8, 32, 16, 4], "reads": 2000 // shrink, "options": {}},
        {"backend": "exact", "shape": [1, 2, 5, 8, 2], "reads": 20000 // shrink, "warmup": [1, 2, 5, 8, 2]},
        {"backend": "exact", "shape": [1, 2, 6, 8, 2], "reads": 40000 // shrink, "warmup": [1, 2, 5, 8, 2]},
        {
            "backend": "qaoa",
            "shape": [1, 2, 5, 8, 2],
            "reads": 8192 // shrink,
            "warmup": [1, 1, 2, 2, 1],
            "options": {"reps": 1, "maxiter": 2},
        },
    ]
    compile_ = [
        {"target": "cim-100k", "shape": [1, 8, n(64), 32, 4]},
        {"target": "cim-100k", "shape": [1, 16, n(64), 32, 4]},
    ]
    cli = [
        {"argv": ["compile", "--random", f"1,8,{n(128)},32", "--bits", "4", "-o", "{tmp}/out.coo"]},
        {"argv": ["compile", "--random", f"1,16,{n(128)},32", "--bits", "4", "-o", "{tmp}/out.coo"]},
        {"argv": ["compile", "--random", f"1,16,{n(128)},32", "--bits", "4", "-o", "{tmp}/out.npz"]},
        {"argv": ["compile", "--random", f"2,8,{n(128)},32", "--bits", "4", "-o", "{tmp}/out.json"]},
        {"argv": ["compile", "--random", f"1,8,{n(128)},32", "--bits", "4", "-o", "{tmp}/out.mtx"]},
        {"argv": ["solve", "--random", "1,8,32,16", "--bits", "4", "--backend", "sa", "--reads", str(2000 // shrink)]},
        {"argv": ["solve", "--random", "1,8,32,16", "--bits", "4", "--backend", "cim", "--reads", str(2000 // shrink)]},
        {
            "argv": [
                "solve",
                "--random",
                "1,4,16,16",
                "--bits",
                "4",
                "--backend",
                "steepest",
                "--reads",
                str(20000 // shrink),
                "--sampleset",
                "{tmp}/out.json",
            ]
        },
        {"argv": ["inspect", "--random", f"2,8,{n(128)},32", "--bits", "4"]},
    ]
    load = [{"format": f, "shape": [1, 8, n(64), 32, 4]} for f in ("npz", "coo", "mtx", "bqm-json", "lp")]
    dask = [{"backend": b, "shape": [2, 4, 16, 16, 4]} for b in ("sa", "cim")]
    return {
        "lower": [{"stage": "lower", "shape": s} for s in lower],
        "write": [{"stage": "write", **w} for w in write],
        "sample": [{"stage": "sample", **w} for w in sample],
        "compile": [{"stage": "compile", **w} for w in compile_],
        "cli": [{"stage": "cli", **w} for w in cli],
        "load": [{"stage": "load", **w} for w in load],
        "dask": [{"stage": "dask", **w} for w in dask],
    }


def _measure(spec: dict[str, Any], repeats: int) -> dict[str, Any]:
    runs = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
            check=False,
        )
        if proc.returncode != 0:
            return {**spec, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    measured = sorted(r["measured_mb"] for r in runs)
    out = dict(runs[0])
    out["measured_mb"] = measured[len(measured) // 2]  # median
    out["measured_spread_mb"] = [measured[0], measured[-1]]
    out["ratio"] = out["measured_mb"] / out["estimate_mb"] if out["estimate_mb"] else float("nan")
    return out


def _label(r: dict[str, Any]) -> str:
    if r["stage"] == "cli":
        return "qama " + " ".join(a.replace("{tmp}/", "") for a in r["argv"])
    what = r.get("format") or r.get("backend") or r.get("target") or ""
    shape = "B,H,N,d,q=" + ",".join(str(x) for x in r["shape"])
    extra = f" reads={r['reads']}" if "reads" in r else ""
    return f"{r['stage']} {what} {shape}{extra}".replace("  ", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument("--stages", default="lower,write,sample,compile,cli,load,dask")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-mb", type=float, default=64.0, help="rows below this estimate are not judged")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    specs = _specs(args.quick)
    repeats = 1 if args.quick else args.repeats
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    for stage in [s for s in args.stages.split(",") if s]:
        for spec in specs[stage]:
            r = _measure(spec, repeats)
            rows.append(r)
            if "error" in r:
                print(f"{_label(r)}: ERROR {r['error']}", flush=True)
                continue
            print(
                f"{_label(r):72s} estimate {r['estimate_mb']:9.1f} MB  measured {r['measured_mb']:9.1f} MB  "
                f"ratio {r['ratio']:5.2f}  ({r['s']:.1f} s)",
                flush=True,
            )
    judged = [
        r for r in rows if "error" not in r and r["stage"] not in ("load", "dask") and r["estimate_mb"] >= args.min_mb
    ]
    worst_over = max((r["ratio"] for r in judged), default=float("nan"))
    worst_under = min((r["ratio"] for r in judged), default=float("nan"))
    headers = ["stage", "estimate MB", "measured MB (median)", "spread MB", "measured / estimate"]
    lines = [
        [
            _label(r),
            f"{r['estimate_mb']:.1f}" if "error" not in r else "",
            f"{r['measured_mb']:.1f}" if "error" not in r else "error",
            "" if "error" in r else f"{r['measured_spread_mb'][0]:.1f}..{r['measured_spread_mb'][1]:.1f}",
            "" if "error" in r else f"{r['ratio']:.2f}",
        ]
        for r in rows
    ]
    text = table(headers, lines)
    summary = (
        f"Rows with an estimate of at least {args.min_mb:g} MB (loads excluded): measured / estimate between "
        f"{worst_under:.2f} and {worst_over:.2f} over {len(judged)} rows; the bar is at most 1.5."
    )
    print()
    print(text)
    print(summary)
    info = machine_info()
    payload = {"machine": info, "repeats": repeats, "rows": rows, "summary": summary, "wall_s": time.time() - t0}
    name = "memory_quick.json" if args.quick else "memory.json"
    write_json(RESULTS_DIR / name, payload)
    if not args.no_docs and not args.quick:
        load = info["loadavg_at_start"]
        generated = (
            f"Measured with `{info['command']}` on {info['cpu'].get('Model name', 'an unknown CPU')} "
            f"({info['memory_gib']} GiB; load average {load[0]:.1f} at the start), median of {repeats} "
            f"fresh processes per row.\n\n{text}\n\n{summary}\n"
        )
        update_docs(ROOT / "docs" / "memory.md", "memory", generated)


if __name__ == "__main__":
    main()

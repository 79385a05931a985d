"""Shared helpers for the benchmarks: the machine description, JSON output, tables.

Not a test helper: benchmarks measure and print, they never assert on timings.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
FIGURES_DIR = ROOT / "docs" / "figures"


def limit_threads(n: int = 1) -> None:
    """Pin BLAS/OpenMP/torch thread pools to ``n`` threads (every solver gets the same)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scipy's stack
        pass
    torch = sys.modules.get("torch")  # not imported here: torch reads OMP_NUM_THREADS when it loads
    if torch is not None:
        torch.set_num_threads(n)


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    keep = (
        "Architecture",
        "Model name",
        "CPU(s)",
        "Thread(s) per core",
        "Core(s) per socket",
        "L2 cache",
        "L3 cache",
        "Hypervisor vendor",
        "Flags",
    )
    info: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in keep:
            value = value.strip()
            if key == "Flags":  # only the SIMD flags matter for these kernels
                value = " ".join(f for f in value.split() if f in {"avx", "avx2", "fma", "avx512f", "sse4_2"})
            info[key] = value
    return info


def _rel(path: str) -> str:
    """``path`` relative to the repository root when it is inside it (for readable commands)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT)) if Path(path).exists() else path
    except ValueError:
        return path


def _exe() -> str:
    exe = Path(sys.executable)
    try:
        return str(exe.absolute().relative_to(ROOT))
    except ValueError:
        return exe.name


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, memory, Python and library versions."""
    versions: dict[str, str] = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("dimod", "dwave.samplers", "torch", "scipy", "cim_optimizer", "simulated_bifurcation", "openjij"):
        try:
            from importlib.metadata import version as dist_version

            dist = {
                "dwave.samplers": "dwave-samplers",
                "cim_optimizer": "cim-optimizer",
                "simulated_bifurcation": "simulated-bifurcation",
            }.get(module, module)
            versions[module] = dist_version(dist)
        except Exception:
            continue
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    blas: list[dict[str, Any]] = []
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")} for d in threadpool_info()
        ]
    except ImportError:
        pass
    return {
        "cpu": _lscpu(),
        "memory_gib": round(mem, 1),
        "platform": platform.platform(),
        "versions": versions,
        "blas": blas,
        "loadavg_at_start": list(os.getloadavg()),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([_exe(), *(_rel(a) for a in sys.argv)]),
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else str(value)  # "inf" / "nan": strict JSON
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: Path, payload: dict[str, Any], *, indent: int | None = 1) -> None:
    """Write ``payload`` atomically (temp file, fsync, rename) as strict JSON."""
    from qama_compile.base.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(_jsonable(payload), indent=indent, sort_keys=False) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain monospaced table (also valid Markdown)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = "| " + " | ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    lines = [fmt.format(*cells[0]), sep]
    lines += [fmt.format(*r) for r in cells[1:]]
    return "\n".join(lines)


def fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "inf"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def update_docs(doc: Path, section: str, generated: str) -> None:
    """Replace the generated ``section`` of ``doc`` (between markers), keeping the hand-written text."""
    from qama_compile.base.atomic import atomic_write_text

    begin, end = f"<!-- BEGIN {section} (generated) -->", f"<!-- END {section} (generated) -->"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n\n"
    block = f"{begin}\n{generated.rstrip()}\n{end}"
    if begin in text and end in text:
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + block + text[stop:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(doc, text)

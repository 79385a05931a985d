"""The layering of the package, proved on its source: every import (inside functions too) points
down or sideways, never up, and the module graph has no cycles. See docs/architecture.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: layers from the bottom up; a module may import its own layer and the layers below it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("qama_compile.errors", "qama_compile._version", "qama_compile.base")),
    ("core", ("qama_compile.core", "qama_compile.ir", "qama_compile.datasets")),
    ("passes", ("qama_compile.passes",)),
    ("targets", ("qama_compile.targets",)),
    ("compiler", ("qama_compile.compiler",)),
    ("formats", ("qama_compile.formats",)),
    ("runtime", ("qama_compile.runtime",)),
    ("tools", ("qama_compile.tools", "qama_compile.testing")),
    ("nn", ("qama_compile.nn",)),
    ("cli", ("qama_compile.cli",)),
    ("api", ("qama_compile", "qama_compile._compat", "qama_compile.__main__")),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}
#: backends/ (package qama_backends) sits on the core: it may import only these layers
BACKEND_ALLOWED = {"base", "core"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = ["qama_backends", *rel.parts[1:]] if rel.parts[0] == "backends" else list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    files = [*ROOT.joinpath("qama_compile").rglob("*.py"), *ROOT.joinpath("backends").rglob("*.py")]
    return {_module_name(f): f for f in files}


MODULES = _modules()


def layer_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            exact = prefix == "qama_compile"  # the top package itself, not everything under it
            matches = module == prefix or (not exact and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return None if best is None else best[1]


def _imports(module: str, path: Path) -> set[str]:
    """Every project module ``module`` imports, at module level or inside functions."""
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
            # "from . import capacity" imports the submodule; the package is already being imported
            names = submodules if len(submodules) == len(node.names) else [target, *submodules]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # "qama_compile.core.ir.QuadraticIR" -> the module
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = nx.DiGraph()
for _mod, _path in MODULES.items():
    GRAPH.add_node(_mod)
    for _dep in _imports(_mod, _path):
        GRAPH.add_edge(_mod, _dep)


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in MODULES if m.startswith("qama_compile") and layer_of(m) is None)
    assert not unplaced, f"modules outside every layer: {unplaced}"


def test_imports_point_down() -> None:
    upward = []
    for src, dst in GRAPH.edges:
        if src.startswith("qama_backends"):
            continue
        a, b = layer_of(src), layer_of(dst)
        if dst.startswith("qama_backends") or (a and b and RANK[b] > RANK[a]):
            upward.append(f"{src} ({a}) -> {dst} ({b})")
    assert not upward, "imports against the layering:\n" + "\n".join(sorted(upward))


def test_backends_depend_only_on_the_core() -> None:
    bad = [
        f"{src} -> {dst}"
        for src, dst in GRAPH.edges
        if src.startswith("qama_backends") and dst.startswith("qama_compile") and layer_of(dst) not in BACKEND_ALLOWED
    ]
    assert not bad, "backends importing above the core:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(GRAPH))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_the_checker_sees_imports_inside_functions() -> None:
    """Guard the guard: a function-level import is an edge (the CLI imports the compiler that way)."""
    assert "qama_compile.core.lowering" in _imports("qama_compile.cli.common", MODULES["qama_compile.cli.common"])
    assert layer_of("qama_compile") == "api" and layer_of("qama_compile.core.ir") == "core"
    assert layer_of("qama_compile.testing") == "tools" and layer_of("qama_compile.targets.devices") == "targets"


_SAMPLE_CALL = re.compile(r"\.(sample|sample_ir)\(")


def test_only_the_sampling_module_calls_samplers() -> None:
    """One sampling path: solve, decomposition, solve_many and the torch operator all use sample_batch."""
    allowed = {"qama_compile.runtime.sampling", "qama_compile.testing"}  # testing checks the dimod API itself
    callers = sorted(
        m
        for m, p in MODULES.items()
        if m.startswith("qama_compile") and m not in allowed and _SAMPLE_CALL.search(p.read_text())
    )
    assert not callers, f"modules calling a sampler directly: {callers}"


def test_no_reference_outside_the_repository() -> None:
    """The specification lives in docs/hamiltonian.md; nothing cites the design brief outside the repo."""
    tracked = [p for p in ROOT.rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".toml", ".txt", ".cfg"}]
    tracked = [p for p in tracked if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    citing = sorted(str(p.relative_to(ROOT)) for p in tracked if "DESIGN" + ".md" in p.read_text(errors="ignore"))
    assert not citing, f"files citing a file outside the repository: {citing}"


@pytest.mark.parametrize("path", sorted(ROOT.joinpath("tests").rglob("test_*.py")), ids=lambda p: p.name)
def test_tests_do_not_skip_the_projects_own_modules(path: Path) -> None:
    assert not re.search(r"importorskip\(\s*[\"'](qama_compile|qama_backends)", path.read_text())


_DOC_IMPORT = re.compile(r"^\s*from (qama_compile[\w.]*) import \(?([\w, ]+)\)?", re.MULTILINE)


def _doc_imports() -> list[tuple[str, str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for m in _DOC_IMPORT.finditer(doc.read_text(encoding="utf-8")):
            found += [(doc.name, m.group(1), n.strip()) for n in m.group(2).split(",") if n.strip()]
    return found


def test_the_docs_import_from_current_modules() -> None:
    """Every ``from qama_compile... import name`` in the README and docs resolves, and not
    through a deprecated old path (which would warn)."""
    import importlib
    import warnings

    imports = _doc_imports()
    assert len(imports) > 20  # the scan finds the docs' imports
    broken = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for doc, module, name in imports:
            try:
                mod = importlib.import_module(module)
                getattr(mod, name)
            except (ImportError, AttributeError, DeprecationWarning) as exc:
                broken.append(f"{doc}: from {module} import {name} ({type(exc).__name__}: {exc})")
    assert not broken, "\n".join(broken)

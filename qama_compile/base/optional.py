"""Lazy imports of optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError

#: module name -> (pip requirement, project extra that provides it)
_HINTS: dict[str, tuple[str, str | None]] = {
    "torch": ("torch", "torch"),
    "dask": ("dask[distributed]", "dask"),
    "distributed": ("dask[distributed]", "dask"),
    "matplotlib": ("matplotlib", None),
    "transformers": ("transformers", "torch"),
    "tqdm": ("tqdm", None),
    "qiskit_aer": ("qiskit-aer", None),
    "qiskit_optimization": ("qiskit-optimization", None),
    "dwave": ("dwave-ocean-sdk", None),
    "minorminer": ("minorminer", None),
}


def optional_import(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with the pip command.

    >>> optional_import("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        requirement, extra = _HINTS.get(top, (top, None))
        fix = f"pip install '{requirement}'"
        if extra:
            fix += f" (or pip install 'qama-compile[{extra}]')"
        what = f" (needed for {purpose})" if purpose else ""
        raise MissingDependencyError(
            f"optional dependency '{top}' is not installed{what}", fix=fix, package=top
        ) from exc


def has_module(module: str) -> bool:
    """Whether ``module`` can be imported (without raising)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True

"""The backend registry: names -> ``dimod.Sampler`` factories, extensible by entry points.

Third parties register a backend in their own ``pyproject.toml``::

    [project.entry-points."qama_compile.backends"]
    mysampler = "my_package.module:MySampler"

>>> "exact" in available_backends()
True
>>> get_backend("exact").properties["max_variables"] >= 20
True
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any

import dimod

from ..errors import BackendError, InvalidInputError, MissingDependencyError, QamaError, UnknownNameError

ENTRY_POINT_GROUP = "qama_compile.backends"

#: Built-in backends, so a source checkout works without an installed distribution.
_BUILTIN: dict[str, str] = {
    "exact": "qama_backends.exact:ExactSampler",
    "cim": "qama_backends.cim:CIMSampler",
    "sa": "qama_backends.dwave_samplers:SASampler",
    "tabu": "qama_backends.dwave_samplers:TabuSampler",
    "steepest": "qama_backends.dwave_samplers:SteepestDescentSampler",
    "qaoa": "qama_backends.qaoa:QAOASampler",
    "dwave": "qama_backends.dwave_qpu:DWaveBackend",
}


#: Modules whose pip distribution name differs from the module name.
_PIP_NAMES: dict[str, str] = {
    "dwave.samplers": "dwave-samplers",
    "dwave.system": "dwave-system",
    "dwave": "dwave-ocean-sdk",
    "qiskit_aer": "qiskit-aer",
    "qiskit_optimization": "qiskit-optimization",
}


def _entry_points() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**_BUILTIN, **found}


def available_backends() -> list[str]:
    """Names of all registered backends (built-in and from entry points), sorted."""
    return sorted(_entry_points())


def backend_class(name: str) -> type[dimod.Sampler]:
    """The sampler class registered under ``name``."""
    targets = _entry_points()
    if name not in targets:
        raise UnknownNameError(
            f"unknown backend {name!r}; known backends: {', '.join(sorted(targets))}",
            fix="pick one of the known backends or install the package that provides it",
            name=name,
            known=sorted(targets),
        )
    module_name, _, attr = targets[name].partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except QamaError:
        raise
    except (ImportError, AttributeError) as exc:
        missing = exc.name if isinstance(exc, ImportError) else None
        if missing and not missing.startswith(("qama_backends", "qama_compile")):  # a third-party package
            top = missing.split(".")[0]
            requirement = _PIP_NAMES.get(missing, _PIP_NAMES.get(top, top.replace("_", "-")))
            raise MissingDependencyError(
                f"backend {name!r} needs the Python package '{requirement}' (module {missing!r} is not installed)",
                fix=f"pip install '{requirement}'",
                package=requirement,
                backend=name,
            ) from exc
        raise BackendError(
            f"backend {name!r} ({targets[name]}) cannot be loaded: {exc}",
            fix="reinstall qama-compile, or the package providing this backend",
            backend=name,
        ) from exc
    return obj  # type: ignore[no-any-return]


def get_backend(name: str, **options: Any) -> dimod.Sampler:
    """Instantiate the backend ``name`` (a ``dimod.Sampler``) with constructor ``options``."""
    cls = backend_class(name)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no introspectable signature: let the constructor decide
        signature = None
    if signature is not None:
        try:
            signature.bind(**options)
        except TypeError as exc:
            accepted = [p.name for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
            raise InvalidInputError(
                f"backend {name!r} does not take the option(s) {', '.join(sorted(options))} ({exc})",
                fix=f"its constructor options are: {', '.join(accepted) or '(none)'}",
                backend=name,
                options=sorted(options),
            ) from None
    return cls(**options)

"""The backend registry: names -> sampler classes, extensible by entry points.

The built-in backends are listed here by module path (they load on first use, so a missing
optional dependency only matters to the backend that needs it). Third parties register a
backend in their own ``pyproject.toml``::

    [project.entry-points."qama_compile.backends"]
    mysampler = "my_package.module:MySampler"

A loaded object must be a sampler: a ``dimod.Sampler`` or any class with a ``sample``
method (dimod's contract) or a ``sample_ir`` method (the batched
:class:`~qama_compile.runtime.sampling.BatchSampler` protocol); anything else is refused
with a :class:`~qama_compile.errors.BackendError`. An entry point that uses a built-in's
name is ignored with a warning: built-ins cannot be replaced by installing a package.
Check a third-party backend with :mod:`qama_compile.testing`.

>>> "exact" in available_backends()
True
>>> get_backend("exact").properties["max_variables"] >= 20
True
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ..errors import BackendError, InvalidInputError, MissingDependencyError, QamaError, UnknownNameError
from ..targets.registry import get_target

__all__ = [
    "BUILTIN_BACKENDS",
    "ENTRY_POINT_GROUP",
    "as_sampler",
    "available_backends",
    "backend_class",
    "get_backend",
]

ENTRY_POINT_GROUP = "qama_compile.backends"

#: The shipped backends (package ``qama_backends``), by name.
BUILTIN_BACKENDS: dict[str, str] = {
    "exact": "qama_backends.exact:ExactSampler",
    "cim": "qama_backends.cim:CIMSampler",
    "sa": "qama_backends.dwave_samplers:SASampler",
    "tabu": "qama_backends.dwave_samplers:TabuSampler",
    "steepest": "qama_backends.dwave_samplers:SteepestDescentSampler",
    "qaoa": "qama_backends.qaoa:QAOASampler",
    "dwave": "qama_backends.dwave_qpu:DWaveBackend",
    "hybrid": "qama_backends.dwave_hybrid:LeapHybridBackend",
}

#: Modules whose pip distribution name differs from the module name.
_PIP_NAMES: dict[str, str] = {
    "dwave.samplers": "dwave-samplers",
    "dwave.system": "dwave-system",
    "dwave": "dwave-ocean-sdk",
    "qiskit_aer": "qiskit-aer",
    "qiskit_optimization": "qiskit-optimization",
}


def _registered() -> dict[str, str]:
    """Built-ins plus entry points; an entry point may not shadow a built-in (warned, ignored)."""
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN_BACKENDS:
            if ep.value != BUILTIN_BACKENDS[ep.name]:
                warnings.warn(
                    f"entry point {ep.name!r} = {ep.value!r} uses the name of a built-in backend and is ignored; "
                    f"register it under another name",
                    RuntimeWarning,
                    stacklevel=3,
                )
            continue
        found[ep.name] = ep.value
    return {**BUILTIN_BACKENDS, **found}


def available_backends() -> list[str]:
    """Names of all registered backends (built-in and from entry points), sorted."""
    return sorted(_registered())


def is_sampler_class(obj: Any) -> bool:
    """Whether ``obj`` is a class whose instances can sample (``sample`` or ``sample_ir``)."""
    return inspect.isclass(obj) and (
        callable(getattr(obj, "sample", None)) or callable(getattr(obj, "sample_ir", None))
    )


def backend_class(name: str) -> type[Any]:
    """The sampler class registered under ``name``."""
    table = _registered()
    if name not in table:
        raise UnknownNameError(
            f"unknown backend {name!r}; known backends: {', '.join(sorted(table))}",
            fix="pick one of the known backends or install the package that provides it",
            name=name,
            known=sorted(table),
        )
    module_name, _, attr = table[name].partition(":")
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
            f"backend {name!r} ({table[name]}) cannot be loaded: {exc}",
            fix="reinstall qama-compile, or the package providing this backend",
            backend=name,
        ) from exc
    if not is_sampler_class(obj):
        raise BackendError(
            f"backend {name!r} ({table[name]}) is a {type(obj).__name__}, not a sampler class",
            fix="register a dimod.Sampler subclass (or a class with sample_ir); check it with qama_compile.testing",
            backend=name,
        )
    return obj  # type: ignore[no-any-return]


def get_backend(name: str, **options: Any) -> Any:
    """Instantiate the backend ``name`` with constructor ``options``.

    A ``device`` option given as a string names a target (``"ibm-heron"``): it is resolved
    here to that :class:`~qama_compile.targets.Target`, whose ``device()`` the backend uses.
    """
    cls = backend_class(name)
    if isinstance(options.get("device"), str):
        options = {**options, "device": get_target(options["device"])}
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


def as_sampler(backend: Any, options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(sampler, name)`` for a backend name (built with ``options``) or a sampler object.

    >>> sampler, name = as_sampler("exact", {"max_variables": 12})
    >>> name, sampler.max_variables
    ('exact', 12)
    """
    if isinstance(backend, str):
        return get_backend(backend, **dict(options or {})), backend
    if options:
        raise InvalidInputError(
            "backend_options only apply to a backend given by name", fix="configure the sampler object yourself"
        )
    if not (callable(getattr(backend, "sample", None)) or callable(getattr(backend, "sample_ir", None))):
        raise InvalidInputError(
            f"backend must be a backend name or a sampler (dimod.Sampler or sample_ir), got {type(backend).__name__}",
            fix="pass e.g. backend='exact' (see qama_compile.available_backends())",
        )
    return backend, type(backend).__name__

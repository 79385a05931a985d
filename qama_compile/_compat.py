"""Old module paths (qama-compile 0.1) that moved in the layered layout, kept importable.

``import qama_compile.lowering`` still works: it warns (``DeprecationWarning``) and returns
:mod:`qama_compile.core.lowering`. The table is the whole mechanism; nothing else in the
package imports through it.

>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", DeprecationWarning)
...     import qama_compile.lowering as old
>>> old.__name__
'qama_compile.core.lowering'
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module path -> its home since the layered layout (docs/architecture.md)
MOVED: dict[str, str] = {
    "qama_compile._optional": "qama_compile.base.optional",
    "qama_compile.atomic": "qama_compile.base.atomic",
    "qama_compile.hamiltonian": "qama_compile.core.hamiltonian",
    "qama_compile.lowering": "qama_compile.core.lowering",
    "qama_compile.problem": "qama_compile.core.problem",
    "qama_compile.convert": "qama_compile.core.convert",
    "qama_compile.inspect": "qama_compile.core.summary",
    "qama_compile.registry": "qama_compile.runtime.registry",
    "qama_compile.solver": "qama_compile.runtime.solve",
    "qama_compile.distributed": "qama_compile.runtime.many",
    "qama_compile.compare": "qama_compile.tools.compare",
    "qama_compile.target_inspect": "qama_compile.tools.target_report",
    "qama_compile.demo": "qama_compile.tools.demo",
    "qama_compile.plotting": "qama_compile.tools.plotting",
    "qama_compile.report": "qama_compile.tools.tables",
    "qama_compile.nn_energy": "qama_compile.nn.functional",
    "qama_compile.passes.export": "qama_compile.formats.physical",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path to the module at its new home (the same module object)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there", DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already executed."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (called by ``qama_compile/__init__``)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
